use super::*;
use crate::context::{decode_unverified, verify};
use crate::fakes::{sample_tenant, MemoryCounters, MemoryDirectory, MemoryKv};
use crate::jwt::tests::{claims_for, rs256, verifier, NOW};
use crate::jwt::JwtVerifier;
use crate::tenant::{Placement, TenantStatus};
use serde_json::json;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn config() -> GatewayConfig {
    GatewayConfig {
        sessions: Default::default(),
        host: HostConfig::with_ports(&[3000]),
        resolver: ResolverConfig::new("app.example".parse().unwrap()),
        tenant_cache: TenantCacheConfig::default(),
        routes: RouteTable::parse("/api/tasks=tasks,/api/projects=tasks").unwrap(),
        limits: crate::headers::Limits {
            max_header_bytes: 8 * 1024,
            max_body_bytes: 1024,
        },
        context: ContextSigner::new("k1", KEY).unwrap(),
        anonymous_permissions: Vec::new(),
        rate_limits: crate::ratelimit::RateLimitConfig::default(),
    }
}

type TestPorts = Ports<MemoryDirectory, MemoryKv, MemoryCounters, JwtVerifier>;

fn ports() -> TestPorts {
    let directory = MemoryDirectory::default();
    directory.upsert(sample_tenant("acme"));
    let mut globex = sample_tenant("globex");
    globex.placement = Placement::Schema {
        database_target: None,
        schema: "tenant_globex".parse().unwrap(),
    };
    directory.upsert(globex);
    let mut sleepy = sample_tenant("sleepy");
    sleepy.status = TenantStatus::Suspended;
    directory.upsert(sleepy);
    let mut gone = sample_tenant("gone");
    gone.status = TenantStatus::Deleted;
    directory.upsert(gone);
    directory.add_domain("portal.acme.com".parse().unwrap(), sample_tenant("acme").id);
    Ports {
        directory,
        cache: MemoryKv::default(),
        counters: MemoryCounters::default(),
        keys: verifier(),
    }
}

/// The decision as a result: the forwarding plan, or the refusal's cause (every local
/// answer today is a refusal).
fn handle(
    r: &RequestParts,
    cfg: &GatewayConfig,
    p: &TestPorts,
    now: UnixMillis,
    rid: &RequestId,
) -> Result<Forward, GatewayError> {
    match super::handle(r, cfg, p, now, rid) {
        Decision::Forward(f) => Ok(f),
        Decision::Respond(answer) => Err(answer.cause.expect("a refusal carries its cause")),
        Decision::Auth(a) => panic!("an /auth/ route: {:?}", a.route),
    }
}

fn req(host: &str, path: &str, extra: &[(&str, &str)]) -> RequestParts {
    let mut headers = vec![("Host".to_owned(), host.as_bytes().to_vec())];
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())),
    );
    RequestParts {
        method: "GET".into(),
        target: path.into(),
        headers,
    }
}

fn run(r: &RequestParts, ports: &TestPorts) -> Result<Forward, GatewayError> {
    handle(r, &config(), ports, NOW, &"req-1".parse().unwrap())
}

fn outcome(r: &RequestParts) -> Result<String, &'static str> {
    run(r, &ports())
        .map(|f| {
            decode_unverified(f.context().as_str())
                .unwrap()
                .slug
                .to_string()
        })
        .map_err(|e| e.response().code.as_str())
}

fn bearer(org: &str) -> String {
    format!("Bearer {}", rs256(&claims_for(org)))
}

