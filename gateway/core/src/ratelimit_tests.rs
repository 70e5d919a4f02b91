//! The rate-limit stage through the whole pipeline, with the in-memory counter store.

use super::*;
use crate::cache::TenantCacheConfig;
use crate::context::ContextSigner;
use crate::decision::Decision;
use crate::fakes::{sample_tenant, MemoryCounters, MemoryDirectory, MemoryKv};
use crate::headers::Limits;
use crate::host::HostConfig;
use crate::ids::RequestId;
use crate::jwt::tests::{claims_for, rs256, verifier, NOW};
use crate::jwt::JwtVerifier;
use crate::pipeline::{handle, GatewayConfig, RequestParts};
use crate::ports::Ports;
use crate::resolve::ResolverConfig;
use crate::routes::RouteTable;

fn config(on_unavailable: OnUnavailable) -> GatewayConfig {
    GatewayConfig {
        sessions: Default::default(),
        host: HostConfig::with_ports(&[3000]),
        resolver: ResolverConfig::new("app.example".parse().unwrap()),
        tenant_cache: TenantCacheConfig::default(),
        routes: RouteTable::parse("/api/tasks=tasks,/auth=tasks").unwrap(),
        limits: Limits::default(),
        context: ContextSigner::new("k1", &[7; 32]).unwrap(),
        anonymous_permissions: vec!["tasks.read".parse().unwrap()],
        rate_limits: RateLimitConfig {
            enabled: true,
            on_unavailable,
        },
    }
}

fn policy() -> LimitPolicy {
    LimitPolicy {
        tenant: Some(Rate::new(100, 60, 5)),
        user: Some(Rate::new(60, 60, 3)),
        anonymous: Some(Rate::new(60, 60, 4)),
        client: Some(Rate::new(60, 60, 2)),
        read: None,
        write: None,
        auth: Some(Rate::new(6, 60, 1)),
        monthly_requests: None,
    }
}

fn ports(policy: LimitPolicy) -> Ports<MemoryDirectory, MemoryKv, MemoryCounters, JwtVerifier> {
    let directory = MemoryDirectory::default();
    for slug in ["acme", "globex"] {
        let mut t = sample_tenant(slug);
        t.limits = policy.clone();
        directory.upsert(t);
    }
    directory.add_domain("portal.acme.com".parse().unwrap(), sample_tenant("acme").id);
    Ports {
        directory,
        cache: MemoryKv::default(),
        counters: MemoryCounters::default(),
        keys: verifier(),
    }
}

fn req(host: &str, path: &str, client: &str, token: Option<&str>) -> RequestParts {
    let mut headers = vec![
        ("host".to_owned(), host.as_bytes().to_vec()),
        ("spin-client-addr".to_owned(), client.as_bytes().to_vec()),
    ];
    if let Some(t) = token {
        headers.push((
            "authorization".to_owned(),
            format!("Bearer {t}").into_bytes(),
        ));
    }
    RequestParts {
        method: "GET".into(),
        target: path.into(),
        headers,
    }
}

