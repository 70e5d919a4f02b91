//! Self-tests of the OIDC IdP and of [`OidcIdp::login`]: a full code flow by hand (PKCE S256,
//! state, nonce), the code exchanged at the token endpoint and the ID token verified against the
//! IdP's JWKS; then what the IdP refuses, each beside an allowed control.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Url;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;

const REDIRECT: &str = "http://acme.localhost:1/cb";

fn random_b64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom");
    B64.encode(bytes)
}

/// One authorisation request: its URL and the secrets the relying party keeps.
struct Flow {
    url: String,
    verifier: String,
    state: String,
    nonce: String,
}

impl Flow {
    fn new(discovery: &Value, client_id: &str, pkce: bool) -> Flow {
        let verifier = random_b64(32);
        let (state, nonce) = (random_b64(16), random_b64(16));
        let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email profile"),
            ("state", &state),
            ("nonce", &nonce),
        ];
        if pkce {
            params.extend([
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ]);
        }
        let endpoint = discovery["authorization_endpoint"]
            .as_str()
            .expect("authorization_endpoint");
        let url = Url::parse_with_params(endpoint, &params)
            .expect("authorize URL")
            .into();
        Flow {
            url,
            verifier,
            state,
            nonce,
        }
    }
}

fn query(location: &str) -> std::collections::HashMap<String, String> {
    Url::parse(location)
        .expect("Location is a URL")
        .query_pairs()
        .into_owned()
        .collect()
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url)
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

/// POSTs the code to the token endpoint with client_secret_basic; status and JSON body.
async fn exchange(discovery: &Value, code: &str, verifier: &str, secret: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(
            discovery["token_endpoint"]
                .as_str()
                .expect("token_endpoint"),
        )
        .basic_auth("acme", Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token request");
    (
        response.status().as_u16(),
        response.json().await.expect("token JSON"),
    )
}

fn idp() -> OidcIdp {
    OidcIdp::start(
        &[OidcClient::new("acme", "s3cret", &[REDIRECT])],
        &[
            OidcUser {
                name: "Alice Liddell".into(),
                ..OidcUser::new("alice", "pw-a", "alice@acme.test")
            },
            OidcUser::new("mallory", "pw-m", "mallory@evil.test").unverified(),
        ],
    )
}

#[tokio::test]
async fn idp_code_flow_with_pkce_yields_a_signed_id_token_with_email() {
    let idp = idp();
    let discovery = get_json(&idp.discovery_url()).await;
    assert_eq!(discovery["issuer"], idp.issuer());
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    let flow = Flow::new(&discovery, "acme", true);
    let location = idp.login(&flow.url, "alice", "pw-a").await;
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let q = query(&location);
    assert_eq!(q["state"], flow.state);
    assert_eq!(q["iss"], idp.issuer(), "RFC 9207 iss");
    let code = &q["code"];

    let (status, tokens) = exchange(&discovery, code, &flow.verifier, "s3cret").await;
    assert_eq!(status, 200, "{tokens}");
    assert!(
        tokens.get("refresh_token").is_none(),
        "refresh tokens are off: {tokens}"
    );
    let id_token = tokens["id_token"].as_str().expect("id_token");

    let jwks: JwkSet =
        serde_json::from_value(get_json(discovery["jwks_uri"].as_str().unwrap()).await).unwrap();
    let kid = jsonwebtoken::decode_header(id_token)
        .unwrap()
        .kid
        .expect("kid");
    let key = DecodingKey::from_jwk(jwks.find(&kid).expect("signing key in JWKS")).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[idp.issuer()]);
    validation.set_audience(&["acme"]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("valid ID token")
        .claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["nonce"], flow.nonce.as_str());
    assert_eq!(claims["email"], "alice@acme.test");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Liddell");

    // The same code a second time is refused.
    let (status, body) = exchange(&discovery, code, &flow.verifier, "s3cret").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn idp_refusals_each_beside_an_allowed_control() {
    let idp = idp();
    let discovery = get_json(&idp.discovery_url()).await;

    // Wrong password: the form comes back with an alert. Control: the right one.
    let flow = Flow::new(&discovery, "acme", true);
    match idp.try_login(&flow.url, "alice", "wrong").await {
        Err(LoginError::Rejected(alert)) => assert_eq!(alert, "Invalid username or password."),
        other => panic!("expected a rejected login, got {other:?}"),
    }
    assert!(query(&idp.login(&flow.url, "alice@acme.test", "pw-a").await).contains_key("code"));

    // No PKCE: the IdP sends the browser back with invalid_request and no code.
    let no_pkce = Flow::new(&discovery, "acme", false);
    let q = query(&idp.login(&no_pkce.url, "alice", "pw-a").await);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("invalid_request"),
        "{q:?}"
    );
    assert!(!q.contains_key("code"));
    assert_eq!(q["iss"], idp.issuer(), "error responses carry iss too");

    // A wrong code_verifier or client secret is refused at the token endpoint; control: right ones.
    let flow = Flow::new(&discovery, "acme", true);
    let code = query(&idp.login(&flow.url, "mallory", "pw-m").await)["code"].clone();
    let (status, body) = exchange(&discovery, &code, &random_b64(32), "s3cret").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let flow = Flow::new(&discovery, "acme", true);
    let code = query(&idp.login(&flow.url, "mallory", "pw-m").await)["code"].clone();
    let (status, body) = exchange(&discovery, &code, &flow.verifier, "not-the-secret").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let flow = Flow::new(&discovery, "acme", true);
    let code = query(&idp.login(&flow.url, "mallory", "pw-m").await)["code"].clone();
    let (status, body) = exchange(&discovery, &code, &flow.verifier, "s3cret").await;
    assert_eq!(status, 200, "{body}");
    // The attack knob: mallory's email is of another domain and unverified, as configured.
    let claims = body["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap();
    assert_eq!(
        (claims["email"].as_str(), claims["email_verified"].as_bool()),
        (Some("mallory@evil.test"), Some(false))
    );
}

#[tokio::test]
async fn idp_response_iss_knob_and_confirm_consent() {
    let options = IdpOptions {
        confirm_consent: true,
        response_iss: ResponseIss::Replace("http://127.0.0.1:9/other".into()),
        ..IdpOptions::default()
    };
    let idp = OidcIdp::start_with(
        &[OidcClient::new("acme", "s3cret", &[REDIRECT])],
        &[OidcUser::new("alice", "pw-a", "alice@acme.test")],
        &options,
    );
    let discovery = get_json(&idp.discovery_url()).await;
    let flow = Flow::new(&discovery, "acme", true);
    let q = query(&idp.login(&flow.url, "alice", "pw-a").await);
    assert!(q.contains_key("code"), "consent confirmed: {q:?}");
    assert_eq!(q["iss"], "http://127.0.0.1:9/other");
    drop(idp);

    let idp = OidcIdp::start_with(
        &[OidcClient::new("acme", "s3cret", &[REDIRECT])],
        &[OidcUser::new("alice", "pw-a", "alice@acme.test")],
        &IdpOptions {
            response_iss: ResponseIss::Omit,
            ..IdpOptions::default()
        },
    );
    let flow = Flow::new(&get_json(&idp.discovery_url()).await, "acme", true);
    let q = query(&idp.login(&flow.url, "alice", "pw-a").await);
    assert!(q.contains_key("code") && !q.contains_key("iss"), "{q:?}");
}
