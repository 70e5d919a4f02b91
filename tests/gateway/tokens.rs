//! Bearer tokens through the real component: on the apex a verified token's organisation
//! names the tenant; on a tenant's host a token for another tenant is refused; a token's
//! permissions reach the backend; bad tokens are 401.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tenantgate_tests::workspace_root;

use crate::app::*;

const ISS: &str = "https://idp.example";

fn keys_dir() -> std::path::PathBuf {
    workspace_root().join("gateway/core/tests")
}

pub(crate) fn issuers() -> String {
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(keys_dir().join("jwks_a.json")).unwrap())
            .unwrap();
    json!([
        { "issuer": ISS, "audiences": ["tenantgate"], "jwks": jwks, "org_claim": "org_id" },
        { "issuer": PLATFORM_ISS, "audiences": ["tenantgate"], "jwks": jwks,
          "platform_roles_claim": "platform_roles" },
    ])
    .to_string()
}

/// The platform's own issuer (trusted for platform roles), with the same test keys.
pub(crate) const PLATFORM_ISS: &str = "https://platform.example";

/// A platform token for `sub` with these platform roles, signed with key `a`.
pub(crate) fn platform_token(sub: &str, platform_roles: &[&str]) -> String {
    token(
        "a",
        json!({ "iss": PLATFORM_ISS, "sub": sub, "email": format!("{sub}@platform.example"),
                "platform_roles": platform_roles, "perms": [] }),
    )
}

fn now() -> i64 {
    tenantgate_tests::dataplane::unix_now()
}

/// An RS256 token signed with key `a` (trusted) or `b` (not), with `claims` over defaults.
pub(crate) fn token(key: &str, claims: Value) -> String {
    let mut all = json!({
        "iss": ISS, "aud": "tenantgate", "sub": "user-1", "exp": now() + 300, "nbf": now() - 5,
        "perms": ["tasks.read"],
    });
    for (k, v) in claims.as_object().unwrap() {
        all[k] = v.clone();
    }
    let pem = std::fs::read(keys_dir().join(format!("rsa_{key}.pem"))).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(format!("key-{key}"));
    encode(&header, &all, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[tokio::test]
async fn tokens_name_the_tenant_on_the_apex_and_must_match_it_elsewhere() {
    let issuers = issuers();
    let app = App::start_with(&[("SPIN_VARIABLE_JWT_ISSUERS", &issuers)]).await;
    let acme = bearer(&token("a", json!({ "org_id": ACME })));
    let globex = bearer(&token("a", json!({ "org_id": GLOBEX })));

    // The apex: the organisation claim picks the tenant.
    let (s, v) = app
        .get("localhost:3000", "/api/tasks", &[("authorization", &acme)])
        .await;
    assert_eq!((s, titles(&v).len()), (200, 2), "{v}");
    let (s, v) = app
        .get(
            "localhost:3000",
            "/api/tasks",
            &[("authorization", &globex)],
        )
        .await;
    assert_eq!(
        (s, titles(&v)),
        (200, vec!["globex: hire engineers".to_owned()]),
        "{v}"
    );
    let (s, v) = app.get("localhost:3000", "/api/tasks", &[]).await;
    assert_eq!((s, code(&v)), (401, "unauthenticated".to_owned()));

    // A tenant's host: its own token passes, another tenant's is refused.
    let (s, _) = app
        .get(
            "acme.localhost:3000",
            "/api/tasks",
            &[("authorization", &acme)],
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = app
        .get(
            "acme.localhost:3000",
            "/api/tasks",
            &[("authorization", &globex)],
        )
        .await;
    assert_eq!((s, code(&v)), (421, "tenant_mismatch".to_owned()), "{v}");
    let (s, v) = app
        .get(
            "portal.acme.test",
            "/api/tasks",
            &[("authorization", &globex)],
        )
        .await;
    assert_eq!((s, code(&v)), (421, "tenant_mismatch".to_owned()), "{v}");

    // Tokens that must not pass: untrusted key, expired, wrong audience, wrong issuer.
    for (what, bad) in [
        ("untrusted key", token("b", json!({ "org_id": ACME }))),
        (
            "expired",
            token("a", json!({ "org_id": ACME, "exp": now() - 120 })),
        ),
        (
            "audience",
            token("a", json!({ "org_id": ACME, "aud": "someone-else" })),
        ),
        (
            "issuer",
            token(
                "a",
                json!({ "org_id": ACME, "iss": "https://evil.example" }),
            ),
        ),
    ] {
        for host in ["localhost:3000", "acme.localhost:3000"] {
            let (s, v) = app
                .get(host, "/api/tasks", &[("authorization", &bearer(&bad))])
                .await;
            assert_eq!(
                (s, code(&v)),
                (401, "invalid_token".to_owned()),
                "{what} on {host}: {v}"
            );
        }
    }
}

#[tokio::test]
async fn a_tokens_permissions_reach_the_backend() {
    let issuers = issuers();
    let app = App::start_with(&[("SPIN_VARIABLE_JWT_ISSUERS", &issuers)]).await;
    let writer = bearer(&token(
        "a",
        json!({ "org_id": ACME, "perms": ["tasks.read", "tasks.write"] }),
    ));
    let reader = bearer(&token("a", json!({ "org_id": ACME })));
    let body = || Some(br#"{"name":"Token project"}"#.to_vec());
    let (s, v) = app
        .request(
            "POST",
            "acme.localhost:3000",
            "/api/projects",
            &[("authorization", &reader)],
            body(),
        )
        .await;
    assert_eq!((s, code(&v)), (403, "forbidden".to_owned()), "{v}");
    let (s, v) = app
        .request(
            "POST",
            "acme.localhost:3000",
            "/api/projects",
            &[("authorization", &writer)],
            body(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        app.pg.psql(
            "postgres",
            "SELECT tenant_id FROM app.projects WHERE name = 'Token project'"
        ),
        ACME
    );
}