/// `(status, code or "", headers)`.
fn run(
    r: &RequestParts,
    cfg: &GatewayConfig,
    p: &Ports<MemoryDirectory, MemoryKv, MemoryCounters, JwtVerifier>,
    at: UnixMillis,
) -> (u16, Vec<(String, String)>) {
    let rid: RequestId = "r".parse().unwrap();
    match handle(r, cfg, p, at, &rid) {
        Decision::Forward(f) => (200, f.response_headers().to_vec()),
        Decision::Auth(a) => (200, a.response_headers),
        Decision::Respond(a) => (
            a.status,
            a.headers
                .iter()
                .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
        ),
    }
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn anonymous_clients_are_limited_per_address_and_one_ipv6_64_is_one_client() {
    let cfg = config(OnUnavailable::Closed);
    let p = ports(policy());
    let a = req("acme.app.example", "/api/tasks", "10.0.0.1:1", None);
    let statuses: Vec<u16> = (0..4).map(|_| run(&a, &cfg, &p, NOW).0).collect();
    assert_eq!(statuses, [200, 200, 429, 429], "client burst 2");
    let (_, h) = run(&a, &cfg, &p, NOW);
    assert_eq!(header(&h, "retry-after"), Some("1"));
    assert_eq!(header(&h, "ratelimit"), Some("\"client\";r=0;t=1"));
    assert!(header(&h, "ratelimit-policy")
        .unwrap()
        .contains("\"client\";q=60;w=60"));
    // Rotating inside one /64 is one client.
    for i in 0..3 {
        let r = req(
            "acme.app.example",
            "/api/tasks",
            &format!("[2001:db8::{i:x}]:9"),
            None,
        );
        assert_eq!(run(&r, &cfg, &p, NOW).0, if i < 2 { 200 } else { 429 });
    }
    // A second later, one more.
    let later = UnixMillis(NOW.0 + 1_000);
    assert_eq!(run(&a, &cfg, &p, later).0, 200);
    // An admitted request the route table refuses still says what is left.
    let unrouted = req("acme.app.example", "/nope", "10.0.0.2:1", None);
    let (status, h) = run(&unrouted, &cfg, &p, UnixMillis(NOW.0 + 60_000));
    assert_eq!(status, 404);
    assert_eq!(header(&h, "ratelimit"), Some("\"client\";r=1;t=1"));
}

#[test]
fn anonymous_floods_do_not_spend_signed_in_budget_and_tenants_are_apart() {
    let cfg = config(OnUnavailable::Closed);
    let p = ports(policy());
    // Anonymous budget of acme: 4 at once, spread over many addresses.
    let admitted = (0..50)
        .filter(|i| {
            let r = req(
                "acme.app.example",
                "/api/tasks",
                &format!("10.1.0.{i}:1"),
                None,
            );
            run(&r, &cfg, &p, NOW).0 == 200
        })
        .count();
    assert_eq!(admitted, 4);
    // Signed-in users of acme still have theirs, by any host form; globex is untouched.
    let token = rs256(&claims_for(&sample_tenant("acme").id.to_string()));
    let signed = req("acme.app.example", "/api/tasks", "10.1.0.1:1", Some(&token));
    let (status, h) = run(&signed, &cfg, &p, NOW);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "ratelimit"), Some("\"user\";r=2;t=1"));
    let portal = req("portal.acme.com", "/api/tasks", "10.1.0.1:1", Some(&token));
    let dot = req(
        "ACME.app.example.",
        "/api/tasks",
        "10.1.0.1:1",
        Some(&token),
    );
    assert_eq!(run(&portal, &cfg, &p, NOW).0, 200);
    assert_eq!(run(&dot, &cfg, &p, NOW).0, 200);
    assert_eq!(
        run(&portal, &cfg, &p, NOW).0,
        429,
        "one user bucket (burst 3) whatever the host"
    );
    let g = req("globex.app.example", "/api/tasks", "10.1.0.1:1", None);
    assert_eq!(run(&g, &cfg, &p, NOW).0, 200);
}

#[test]
fn the_auth_routes_are_strict_and_fail_closed_even_when_others_fall_back() {
    let cfg = config(OnUnavailable::Local { instances: 2 });
    let p = ports(policy());
    let login = req("acme.app.example", "/auth/login", "10.2.0.1:1", None);
    assert_eq!(run(&login, &cfg, &p, NOW).0, 200);
    assert_eq!(run(&login, &cfg, &p, NOW).0, 429, "auth burst 1");
    p.counters.set_failing(true);
    let (status, h) = run(&login, &cfg, &p, NOW);
    assert_eq!(status, 503);
    assert_eq!(header(&h, "retry-after"), Some("5"));
    // MemoryCounters has no local fallback: elsewhere it is refused too (closed).
    let read = req("acme.app.example", "/api/tasks", "10.2.0.9:1", None);
    assert_eq!(run(&read, &cfg, &p, NOW).0, 503);
}