#[test]
fn requests_are_admitted_or_refused_with_the_exact_code() {
    let acme = sample_tenant("acme").id.to_string();
    let globex = sample_tenant("globex").id.to_string();
    let nobody = uuid::Uuid::nil().to_string();
    let expired = format!(
        "Bearer {}",
        rs256(
            &json!({"iss": crate::jwt::tests::ISS, "aud": "tenantgate", "exp": NOW.as_secs() - 60, "org_id": acme})
        )
    );
    let no_org = format!(
        "Bearer {}",
        rs256(
            &json!({"iss": crate::jwt::tests::ISS, "aud": "tenantgate", "exp": NOW.as_secs() + 60})
        )
    );
    let ok = |s: &str| Ok(s.to_owned());
    let cases: Vec<(&str, RequestParts, Result<String, &str>)> = vec![
        (
            "subdomain",
            req("acme.app.example", "/api/tasks", &[]),
            ok("acme"),
        ),
        (
            "subdomain, absolute target",
            req(
                "ACME.app.example:3000",
                "http://acme.app.example/api/tasks",
                &[],
            ),
            ok("acme"),
        ),
        (
            "unknown slug",
            req("nope.app.example", "/api/tasks", &[]),
            Err("unknown_tenant"),
        ),
        (
            "reserved label",
            req("admin.app.example", "/api/tasks", &[]),
            Err("unknown_tenant"),
        ),
        (
            "suspended",
            req("sleepy.app.example", "/api/tasks", &[]),
            Err("tenant_suspended"),
        ),
        (
            "deleted",
            req("gone.app.example", "/api/tasks", &[]),
            Err("unknown_tenant"),
        ),
        (
            "custom domain",
            req("portal.acme.com", "/api/tasks", &[]),
            ok("acme"),
        ),
        (
            "unverified domain",
            req("portal.evil.com", "/api/tasks", &[]),
            Err("unknown_tenant"),
        ),
        (
            "apex + token",
            req(
                "app.example",
                "/api/tasks",
                &[("Authorization", &bearer(&acme))],
            ),
            ok("acme"),
        ),
        (
            "apex, no token",
            req("app.example", "/api/tasks", &[]),
            Err("unauthenticated"),
        ),
        (
            "apex, token for nobody",
            req(
                "app.example",
                "/api/tasks",
                &[("Authorization", &bearer(&nobody))],
            ),
            Err("unknown_tenant"),
        ),
        (
            "apex, token without org",
            req("app.example", "/api/tasks", &[("Authorization", &no_org)]),
            Err("unauthenticated"),
        ),
        (
            "own token",
            req(
                "globex.app.example",
                "/api/tasks",
                &[("Authorization", &bearer(&globex))],
            ),
            ok("globex"),
        ),
        (
            "token for A on B's host",
            req(
                "globex.app.example",
                "/api/tasks",
                &[("Authorization", &bearer(&acme))],
            ),
            Err("tenant_mismatch"),
        ),
        (
            "token for A on A's domain",
            req(
                "portal.acme.com",
                "/api/tasks",
                &[("Authorization", &bearer(&acme))],
            ),
            ok("acme"),
        ),
        (
            "token for B on A's domain",
            req(
                "portal.acme.com",
                "/api/tasks",
                &[("Authorization", &bearer(&globex))],
            ),
            Err("tenant_mismatch"),
        ),
        (
            "token without org on a tenant host",
            req(
                "acme.app.example",
                "/api/tasks",
                &[("Authorization", &no_org)],
            ),
            Err("invalid_token"),
        ),
        (
            "expired token",
            req(
                "acme.app.example",
                "/api/tasks",
                &[("Authorization", &expired)],
            ),
            Err("invalid_token"),
        ),
        (
            "two Authorization headers",
            req(
                "acme.app.example",
                "/api/tasks",
                &[
                    ("Authorization", &bearer(&acme)),
                    ("authorization", "Bearer x"),
                ],
            ),
            Err("invalid_token"),
        ),
        (
            "IP host",
            req("127.1", "/api/tasks", &[]),
            Err("invalid_host"),
        ),
        (
            "duplicate Host",
            req(
                "acme.app.example",
                "/api/tasks",
                &[("host", "globex.app.example")],
            ),
            Err("invalid_host"),
        ),
        (
            "Host disagrees with target",
            req(
                "acme.app.example",
                "http://globex.app.example/api/tasks",
                &[],
            ),
            Err("invalid_host"),
        ),
        (
            "route on a segment boundary only",
            req("acme.app.example", "/api/tasksx", &[]),
            Err("not_found"),
        ),
        (
            "dot segments",
            req("acme.app.example", "/api/tasks/../admin", &[]),
            Err("bad_request"),
        ),
        (
            "declared body too large",
            req(
                "acme.app.example",
                "/api/tasks",
                &[("Content-Length", "1025")],
            ),
            Err("payload_too_large"),
        ),
        (
            "headers too large",
            req(
                "acme.app.example",
                "/api/tasks",
                &[("x-big", &"a".repeat(9000))],
            ),
            Err("headers_too_large"),
        ),
        (
            "CONNECT",
            RequestParts {
                method: "CONNECT".into(),
                ..req("acme.app.example", "/api/tasks", &[])
            },
            Err("bad_request"),
        ),
    ];
    for (name, r, want) in cases {
        assert_eq!(outcome(&r), want, "{name}");
    }
}

