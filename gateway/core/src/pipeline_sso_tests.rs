//! The pipeline with sessions: cookies checked against the tenant, CSRF, enforced SSO,
//! browser navigations sent to the login page, `/auth/` routes handed to the component.

use super::*;
use crate::fakes::{sample_tenant, MemoryCounters, MemoryDirectory, MemoryKv};
use crate::jwt::tests::{claims_for, rs256, verifier};
use crate::jwt::JwtVerifier;
use crate::sso::session::{SessionKey, SessionRow};
use crate::sso::SsoMode;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const SKEY: &[u8] = b"session-key-session-key-32-bytes";
const NOW: UnixMillis = UnixMillis(1_700_000_000_000);
const ORIGIN: &str = "http://acme.app.example:3000";

fn config() -> GatewayConfig {
    GatewayConfig {
        host: HostConfig::with_ports(&[3000]),
        resolver: ResolverConfig::new("app.example".parse().unwrap()),
        tenant_cache: crate::cache::TenantCacheConfig::default(),
        routes: RouteTable::parse("/api/tasks=tasks").unwrap(),
        limits: crate::headers::Limits {
            max_header_bytes: 8 * 1024,
            max_body_bytes: 1024,
        },
        context: ContextSigner::new("k1", KEY).unwrap(),
        anonymous_permissions: Vec::new(),
        rate_limits: crate::ratelimit::RateLimitConfig::default(),
        sessions: session::SessionConfig {
            key: SessionKey::new(SKEY),
            ..Default::default()
        },
    }
}

type TestPorts = Ports<MemoryDirectory, MemoryKv, MemoryCounters, JwtVerifier>;

fn sid() -> uuid::Uuid {
    uuid::Uuid::from_bytes([5; 16])
}

fn ports(mode: SsoMode) -> TestPorts {
    let directory = MemoryDirectory::default();
    let mut acme = sample_tenant("acme");
    acme.sso = mode;
    directory.upsert(acme.clone());
    directory.upsert(sample_tenant("globex"));
    directory.set_session(
        sid(),
        Some(SessionRow {
            tenant: acme.id,
            user_id: uuid::Uuid::from_bytes([6; 16]),
            role: "member".into(),
            permissions: vec!["tasks.read".into(), "tasks.write".into()],
            expires_in: 3600,
        }),
    );
    Ports {
        directory,
        cache: MemoryKv::default(),
        counters: MemoryCounters::default(),
        keys: verifier(),
    }
}

fn cookie(tenant: &str) -> String {
    let key = SessionKey::new(SKEY).unwrap();
    format!(
        "tg_session={}",
        key.issue(sid(), &sample_tenant(tenant).id, NOW.as_secs() + 1800)
    )
}

fn req(method: &str, host: &str, path: &str, extra: &[(&str, &str)]) -> RequestParts {
    let mut headers = vec![("host".to_owned(), host.as_bytes().to_vec())];
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())),
    );
    RequestParts {
        method: method.into(),
        target: path.into(),
        headers,
    }
}

fn decide(r: &RequestParts, p: &TestPorts) -> Decision {
    handle(r, &config(), p, NOW, &"req-1".parse().unwrap())
}