/// A store whose shared side is down and whose local side is an in-memory store.
struct Fallback(MemoryCounters);
impl RateLimitStore for Fallback {
    fn apply(&self, _: &LimitPlan, _: u64) -> Result<Verdict, CounterUnavailable> {
        Err(CounterUnavailable("redis down".into()))
    }
    fn apply_local(
        &self,
        plan: &LimitPlan,
        now: u64,
    ) -> Option<Result<Verdict, CounterUnavailable>> {
        Some(apply_with_counters(&self.0, plan, now))
    }
}

#[test]
fn the_local_fallback_divides_each_limit_among_the_instances() {
    let plan_for = |client: &str| {
        let p = ports(policy());
        let cfg = config(OnUnavailable::Local { instances: 2 });
        let rid: RequestId = "r".parse().unwrap();
        let store = Fallback(MemoryCounters::default());
        let q = Ports {
            directory: p.directory,
            cache: p.cache,
            counters: store,
            keys: p.keys,
        };
        let r = req("acme.app.example", "/api/tasks", client, None);
        (0..6)
            .map(|_| match handle(&r, &cfg, &q, NOW, &rid) {
                Decision::Forward(_) => 200,
                Decision::Respond(a) => a.status,
                Decision::Auth(_) => 200,
            })
            .collect::<Vec<u16>>()
    };
    // client burst 2 / 2 instances = 1.
    assert_eq!(plan_for("10.3.0.1:1"), [200, 429, 429, 429, 429, 429]);
}

#[test]
fn the_monthly_quota_counts_signed_in_requests_with_the_control_planes_floor() {
    let cfg = config(OnUnavailable::Closed);
    let mut pol = LimitPolicy {
        monthly_requests: Some(3),
        ..LimitPolicy::default()
    };
    let p = ports(pol.clone());
    let token = rs256(&claims_for(&sample_tenant("acme").id.to_string()));
    let r = req("acme.app.example", "/api/tasks", "10.4.0.1:1", Some(&token));
    let got: Vec<u16> = (0..5).map(|_| run(&r, &cfg, &p, NOW).0).collect();
    assert_eq!(got, [200, 200, 200, 429, 429]);
    let (_, h) = run(&r, &cfg, &p, NOW);
    let retry: u64 = header(&h, "retry-after").unwrap().parse().unwrap();
    // NOW is 2023-11-14T22:13:20Z; December starts 16 days, 1h46m40s later.
    assert_eq!(retry, 16 * 86_400 + 6_400);
    // Anonymous traffic never counts against it.
    let anon = req("acme.app.example", "/api/tasks", "10.4.0.1:1", None);
    assert_eq!(run(&anon, &cfg, &p, NOW).0, 200);
    // An emptied store still knows the month's count from the control plane.
    pol.monthly_requests = Some(10);
    let p = ports(pol.clone());
    let mut t = sample_tenant("acme");
    t.limits = pol;
    t.month_usage = 10;
    p.directory.upsert(t);
    assert_eq!(run(&r, &cfg, &p, NOW).0, 429);
}

#[test]
fn refused_requests_spend_nothing_and_disabled_limits_add_nothing() {
    let p = ports(LimitPolicy {
        anonymous: Some(Rate::new(60, 60, 3)),
        client: Some(Rate::new(60, 60, 1)),
        ..LimitPolicy::default()
    });
    let cfg = config(OnUnavailable::Closed);
    let r = req("acme.app.example", "/api/tasks", "10.5.0.1:1", None);
    assert_eq!(run(&r, &cfg, &p, NOW).0, 200);
    for _ in 0..20 {
        assert_eq!(run(&r, &cfg, &p, NOW).0, 429);
    }
    // The tenant-wide anonymous bucket was refunded each time the client bucket refused:
    // two more clients pass, the fourth does not.
    let other = |i: u8| {
        req(
            "acme.app.example",
            "/api/tasks",
            &format!("10.5.1.{i}:1"),
            None,
        )
    };
    assert_eq!(run(&other(1), &cfg, &p, NOW).0, 200);
    let (status, h) = run(&other(2), &cfg, &p, NOW);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "ratelimit"), Some("\"anonymous\";r=0;t=3"));
    assert_eq!(run(&other(3), &cfg, &p, NOW).0, 429);
    let off = GatewayConfig {
        sessions: Default::default(),
        rate_limits: RateLimitConfig {
            enabled: false,
            on_unavailable: OnUnavailable::Closed,
        },
        ..config(OnUnavailable::Closed)
    };
    let (status, h) = run(&r, &off, &p, NOW);
    assert_eq!((status, h.len()), (200, 0));
}