#[test]
fn the_forward_carries_our_headers_only_and_a_context_postgres_accepts() {
    let r = req(
        "Globex.App.Example.:3000",
        "/api/projects/7?x=1",
        &[
            ("X-Tenant-Context", "v1.k1.forged.sig"),
            ("x-tenant-context", "v1.k1.forged2.sig"),
            ("X-Tenant-Host", "acme.app.example"),
            ("x-tenant-client-addr", "203.0.113.66"),
            ("spin-full-url", "http://acme.app.example/"),
            ("spin-client-addr", "192.0.2.7:51000"),
            ("Connection", "x-hop"),
            ("X-Hop", "1"),
            ("Accept", "application/json"),
            (
                "Cookie",
                "theme=dark; tg_sso_flow=f; __Host-tg_session=x; lang=en",
            ),
            ("cookie", "tg_sso_flow=only-ours"),
        ],
    );
    let f = run(&r, &ports()).unwrap();
    assert_eq!(f.url(), "http://tasks.spin.internal/api/projects/7?x=1");
    let get = |name: &str| -> Vec<String> {
        f.headers()
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
            .collect()
    };
    assert_eq!(get("x-tenant-context"), [f.context().as_str().to_owned()]);
    assert_eq!(get("x-tenant-host"), ["globex.app.example"]);
    assert_eq!(get("x-request-id"), ["req-1"]);
    // The client's address is the host's (the last spin-client-addr), never the client's claim.
    assert_eq!(get("x-tenant-client-addr"), ["192.0.2.7"]);
    assert!(
        get("spin-full-url").is_empty() && get("x-hop").is_empty() && get("connection").is_empty()
    );
    assert_eq!(get("accept"), ["application/json"]);
    // The gateway's cookies are its credentials (like Authorization): never forwarded; the
    // application's cookies are.
    assert_eq!(get("cookie"), ["theme=dark; lang=en"]);
    let claims = verify(f.context().as_str(), &[("k1", KEY)], NOW).unwrap();
    assert_eq!(claims.tid, sample_tenant("globex").id);
    assert_eq!(
        claims.placement.columns(),
        ("schema", None, Some("tenant_globex"))
    );
    assert_eq!(claims.exp, NOW.as_secs() + 30);
    assert_eq!((claims.uid, claims.roles.len()), (None, 0), "anonymous");
}

