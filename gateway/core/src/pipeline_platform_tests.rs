//! The platform surface on the apex and break-glass access on tenant hosts.

use super::*;
use crate::context::decode_unverified;
use crate::fakes::{sample_tenant, MemoryCounters, MemoryDirectory, MemoryKv};
use crate::jwt::tests::{rs256, AUD, ISS, JWKS_A, NOW};
use crate::jwt::JwtVerifier;
use crate::jwt_config::{ClaimPath, IssuerConfig};
use crate::platform::{BreakGlassGrant, PlatformAdmin, ADMIN_PERMISSION, BREAK_GLASS_PERMISSION};
use crate::tenant::TenantStatus;
use serde_json::{json, Value};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const PLATFORM_ISS: &str = "https://platform.example";

fn config() -> GatewayConfig {
    GatewayConfig {
        sessions: Default::default(),
        host: HostConfig::with_ports(&[3000]),
        resolver: ResolverConfig::new("app.example".parse().unwrap()),
        tenant_cache: TenantCacheConfig::default(),
        routes: RouteTable::parse(
            "/api/tasks=tasks,/api/org=orgs,/api/platform=platform,/platform=platform",
        )
        .unwrap(),
        limits: crate::headers::Limits::default(),
        context: ContextSigner::new("k1", KEY).unwrap(),
        anonymous_permissions: Vec::new(),
        rate_limits: crate::ratelimit::RateLimitConfig::default(),
    }
}

type TestPorts = Ports<MemoryDirectory, MemoryKv, MemoryCounters, JwtVerifier>;

fn ports() -> TestPorts {
    let directory = MemoryDirectory::default();
    directory.upsert(sample_tenant("acme"));
    let mut gone = sample_tenant("gone");
    gone.status = TenantStatus::Deleted;
    directory.upsert(gone);
    // Two issuers with the same keys: the tenants' (no platform roles) and the platform's.
    Ports {
        directory,
        cache: MemoryKv::default(),
        counters: MemoryCounters::default(),
        keys: JwtVerifier::new([
            IssuerConfig::from_jwks(ISS, &[AUD], JWKS_A).unwrap(),
            IssuerConfig::from_jwks(PLATFORM_ISS, &[AUD], JWKS_A)
                .unwrap()
                .with_platform_roles(ClaimPath::new("platform_roles")),
        ]),
    }
}

fn token(iss: &str, extra: Value) -> String {
    let mut claims = json!({
        "iss": iss, "aud": AUD, "sub": "ops-1", "email": "ops@platform.example",
        "exp": NOW.as_secs() + 600, "nbf": NOW.as_secs() - 10,
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    format!("Bearer {}", rs256(&claims))
}

fn admin_token() -> String {
    token(
        PLATFORM_ISS,
        json!({ "platform_roles": ["platform_admin"] }),
    )
}

fn admin() -> PlatformAdmin {
    PlatformAdmin::of(&crate::jwt::VerifiedToken {
        issuer: PLATFORM_ISS.into(),
        subject: Some("ops-1".into()),
        organisation: crate::jwt::Organisation::None,
        roles: Vec::new(),
        permissions: Vec::new(),
        expires_at: 0,
        platform_roles: vec!["platform_admin".parse().unwrap()],
        email: Some("ops@platform.example".into()),
        platform_issuer: true,
    })
    .unwrap()
}

fn run(
    method: &str,
    host: &str,
    path: &str,
    auth: Option<&str>,
    p: &TestPorts,
) -> Result<Forward, GatewayError> {
    let mut headers = vec![("host".to_owned(), host.as_bytes().to_vec())];
    if let Some(a) = auth {
        headers.push(("authorization".to_owned(), a.as_bytes().to_vec()));
    }
    let r = RequestParts {
        method: method.into(),
        target: path.into(),
        headers,
    };
    match super::handle(&r, &config(), p, NOW, &"req-1".parse().unwrap()) {
        Decision::Forward(f) => Ok(f),
        Decision::Respond(answer) => Err(answer.cause.expect("a refusal carries its cause")),
        Decision::Auth(a) => panic!("an /auth/ route: {:?}", a.route),
    }
}

fn code(r: Result<Forward, GatewayError>) -> &'static str {
    r.expect_err("refused").response().code.as_str()
}

fn header<'a>(f: &'a Forward, name: &str) -> Option<&'a str> {
    f.headers()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| std::str::from_utf8(v).unwrap())
}

