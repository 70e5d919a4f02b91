use super::*;
use crate::jwt::tests::{sign_with, JWKS_A, PEM_A, PEM_B};
use jsonwebtoken::{Algorithm, Header};
use serde_json::json;

const NOW: UnixMillis = UnixMillis(1_700_000_000_000);
const ISS: &str = "https://idp.acme.test";

fn provider() -> OidcProvider {
    OidcProvider {
        issuer: ISS.into(),
        client_id: "acme-app".into(),
        client_secret: Some("s3cr:t&".into()),
        scopes: "openid email profile".into(),
        authorization_endpoint: format!("{ISS}/authorize"),
        token_endpoint: format!("{ISS}/token"),
        jwks: JWKS_A.into(),
        iss_parameter: true,
    }
}

fn id_token(pem: &str, claims: serde_json::Value) -> Vec<u8> {
    let mut all = json!({
        "iss": ISS, "aud": "acme-app", "sub": "alice", "nonce": "n-1",
        "exp": NOW.as_secs() + 300, "iat": NOW.as_secs(),
        "email": "alice@acme.test", "email_verified": true, "name": "Alice",
    });
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            all.as_object_mut().unwrap().remove(k);
        } else {
            all[k] = v.clone();
        }
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("key-a".into());
    let token = sign_with(pem, header, &all);
    json!({ "access_token": "x", "token_type": "Bearer", "id_token": token })
        .to_string()
        .into_bytes()
}

#[test]
fn the_authorisation_request_carries_pkce_state_nonce_and_the_exact_redirect() {
    let url = authorize_url(
        &provider(),
        "http://acme.localhost:3000/auth/oidc/callback",
        "st",
        "no",
        "verifier",
    );
    assert!(
        url.starts_with("https://idp.acme.test/authorize?response_type=code&client_id=acme-app")
    );
    assert!(
        url.contains("&redirect_uri=http%3A%2F%2Facme.localhost%3A3000%2Fauth%2Foidc%2Fcallback")
    );
    assert!(url.contains("&state=st&nonce=no"));
    // RFC 7636 appendix B's example.
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert!(url.contains(&format!(
        "&code_challenge={}&code_challenge_method=S256",
        pkce_challenge("verifier")
    )));
}

#[test]
fn callbacks_are_parsed_strictly() {
    let (state, cb) = Callback::parse("code=c1&state=s1&iss=https%3A%2F%2Fidp.acme.test").unwrap();
    assert_eq!(state, "s1");
    let cb = cb.unwrap();
    assert_eq!(cb.code, "c1");
    assert!(cb.check_issuer(&provider()).is_ok());
    // Mix-up: another issuer, or none from an IdP that sends it.
    let (_, other) = Callback::parse("code=c&state=s&iss=https%3A%2F%2Fevil.test").unwrap();
    assert_eq!(
        other.unwrap().check_issuer(&provider()),
        Err(SsoError::IssuerMismatch)
    );
    let (_, none) = Callback::parse("code=c&state=s").unwrap();
    let none = none.unwrap();
    assert_eq!(
        none.check_issuer(&provider()),
        Err(SsoError::IssuerMismatch)
    );
    let quiet = OidcProvider {
        iss_parameter: false,
        ..provider()
    };
    assert!(none.check_issuer(&quiet).is_ok());
    // An IdP error still names the state (so the flow is burnt), and is refused.
    let (state, e) = Callback::parse("error=access_denied&state=s9").unwrap();
    assert_eq!((state.as_str(), e), ("s9", Err(SsoError::IdpError)));
    assert_eq!(
        Callback::parse("code=c").unwrap_err(),
        SsoError::StateInvalid
    );
    assert_eq!(
        Callback::parse("code=a&code=b&state=s").unwrap_err(),
        SsoError::Malformed
    );
}