#[test]
fn dependencies_fail_closed_or_fall_back_to_the_source() {
    let r = req("acme.app.example", "/api/tasks", &[]);
    let p = ports();
    p.directory.set_failing(true);
    assert_eq!(
        run(&r, &p).unwrap_err().response().code,
        "dependency_unavailable"
    );
    let p = ports();
    p.cache.set_failing(true);
    let acme = sample_tenant("acme");
    let anonymous = run(&r, &p).expect("cache down: answered from the directory");
    let claims = verify(anonymous.context().as_str(), &[("k1", KEY)], NOW).unwrap();
    assert_eq!(
        (anonymous.url(), claims.tid, claims.slug.as_str()),
        (
            "http://tasks.spin.internal/api/tasks".to_owned(),
            acme.id,
            "acme"
        )
    );
    assert_eq!((claims.uid, claims.roles.len()), (None, 0), "anonymous");
    let calls = p.directory.calls();
    run(&r, &p).unwrap();
    assert_eq!(
        p.directory.calls(),
        calls + 1,
        "nothing cached: asked again"
    );
    let token = bearer(&acme.id.to_string());
    let with_token = req(
        "acme.app.example",
        "/api/tasks",
        &[("Authorization", &token)],
    );
    let authed = run(&with_token, &p).expect("cache down: the token is verified");
    let claims = verify(authed.context().as_str(), &[("k1", KEY)], NOW).unwrap();
    assert_eq!((claims.tid, claims.slug.as_str()), (acme.id, "acme"));
    assert_eq!(
        claims.roles,
        vec!["member".parse::<crate::ids::RoleName>().unwrap()],
        "the token's roles, verified without the cache"
    );
    // Control: a token for another tenant is still refused with the cache down.
    let other = bearer(&sample_tenant("globex").id.to_string());
    let mismatch = req(
        "acme.app.example",
        "/api/tasks",
        &[("Authorization", &other)],
    );
    assert_eq!(
        run(&mismatch, &p).unwrap_err().response().code,
        "tenant_mismatch"
    );
}

#[test]
fn a_suspension_reaches_the_pipeline_within_the_bound() {
    let p = ports();
    let r = req("acme.app.example", "/api/tasks", &[]);
    let cfg = config();
    let rid: RequestId = "r".parse().unwrap();
    assert!(handle(&r, &cfg, &p, NOW, &rid).is_ok());
    let mut acme = sample_tenant("acme");
    acme.status = TenantStatus::Suspended;
    p.directory.upsert(acme);
    assert!(
        handle(&r, &cfg, &p, NOW.plus_millis(4_999), &rid).is_ok(),
        "still cached"
    );
    let err = handle(&r, &cfg, &p, NOW.plus_millis(5_000), &rid).unwrap_err();
    assert_eq!(err.response().code, "tenant_suspended");
}

#[test]
fn a_bad_route_config_denies_everything() {
    let (routes, err) = RouteTable::parse_or_deny("/api=Not Valid");
    assert!(err.is_some());
    let cfg = GatewayConfig { routes, ..config() };
    let r = req("acme.app.example", "/api/tasks", &[]);
    let got = handle(&r, &cfg, &ports(), NOW, &"r".parse().unwrap()).unwrap_err();
    assert_eq!(got.response().status, 503);
}

#[test]
fn anonymous_requests_get_exactly_the_configured_permissions() {
    let rid: RequestId = "req-anon".parse().unwrap();
    let r = req("acme.app.example", "/api/tasks", &[]);
    let none = handle(&r, &config(), &ports(), NOW, &rid).unwrap();
    let claims = crate::context::decode_unverified(none.context().as_str()).unwrap();
    assert!(claims.perms.is_empty(), "none by default");
    let cfg = GatewayConfig {
        sessions: Default::default(),
        anonymous_permissions: vec!["tasks.read".parse().unwrap()],
        ..config()
    };
    let some = handle(&r, &cfg, &ports(), NOW, &rid).unwrap();
    let claims = crate::context::decode_unverified(some.context().as_str()).unwrap();
    assert_eq!(claims.perms, vec!["tasks.read".parse().unwrap()]);
    assert_eq!((claims.uid, claims.roles.len()), (None, 0));
}