fn refusal(d: Decision) -> (u16, String) {
    match d {
        Decision::Respond(r) => {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            (
                r.status,
                body["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        }
        Decision::Forward(_) => (200, String::new()),
        Decision::Auth(a) => (0, format!("{:?}", a.route)),
    }
}

#[test]
fn a_session_carries_the_member_into_the_context() {
    let p = ports(SsoMode::Sso);
    let c = cookie("acme");
    let Decision::Forward(f) = decide(
        &req(
            "GET",
            "acme.app.example:3000",
            "/api/tasks",
            &[("cookie", &c)],
        ),
        &p,
    ) else {
        panic!("not forwarded")
    };
    let claims = crate::context::decode_unverified(f.context().as_str()).unwrap();
    assert_eq!(claims.uid, Some(uuid::Uuid::from_bytes([6; 16])));
    assert!(claims.perms.iter().any(|x| x.as_str() == "tasks.write"));
}

#[test]
fn another_tenants_or_a_forged_cookie_is_refused_and_cleared() {
    let p = ports(SsoMode::Sso);
    let c = cookie("acme");
    let d = decide(
        &req(
            "GET",
            "globex.app.example:3000",
            "/api/tasks",
            &[("cookie", &c)],
        ),
        &p,
    );
    let Decision::Respond(r) = d else { panic!() };
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let forged = "tg_session=s1.05050505050505050505050505050505.x.1.AAAA";
    assert_eq!(
        refusal(decide(
            &req(
                "GET",
                "acme.app.example:3000",
                "/api/tasks",
                &[("cookie", forged)]
            ),
            &p
        )),
        (401, "session_invalid".into())
    );
    // A navigation goes to the login page instead.
    let d = decide(
        &req(
            "GET",
            "acme.app.example:3000",
            "/api/tasks",
            &[("cookie", forged), ("sec-fetch-mode", "navigate")],
        ),
        &p,
    );
    let Decision::Respond(r) = d else { panic!() };
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/auth/login?return_to=%2Fapi%2Ftasks")
    );
}

#[test]
fn session_writes_need_this_origin() {
    let p = ports(SsoMode::Sso);
    let c = cookie("acme");
    let post = |extra: &[(&str, &str)]| {
        let mut h = vec![("cookie", c.as_str())];
        h.extend_from_slice(extra);
        refusal(decide(
            &req("POST", "acme.app.example:3000", "/api/tasks", &h),
            &p,
        ))
    };
    assert_eq!(
        post(&[("origin", "http://evil.example")]),
        (403, "csrf_failed".into())
    );
    assert_eq!(post(&[]), (403, "csrf_failed".into()));
    assert_eq!(post(&[("origin", ORIGIN)]).0, 200);
    assert_eq!(post(&[("sec-fetch-site", "same-origin")]).0, 200);
    // A bearer token is not a cookie: no CSRF check.
    let bearer = format!(
        "Bearer {}",
        rs256(&claims_for(&sample_tenant("acme").id.to_string()))
    );
    assert_eq!(
        refusal(decide(
            &req(
                "POST",
                "acme.app.example:3000",
                "/api/tasks",
                &[("authorization", &bearer)]
            ),
            &p
        ))
        .0,
        200
    );
}

#[test]
fn enforced_sso_refuses_bearer_tokens_only() {
    let p = ports(SsoMode::Enforced);
    let bearer = format!(
        "Bearer {}",
        rs256(&claims_for(&sample_tenant("acme").id.to_string()))
    );
    assert_eq!(
        refusal(decide(
            &req(
                "GET",
                "acme.app.example:3000",
                "/api/tasks",
                &[("authorization", &bearer)]
            ),
            &p
        )),
        (403, "sso_required".into())
    );
    assert_eq!(
        refusal(decide(
            &req(
                "GET",
                "app.example:3000",
                "/api/tasks",
                &[("authorization", &bearer)]
            ),
            &p
        )),
        (403, "sso_required".into())
    );
    let c = cookie("acme");
    assert_eq!(
        refusal(decide(
            &req(
                "GET",
                "acme.app.example:3000",
                "/api/tasks",
                &[("cookie", &c)]
            ),
            &p
        ))
        .0,
        200
    );
    // The control: not enforced, the token works.
    let p = ports(SsoMode::Sso);
    assert_eq!(
        refusal(decide(
            &req(
                "GET",
                "acme.app.example:3000",
                "/api/tasks",
                &[("authorization", &bearer)]
            ),
            &p
        ))
        .0,
        200
    );
}

#[test]
fn auth_routes_go_to_the_component_with_the_origin() {
    let p = ports(SsoMode::Sso);
    match decide(
        &req(
            "GET",
            "acme.app.example:3000",
            "/auth/sso?return_to=/x",
            &[],
        ),
        &p,
    ) {
        Decision::Auth(a) => {
            assert_eq!(a.route, crate::sso::AuthRoute::Start);
            assert_eq!(a.origin, ORIGIN);
            assert_eq!(a.query, "return_to=/x");
            assert_eq!(
                a.oidc_redirect_uri(),
                "http://acme.app.example:3000/auth/oidc/callback"
            );
        }
        other => panic!("{other:?}"),
    }
    // The apex has no /auth/ of its own: it is routed like any path.
    assert_eq!(
        refusal(decide(
            &req("GET", "app.example:3000", "/auth/sso", &[]),
            &p
        ))
        .0,
        401
    );
}

#[test]
fn anonymous_navigations_carry_the_login_redirect_only_with_sso() {
    let nav = req(
        "GET",
        "acme.app.example:3000",
        "/api/tasks?a=1",
        &[("accept", "text/html")],
    );
    let Decision::Forward(f) = decide(&nav, &ports(SsoMode::Sso)) else {
        panic!()
    };
    assert_eq!(
        f.login_redirect(),
        Some("/auth/login?return_to=%2Fapi%2Ftasks%3Fa%3D1")
    );
    let Decision::Forward(f) = decide(&nav, &ports(SsoMode::None)) else {
        panic!()
    };
    assert_eq!(f.login_redirect(), None);
    let api = req(
        "GET",
        "acme.app.example:3000",
        "/api/tasks",
        &[("accept", "application/json")],
    );
    let Decision::Forward(f) = decide(&api, &ports(SsoMode::Sso)) else {
        panic!()
    };
    assert_eq!(f.login_redirect(), None);
}

#[test]
fn over_tls_only_the_host_prefixed_cookie_is_a_session() {
    let p = ports(SsoMode::Sso);
    let value = cookie("acme");
    let https = |c: &str| RequestParts {
        method: "GET".into(),
        target: "https://acme.app.example/api/tasks".into(),
        headers: vec![
            ("host".to_owned(), b"acme.app.example".to_vec()),
            ("cookie".to_owned(), c.as_bytes().to_vec()),
        ],
    };
    // A plain-named cookie (which a sibling subdomain could have set for the apex): anonymous.
    let Decision::Forward(f) = decide(&https(&value), &p) else {
        panic!()
    };
    let claims = crate::context::decode_unverified(f.context().as_str()).unwrap();
    assert_eq!(claims.uid, None);
    // The __Host- cookie is the session.
    let host_cookie = value.replacen("tg_session=", "__Host-tg_session=", 1);
    let Decision::Forward(f) = decide(&https(&host_cookie), &p) else {
        panic!()
    };
    let claims = crate::context::decode_unverified(f.context().as_str()).unwrap();
    assert_eq!(claims.uid, Some(uuid::Uuid::from_bytes([6; 16])));
}
