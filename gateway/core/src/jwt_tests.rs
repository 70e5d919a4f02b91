use super::*;
use crate::fakes::{sample_tenant, MemoryKv};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

pub(crate) const PEM_A: &str = include_str!("../tests/rsa_a.pem");
pub(crate) const PEM_B: &str = include_str!("../tests/rsa_b.pem");
pub(crate) const JWKS_A: &str = include_str!("../tests/jwks_a.json");
pub(crate) const JWKS_B: &str = include_str!("../tests/jwks_b.json");
pub(crate) const ISS: &str = "https://idp.example";
pub(crate) const AUD: &str = "tenantgate";
pub(crate) const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

pub(crate) fn verifier() -> JwtVerifier {
    JwtVerifier::new([IssuerConfig::from_jwks(ISS, &[AUD], JWKS_A).unwrap()])
}

pub(crate) fn claims_for(org: &str) -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "9b2f3c1e-1111-4222-8333-444455556666",
        "exp": NOW.as_secs() + 600, "nbf": NOW.as_secs() - 10,
        "org_id": org, "roles": ["member", "Bad Role"], "perms": "tasks.read, tasks.write",
    })
}

pub(crate) fn sign_with(pem: &str, header: Header, claims: &Value) -> String {
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

pub(crate) fn rs256(claims: &Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("key-a".into());
    sign_with(PEM_A, h, claims)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn acme() -> String {
    sample_tenant("acme").id.to_string()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[test]
fn a_valid_token_yields_its_claims() {
    let t = verifier()
        .verify_uncached(&rs256(&claims_for(&acme())), NOW)
        .unwrap();
    assert_eq!(t.issuer, ISS);
    assert_eq!(
        t.organisation,
        Organisation::Names(TenantRef::Id(sample_tenant("acme").id))
    );
    assert_eq!(t.roles, vec!["member".parse().unwrap()]);
    let perms: Vec<Permission> = vec![
        "tasks.read".parse().unwrap(),
        "tasks.write".parse().unwrap(),
    ];
    assert_eq!(t.permissions, perms);
}

#[test]
fn attacks_are_refused_with_the_exact_error() {
    use TokenError::*;
    let good = claims_for(&acme());
    let header = |f: &dyn Fn(&mut Header)| {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some("key-a".into());
        f(&mut h);
        h
    };
    let unsigned = |h: Value| format!("{}.{}.", b64(&h), b64(&good));
    let signed_raw_header = |h: Value| {
        // Re-sign a hand-made header with key A, so only the header is at fault.
        let message = format!("{}.{}", b64(&h), b64(&good));
        let key = EncodingKey::from_rsa_pem(PEM_A.as_bytes()).unwrap();
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
        format!("{message}.{sig}")
    };
    let hs256_confusion = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("key-a".into());
        encode(&h, &good, &EncodingKey::from_secret(JWKS_A.as_bytes())).unwrap()
    };
    let now = NOW.as_secs();
    let cases: Vec<(&str, String, TokenError)> = vec![
        (
            "expired",
            rs256(&with(good.clone(), "exp", json!(now - 31))),
            TokenExpired,
        ),
        (
            "not yet valid",
            rs256(&with(good.clone(), "nbf", json!(now + 31))),
            TokenNotYetValid,
        ),
        (
            "no exp",
            rs256(&without(good.clone(), "exp")),
            TokenMissingClaim,
        ),
        (
            "wrong aud",
            rs256(&with(good.clone(), "aud", json!("other"))),
            TokenAudience,
        ),
        (
            "no aud",
            rs256(&without(good.clone(), "aud")),
            TokenAudience,
        ),
        (
            "wrong iss",
            rs256(&with(good.clone(), "iss", json!("https://evil"))),
            TokenIssuer,
        ),
        ("no iss", rs256(&without(good.clone(), "iss")), TokenIssuer),
        (
            "forged signature",
            sign_with(PEM_B, header(&|_| {}), &good),
            TokenSignature,
        ),
        (
            "unknown kid",
            sign_with(PEM_B, header(&|h| h.kid = Some("key-b".into())), &good),
            TokenUnknownKey,
        ),
        (
            "no kid",
            sign_with(PEM_A, header(&|h| h.kid = None), &good),
            TokenUnknownKey,
        ),
        (
            "alg none",
            unsigned(json!({"alg": "none", "kid": "key-a"})),
            TokenAlgorithm,
        ),
        (
            "alg None",
            unsigned(json!({"alg": "None", "kid": "key-a"})),
            TokenAlgorithm,
        ),
        (
            "alg HS256 with the public key",
            hs256_confusion,
            TokenAlgorithm,
        ),
        (
            "alg not pinned",
            sign_with(
                PEM_A,
                Header {
                    kid: Some("key-a".into()),
                    ..Header::new(Algorithm::RS384)
                },
                &good,
            ),
            TokenAlgorithm,
        ),
        (
            "jku",
            sign_with(
                PEM_A,
                header(&|h| h.jku = Some("https://evil/jwks".into())),
                &good,
            ),
            TokenHeaderForbidden,
        ),
        (
            "x5u",
            sign_with(
                PEM_A,
                header(&|h| h.x5u = Some("https://evil/cert".into())),
                &good,
            ),
            TokenHeaderForbidden,
        ),
        (
            "jwk",
            signed_raw_header(json!({"alg": "RS256", "kid": "key-a", "jwk": {"kty": "RSA"}})),
            TokenHeaderForbidden,
        ),
        (
            "crit",
            signed_raw_header(json!({"alg": "RS256", "kid": "key-a", "crit": ["exp"]})),
            TokenHeaderForbidden,
        ),
        ("two parts", "a.b".to_owned(), TokenMalformed),
        ("four parts", format!("{}.x", rs256(&good)), TokenMalformed),
        ("not base64", "!!.!!.!!".to_owned(), TokenMalformed),
        ("huge", "a".repeat(MAX_TOKEN_BYTES + 1), TokenMalformed),
    ];
    let v = verifier();
    // Control: the same claims, properly signed, pass.
    assert!(v.verify_uncached(&rs256(&good), NOW).is_ok());
    for (name, token, want) in cases {
        assert_eq!(
            v.verify_uncached(&token, NOW).map(|_| ()),
            Err(want),
            "{name}"
        );
    }
}

#[test]
fn leeway_is_small_and_symmetric() {
    let v = verifier();
    let now = NOW.as_secs();
    let at =
        |exp: u64| v.verify_uncached(&rs256(&with(claims_for(&acme()), "exp", json!(exp))), NOW);
    assert!(at(now - 29).is_ok());
    assert_eq!(at(now - 30).map(|_| ()), Err(TokenError::TokenExpired));
    // nbf: accepted just inside the leeway (30 s ahead of now), refused just outside.
    let not_before =
        |nbf: u64| v.verify_uncached(&rs256(&with(claims_for(&acme()), "nbf", json!(nbf))), NOW);
    assert!(not_before(now + 29).is_ok());
    assert!(not_before(now + 30).is_ok());
    assert_eq!(
        not_before(now + 31).map(|_| ()),
        Err(TokenError::TokenNotYetValid)
    );
}

#[test]
fn azp_is_enforced_when_configured() {
    let issuer = IssuerConfig::from_jwks(ISS, &[AUD], JWKS_A).unwrap();
    let v = JwtVerifier::new([issuer.with_authorized_parties(&["https://app.example"])]);
    let ok = with(claims_for(&acme()), "azp", json!("https://app.example"));
    assert!(v.verify_uncached(&rs256(&ok), NOW).is_ok());
    let bad = with(claims_for(&acme()), "azp", json!("https://evil.example"));
    assert_eq!(
        v.verify_uncached(&rs256(&bad), NOW).map(|_| ()),
        Err(TokenError::TokenAudience)
    );
}

#[test]
fn the_second_verification_comes_from_the_cache() {
    let kv = MemoryKv::default();
    let token = rs256(&claims_for(&acme()));
    let first = verifier().verify(&token, &kv, NOW).unwrap();
    // Same issuer, but without key A: only a cache hit can accept the token now.
    let keyless = JwtVerifier::new([IssuerConfig::from_jwks(ISS, &[AUD], JWKS_B).unwrap()]);
    assert_eq!(
        keyless.verify(&token, &kv, NOW.plus_millis(1_000)),
        Ok(first)
    );
    // Control: another token is not in the cache, so it is verified and refused.
    let other = rs256(&with(claims_for(&acme()), "sub", json!("someone-else")));
    assert_eq!(
        keyless.verify(&other, &kv, NOW).map(|_| ()),
        Err(TokenError::TokenUnknownKey)
    );
    // The cached entry ends at the token's exp.
    let after_exp = NOW.plus_millis(601_000);
    assert!(keyless.verify(&token, &kv, after_exp).is_err());
}

#[test]
fn a_failing_cache_store_still_verifies() {
    let kv = MemoryKv::default();
    kv.set_failing(true);
    let token = rs256(&claims_for(&acme()));
    assert!(verifier().verify(&token, &kv, NOW).is_ok());
    let forged = sign_with(
        PEM_B,
        Header {
            kid: Some("key-a".into()),
            ..Header::new(Algorithm::RS256)
        },
        &claims_for(&acme()),
    );
    assert_eq!(
        verifier().verify(&forged, &kv, NOW).map(|_| ()),
        Err(TokenError::TokenSignature)
    );
}

#[test]
fn issuer_configuration_is_validated() {
    let jwks = |key: Value| json!({ "keys": [key] }).to_string();
    let a: Value = serde_json::from_str(JWKS_A).unwrap();
    let key_a = a["keys"][0].clone();
    assert!(IssuerConfig::from_jwks(ISS, &[AUD], &jwks(key_a.clone())).is_ok());
    let cases = [
        (
            jwks(without(key_a.clone(), "kid")),
            JwtConfigError::KeyIdentity(0),
        ),
        (
            jwks(without(key_a.clone(), "alg")),
            JwtConfigError::KeyIdentity(0),
        ),
        (
            jwks(with(key_a.clone(), "alg", json!("HS256"))),
            JwtConfigError::KeyAlgorithm(0),
        ),
        (
            jwks(with(key_a.clone(), "alg", json!("ES256"))),
            JwtConfigError::KeyAlgorithm(0),
        ),
        (
            jwks(with(key_a.clone(), "use", json!("enc"))),
            JwtConfigError::KeyAlgorithm(0),
        ),
        (
            jwks(with(key_a.clone(), "n", json!(7))),
            JwtConfigError::KeyMaterial(0),
        ),
        (
            json!({ "keys": [key_a.clone(), key_a.clone()] }).to_string(),
            JwtConfigError::KeyIdentity(1),
        ),
        (
            json!({ "keys": [] }).to_string(),
            JwtConfigError::Incomplete,
        ),
        ("[]".to_owned(), JwtConfigError::JwksShape),
    ];
    for (doc, want) in cases {
        assert_eq!(
            IssuerConfig::from_jwks(ISS, &[AUD], &doc).map(|_| ()),
            Err(want.clone()),
            "{want}"
        );
    }
    assert_eq!(
        IssuerConfig::from_jwks(ISS, &[], JWKS_A).map(|_| ()),
        Err(JwtConfigError::Incomplete)
    );
}

#[test]
fn org_claims_follow_the_configured_path_and_kind() {
    let issuer = IssuerConfig::from_jwks(ISS, &[AUD], JWKS_A)
        .unwrap()
        .with_org_claim(OrgClaim::TenantSlug(ClaimPath::new("o.slg")));
    let v = JwtVerifier::new([issuer]);
    let nested = with(claims_for("ignored"), "o", json!({"slg": "acme"}));
    let t = v.verify_uncached(&rs256(&nested), NOW).unwrap();
    assert_eq!(
        t.organisation,
        Organisation::Names(TenantRef::Slug("acme".parse().unwrap()))
    );
    let bad = with(claims_for("ignored"), "o", json!({"slg": "Not A Slug"}));
    assert_eq!(
        v.verify_uncached(&rs256(&bad), NOW).unwrap().organisation,
        Organisation::Unrecognised
    );
    let none = without(claims_for("x"), "o");
    assert_eq!(
        v.verify_uncached(&rs256(&none), NOW).unwrap().organisation,
        Organisation::None
    );
}