#[test]
fn a_read_only_tenant_is_marked_in_the_context_and_only_then() {
    let rid: RequestId = "req-ro".parse().unwrap();
    let p = ports();
    let r = req("acme.app.example", "/api/tasks", &[]);
    let token = handle(&r, &config(), &p, NOW, &rid)
        .unwrap()
        .context()
        .clone();
    assert!(
        !crate::context::decode_unverified(token.as_str())
            .unwrap()
            .ro
    );
    assert_eq!(ro_field(token.as_str()), "", "empty while false");
    let mut moving = sample_tenant("acme");
    moving.read_only = true;
    p.directory.upsert(moving);
    let later = UnixMillis(NOW.0 + 60_000); // past the cache bound
    let token = handle(&r, &config(), &p, later, &rid)
        .unwrap()
        .context()
        .clone();
    assert!(
        crate::context::decode_unverified(token.as_str())
            .unwrap()
            .ro
    );
    assert_eq!(ro_field(token.as_str()), "1");
}

/// The `ro` field of a v2 token (the one before the signature).
fn ro_field(token: &str) -> &str {
    token.rsplit('~').nth(1).unwrap()
}

#[test]
fn a_refusal_is_answered_here_with_its_status_headers_and_body() {
    let rid: RequestId = "req-7".parse().unwrap();
    let token = format!("Bearer {}", "x".repeat(20));
    let r = req(
        "acme.app.example",
        "/api/tasks",
        &[("Authorization", &token)],
    );
    let Decision::Respond(answer) = super::handle(&r, &config(), &ports(), NOW, &rid) else {
        panic!("a malformed token is refused here")
    };
    assert_eq!(answer.status, 401);
    let names: Vec<&str> = answer.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "content-type",
            "x-request-id",
            "cache-control",
            "www-authenticate"
        ]
    );
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    assert_eq!(answer.header("x-request-id"), Some("req-7"));
    assert_eq!(
        String::from_utf8(answer.body).unwrap(),
        r#"{"error":{"code":"invalid_token","message":"The bearer token was not accepted.","request_id":"req-7"}}"#
    );
    // A dependency that is down asks the client to come back.
    let p = ports();
    p.directory.set_failing(true);
    let Decision::Respond(down) = super::handle(&r, &config(), &p, NOW, &rid) else {
        panic!("fails closed")
    };
    assert_eq!((down.status, down.header("retry-after")), (503, Some("5")));
    // Control: the same request without the bad token is forwarded.
    let ok = req("acme.app.example", "/api/tasks", &[]);
    assert!(matches!(
        super::handle(&ok, &config(), &ports(), NOW, &rid),
        Decision::Forward(_)
    ));
}

/// A JWKS source that is down: tokens fail closed, anonymous requests do not need it.
struct KeysDown;

impl JwksSource for KeysDown {
    fn verifier(&self) -> Result<&JwtVerifier, crate::ports::KeysUnavailable> {
        Err(crate::ports::KeysUnavailable(
            "idp keys not refreshed".into(),
        ))
    }
}

#[test]
fn the_jwt_verifier_is_entered_only_for_a_token_and_fails_closed() {
    let p = ports();
    let down = Ports {
        directory: p.directory,
        cache: p.cache,
        counters: p.counters,
        keys: KeysDown,
    };
    let rid: RequestId = "r".parse().unwrap();
    let token = bearer(&sample_tenant("acme").id.to_string());
    let with_token = req(
        "acme.app.example",
        "/api/tasks",
        &[("Authorization", &token)],
    );
    let Decision::Respond(answer) = super::handle(&with_token, &config(), &down, NOW, &rid) else {
        panic!("no keys, no token accepted")
    };
    assert_eq!(answer.status, 503);
    assert!(matches!(
        answer.cause,
        Some(GatewayError::Auth(crate::auth::AuthError::Keys(_)))
    ));
    // Control: an anonymous request never asks for keys.
    let anon = req("acme.app.example", "/api/tasks", &[]);
    assert!(matches!(
        super::handle(&anon, &config(), &down, NOW, &rid),
        Decision::Forward(_)
    ));
}