/// The SSO policy stage runs before the rate limit: a bearer token on a tenant with enforced
/// SSO is refused (403 `sso_required`) without spending from any bucket, while the same
/// token where SSO is optional spends as usual.
#[test]
fn enforced_sso_refuses_before_the_rate_limit_spends() {
    let cfg = config(OnUnavailable::Closed);
    let token = rs256(&claims_for(&sample_tenant("acme").id.to_string()));
    let r = req("acme.app.example", "/api/tasks", "10.9.0.1:1", Some(&token));
    let with_sso = |mode: crate::tenant::SsoMode| {
        let p = ports(policy());
        let mut acme = sample_tenant("acme");
        acme.limits = policy();
        acme.sso = mode;
        p.directory.upsert(acme);
        p
    };
    let enforced = with_sso(crate::tenant::SsoMode::Enforced);
    let rid: RequestId = "r".parse().unwrap();
    for _ in 0..5 {
        let Decision::Respond(answer) = handle(&r, &cfg, &enforced, NOW, &rid) else {
            panic!("refused")
        };
        assert_eq!((answer.status, answer.header("ratelimit")), (403, None));
        let body = String::from_utf8(answer.body).unwrap();
        assert!(body.contains(r#""code":"sso_required""#), "{body}");
    }
    assert_eq!(enforced.counters.snapshot(), [], "nothing spent");
    let optional = with_sso(crate::tenant::SsoMode::Sso);
    let (status, h) = run(&r, &cfg, &optional, NOW);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "ratelimit"), Some("\"user\";r=2;t=1"));
    assert_ne!(optional.counters.snapshot(), [], "the control spends");
}

#[test]
fn values_of_another_owner_read_as_idle() {
    assert_eq!(parse_value(b"123|10.0.0.1", "10.0.0.1"), Some(123));
    assert_eq!(parse_value(b"123|10.0.0.2", "10.0.0.1"), None);
    assert_eq!(parse_value(b"garbage", "10.0.0.1"), None);
}

#[test]
fn each_route_class_has_its_own_bucket_per_client() {
    let cfg = config(OnUnavailable::Closed);
    let p = ports(LimitPolicy {
        read: Some(Rate::new(60, 60, 2)),
        write: Some(Rate::new(60, 60, 1)),
        auth: Some(Rate::new(60, 60, 1)),
        ..LimitPolicy::default()
    });
    let get = req("acme.app.example", "/api/tasks", "10.6.0.1:1", None);
    let mut post = get.clone();
    post.method = "POST".into();
    let login = req("acme.app.example", "/auth/login", "10.6.0.1:1", None);
    let codes: Vec<u16> = [&get, &get, &get, &post, &post, &login, &login]
        .iter()
        .map(|r| run(r, &cfg, &p, NOW).0)
        .collect();
    // Reads: burst 2. Writes: 1 (forwarded; the backend checks the permission). Sign-in: 1.
    assert_eq!(codes, [200, 200, 429, 200, 429, 200, 429]);
    let (_, h) = run(&post, &cfg, &p, NOW);
    assert_eq!(header(&h, "ratelimit"), Some("\"write\";r=0;t=1"));
}