#[test]
fn the_code_exchange_authenticates_the_client_with_basic() {
    let req = token_request(
        &provider(),
        "c1",
        "http://acme.localhost:3000/auth/oidc/callback",
        "v",
    );
    assert_eq!(req.url, "https://idp.acme.test/token");
    assert!(req.body.contains("grant_type=authorization_code&code=c1"));
    assert!(req.body.contains("code_verifier=v"));
    let basic = req
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap();
    // "acme-app:s3cr%3At%26", each part form-urlencoded first (RFC 6749 §2.3.1).
    assert_eq!(
        basic.1,
        format!("Basic {}", STANDARD.encode("acme-app:s3cr%3At%26"))
    );
    let public = OidcProvider {
        client_secret: None,
        ..provider()
    };
    let req = token_request(&public, "c1", "r", "v");
    assert!(req.body.contains("client_id=acme-app"));
    assert!(!req.headers.iter().any(|(n, _)| n == "authorization"));
}

#[test]
fn a_good_id_token_gives_the_login() {
    let login = verify_id_token(&provider(), 200, &id_token(PEM_A, json!({})), "n-1", NOW).unwrap();
    assert_eq!(login.subject, "alice");
    assert_eq!(login.email.as_deref(), Some("alice@acme.test"));
    assert!(login.email_verified);
}

#[test]
fn bad_id_tokens_are_refused() {
    let p = provider();
    let check = |body: Vec<u8>| verify_id_token(&p, 200, &body, "n-1", NOW);
    // Signature by another key.
    assert!(matches!(
        check(id_token(PEM_B, json!({}))),
        Err(SsoError::IdToken(_))
    ));
    // Issuer, audience, expiry.
    assert!(matches!(
        check(id_token(PEM_A, json!({"iss": "https://evil.test"}))),
        Err(SsoError::IdToken(_))
    ));
    assert!(matches!(
        check(id_token(PEM_A, json!({"aud": "another-app"}))),
        Err(SsoError::IdToken(_))
    ));
    assert!(matches!(
        check(id_token(PEM_A, json!({"exp": NOW.as_secs() - 3600}))),
        Err(SsoError::IdToken(_))
    ));
    // azp must be us; several audiences need it.
    assert_eq!(
        check(id_token(PEM_A, json!({"azp": "another-app"}))),
        Err(SsoError::Audience)
    );
    assert_eq!(
        check(id_token(PEM_A, json!({"aud": ["acme-app", "x"]}))),
        Err(SsoError::Audience)
    );
    assert!(check(id_token(
        PEM_A,
        json!({"aud": ["acme-app", "x"], "azp": "acme-app"})
    ))
    .is_ok());
    // Nonce: another flow's, or none.
    assert_eq!(
        check(id_token(PEM_A, json!({"nonce": "n-2"}))),
        Err(SsoError::Nonce)
    );
    assert_eq!(
        check(id_token(PEM_A, json!({"nonce": null}))),
        Err(SsoError::Nonce)
    );
    // An unverified email is reported as such.
    let login = check(id_token(PEM_A, json!({"email_verified": false}))).unwrap();
    assert!(!login.email_verified);
    let login = check(id_token(PEM_A, json!({"email_verified": null}))).unwrap();
    assert!(!login.email_verified);
    // The token endpoint's refusal and garbage.
    assert_eq!(
        verify_id_token(&p, 400, b"{}", "n-1", NOW),
        Err(SsoError::TokenExchange)
    );
    assert_eq!(
        verify_id_token(&p, 200, b"not json", "n-1", NOW),
        Err(SsoError::TokenExchange)
    );
    assert_eq!(
        verify_id_token(&p, 200, b"{\"access_token\":\"x\"}", "n-1", NOW),
        Err(SsoError::TokenExchange)
    );
    // Unusable stored keys fail closed.
    let broken = OidcProvider {
        jwks: "{}".into(),
        ..provider()
    };
    assert_eq!(
        verify_id_token(&broken, 200, &id_token(PEM_A, json!({})), "n-1", NOW),
        Err(SsoError::KeysUnusable)
    );
}