#[test]
fn the_platform_api_is_for_platform_admins_on_the_apex_only() {
    let p = ports();
    let apex = "app.example";
    // No token, a tenant's token, a tenant's token claiming platform power: refused.
    assert_eq!(
        code(run("GET", apex, "/api/platform/tenants", None, &p)),
        "unauthenticated"
    );
    let tenant_token = token(
        ISS,
        json!({ "org_id": sample_tenant("acme").id.to_string() }),
    );
    assert_eq!(
        code(run(
            "GET",
            apex,
            "/api/platform/tenants",
            Some(&tenant_token),
            &p
        )),
        "platform_admin_required"
    );
    let forged = token(
        ISS,
        json!({ "platform_roles": ["platform_admin"], "perms": ["platform.admin"], "roles": ["platform_admin"] }),
    );
    assert_eq!(
        code(run("GET", apex, "/api/platform/tenants", Some(&forged), &p)),
        "platform_admin_required"
    );
    // The platform issuer, without the role.
    let staff = token(PLATFORM_ISS, json!({ "platform_roles": ["support"] }));
    assert_eq!(
        code(run("GET", apex, "/api/platform/tenants", Some(&staff), &p)),
        "platform_admin_required"
    );
    // A bad signature is a bad token, not a refusal of the role.
    let mut bad = admin_token();
    bad.pop();
    bad.push('A');
    assert_eq!(
        code(run("GET", apex, "/api/platform/tenants", Some(&bad), &p)),
        "invalid_token"
    );

    // The admin: the platform component, a context naming no tenant, holding platform.admin.
    let f = run(
        "GET",
        apex,
        "/api/platform/tenants?q=ac",
        Some(&admin_token()),
        &p,
    )
    .unwrap();
    assert_eq!(f.component().as_str(), "platform");
    assert_eq!(f.path_and_query(), "/api/platform/tenants?q=ac");
    let c = decode_unverified(f.context().as_str()).unwrap();
    assert_eq!(c.tid.uuid(), uuid::Uuid::nil());
    assert_eq!(c.uid, Some(admin().id));
    assert!(c.has_permission(ADMIN_PERMISSION));
    assert_eq!(
        header(&f, "x-tenant-platform-admin"),
        Some("ops@platform.example")
    );
    assert_eq!(
        header(&f, "authorization"),
        None,
        "the token stays at the gateway"
    );

    // Naming a tenant: its context, whatever its status; an unknown one is the usual 404.
    let f = run(
        "POST",
        apex,
        "/api/platform/tenants/gone/restore",
        Some(&admin_token()),
        &p,
    )
    .unwrap();
    let c = decode_unverified(f.context().as_str()).unwrap();
    assert_eq!(c.tid, sample_tenant("gone").id);
    assert!(c.has_permission(ADMIN_PERMISSION));
    assert_eq!(
        code(run(
            "GET",
            apex,
            "/api/platform/tenants/nobody",
            Some(&admin_token()),
            &p
        )),
        "unknown_tenant"
    );
    assert_eq!(
        code(run(
            "GET",
            apex,
            "/api/platform/tenants/NOT..A..SLUG",
            Some(&admin_token()),
            &p
        )),
        "unknown_tenant"
    );
    assert_eq!(
        code(run(
            "GET",
            apex,
            "/api/platform/../tasks",
            Some(&admin_token()),
            &p
        )),
        "bad_request"
    );

    // The console's files are public, and their context holds no permission.
    let f = run("GET", apex, "/platform/app.js", None, &p).unwrap();
    let c = decode_unverified(f.context().as_str()).unwrap();
    assert!(c.perms.is_empty() && c.uid.is_none());

    // On a tenant host neither exists, even for an admin.
    for path in [
        "/api/platform/tenants",
        "/platform",
        "/api/platform/tenants/acme/suspend",
    ] {
        assert_eq!(
            code(run(
                "GET",
                "acme.app.example",
                path,
                Some(&admin_token()),
                &p
            )),
            "not_found",
            "{path}"
        );
    }
}

#[test]
fn break_glass_needs_an_active_grant_and_every_access_is_recorded() {
    let p = ports();
    let acme = sample_tenant("acme").id;
    let host = "acme.app.example";
    // Without a grant: refused, nothing recorded.
    assert_eq!(
        code(run("GET", host, "/api/tasks", Some(&admin_token()), &p)),
        "break_glass_required"
    );
    assert!(p.directory.accesses().is_empty());

    // A read-only grant: the grant's permissions, a read-only context, the access recorded.
    let grant = BreakGlassGrant {
        id: uuid::Uuid::from_u128(0x1234),
        read_only: true,
        permissions: ["tasks.read", BREAK_GLASS_PERMISSION]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect(),
    };
    p.directory.set_grant(acme, admin().id, Some(grant));
    let f = run("GET", host, "/api/tasks?x=1", Some(&admin_token()), &p).unwrap();
    let c = decode_unverified(f.context().as_str()).unwrap();
    assert_eq!(c.tid, acme);
    assert!(c.ro, "a read-only grant is a read-only context");
    assert!(c.has_permission("tasks.read") && !c.has_permission("tasks.write"));
    assert_eq!(c.uid, Some(admin().id));
    assert_eq!(
        p.directory.accesses(),
        vec![(acme, admin().id, "GET /api/tasks".to_owned())]
    );

    // Another tenant's host: the grant does not travel.
    let mut globex = sample_tenant("globex");
    globex.status = TenantStatus::Active;
    p.directory.upsert(globex);
    assert_eq!(
        code(run(
            "GET",
            "globex.app.example",
            "/api/tasks",
            Some(&admin_token()),
            &p
        )),
        "break_glass_required"
    );

    // The directory down: 503, never a pass.
    p.directory.set_failing(true);
    let cache_warm = run("GET", host, "/api/tasks", Some(&admin_token()), &p);
    assert_eq!(code(cache_warm), "dependency_unavailable");
    p.directory.set_failing(false);

    // Revoked: refused again.
    p.directory.set_grant(acme, admin().id, None);
    assert_eq!(
        code(run("GET", host, "/api/tasks", Some(&admin_token()), &p)),
        "break_glass_required"
    );
}

#[test]
fn tenant_identities_never_carry_platform_permissions() {
    let p = ports();
    let acme = sample_tenant("acme").id.to_string();
    let t = token(
        ISS,
        json!({ "org_id": acme, "perms": ["tasks.read", "platform.admin", "platform.break_glass"], "roles": ["platform_admin", "member"] }),
    );
    let f = run("GET", "acme.app.example", "/api/tasks", Some(&t), &p).unwrap();
    let c = decode_unverified(f.context().as_str()).unwrap();
    assert!(c.has_permission("tasks.read"));
    assert!(!c.perms.iter().any(|p| p.as_str().starts_with("platform.")));
    assert!(!c.roles.iter().any(|r| r.as_str() == "platform_admin"));
}

#[test]
fn a_platform_issuers_token_is_never_a_tenant_credential_whatever_it_claims() {
    let p = ports();
    let acme = sample_tenant("acme").id;
    let mut globex = sample_tenant("globex");
    globex.status = TenantStatus::Active;
    let globex_id = globex.id;
    p.directory.upsert(globex);
    let host = "acme.app.example";
    let admin_naming = |tenant: &str, extra: Value| {
        let mut claims = json!({ "platform_roles": ["platform_admin"], "org_id": tenant,
                                 "perms": ["members.read", "tasks.read", "tasks.write"],
                                 "roles": ["owner"] });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        token(PLATFORM_ISS, claims)
    };
    // The attack: an admin's token naming the tenant of the host (or another) is no member's.
    for (what, t) in [
        ("naming acme", admin_naming(&acme.to_string(), json!({}))),
        (
            "naming globex",
            admin_naming(&globex_id.to_string(), json!({})),
        ),
        (
            "an unrecognised claim",
            admin_naming("not-a-tenant", json!({})),
        ),
        ("no claim", admin_token()),
    ] {
        for path in ["/api/tasks", "/api/org/members"] {
            assert_eq!(
                code(run("GET", host, path, Some(&t), &p)),
                "break_glass_required",
                "{what} {path}"
            );
        }
    }
    assert!(p.directory.accesses().is_empty(), "nothing recorded");
    // The platform issuer without the role, naming acme: refused, not bound.
    let support = token(
        PLATFORM_ISS,
        json!({ "platform_roles": ["support"], "org_id": acme.to_string(), "perms": ["tasks.read"] }),
    );
    assert_eq!(
        code(run("GET", host, "/api/tasks", Some(&support), &p)),
        "platform_admin_required"
    );
    // On the apex its organisation claim resolves no tenant.
    assert_eq!(
        code(run(
            "GET",
            "app.example",
            "/api/tasks",
            Some(&admin_naming(&acme.to_string(), json!({}))),
            &p
        )),
        "unauthenticated"
    );
    assert!(p.directory.accesses().is_empty());

    // Control: the same token under a grant gets the grant's permissions, not its claims'.
    let grant = BreakGlassGrant {
        id: uuid::Uuid::from_u128(0x77),
        read_only: true,
        permissions: ["tasks.read", BREAK_GLASS_PERMISSION]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect(),
    };
    p.directory.set_grant(acme, admin().id, Some(grant));
    let f = run(
        "GET",
        host,
        "/api/tasks",
        Some(&admin_naming(&acme.to_string(), json!({}))),
        &p,
    )
    .unwrap();
    let c = decode_unverified(f.context().as_str()).unwrap();
    assert_eq!(c.tid, acme);
    assert!(c.ro && c.has_permission("tasks.read") && !c.has_permission("tasks.write"));
    assert!(!c.has_permission("members.read"));
    assert_eq!(p.directory.accesses().len(), 1);
    // Control: an ordinary tenant token naming acme is bound as before.
    let member = token(
        ISS,
        json!({ "org_id": acme.to_string(), "perms": ["tasks.read"] }),
    );
    let f = run("GET", host, "/api/tasks", Some(&member), &p).unwrap();
    assert!(decode_unverified(f.context().as_str())
        .unwrap()
        .has_permission("tasks.read"));
    assert_eq!(p.directory.accesses().len(), 1);
}
