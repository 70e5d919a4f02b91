//! Platform administration's gateway and SQL sides (issue 16): break-glass access on a tenant's
//! host through the real gateway, `tasks` and `orgs` (granted with a reason, read-only unless
//! stated, bound to one tenant, revocable, expiring, every access in the tenant's own audit log
//! and visible there to its owners), and the platform functions called directly as
//! `tenantgate_app` (only a verified platform context may call them; a tenant's context, a
//! break-glass context or a forged one may not).

use serde_json::json;
use tenantgate_tests::dataplane::{sign_context, unix_now};

use super::sql::{as_app, context};
use super::*;
use crate::app::GLOBEX;
use crate::tokens::platform_token;

/// A platform admin (the platform token's `sub`, a uuid, is the admin's id).
const OPS: &str = "0f000000-0000-4000-8000-0000000000f1";
const NIL: &str = "00000000-0000-0000-0000-000000000000";

fn platform(tid: &str) -> String {
    context(tid, OPS, &["platform.admin"])
}

fn count(o: &Orgs, sql: &str) -> i64 {
    o.sql(sql).parse().unwrap()
}

fn accesses(o: &Orgs, tenant: &str) -> i64 {
    count(
        o,
        &format!(
            "SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{tenant}' \
              AND action = 'platform.break_glass.access' AND actor_kind = 'platform_admin' \
              AND actor_user_id = '{OPS}'"
        ),
    )
}

#[tokio::test]
async fn break_glass_is_granted_with_a_reason_bound_to_one_tenant_and_every_access_is_audited() {
    let o = Orgs::start().await;
    let admin = As::Bearer(platform_token(OPS, &["platform_admin"]));

    // No grant: refused, and nothing is recorded.
    let a = o.get(&admin, ACME_HOST, "/api/tasks").await;
    refused(&a, 403, "break_glass_required", "no grant");
    assert_eq!(accesses(&o, ACME), 0);
    // The platform's issuer without the role is no admin, and never a tenant's credential.
    let support = As::Bearer(platform_token(OPS, &["support"]));
    refused(
        &o.get(&support, ACME_HOST, "/api/tasks").await,
        403,
        "platform_admin_required",
        "support",
    );

    // A grant needs a reason and a sane duration.
    for (sql, want) in [
        ("SELECT id FROM tenantgate.platform_break_glass_grant('  ', false, 15, 'ops', NULL)", "reason_required|"),
        ("SELECT id FROM tenantgate.platform_break_glass_grant('ticket 42', false, 0, 'ops', NULL)", "invalid_minutes|"),
        ("SELECT id FROM tenantgate.platform_break_glass_grant('ticket 42', false, 100000, 'ops', NULL)", "invalid_minutes|"),
    ] {
        let got = as_app(&o, &platform(ACME), sql).await;
        assert!(matches!(&got, Err(e) if e.starts_with(want)), "{sql}: {got:?}");
    }
    // Read-only by default (write NULL), for 15 minutes.
    let grant = as_app(
        &o,
        &platform(ACME),
        "SELECT id FROM tenantgate.platform_break_glass_grant('customer ticket 42: tasks missing', NULL, NULL, 'ops@platform.example', '203.0.113.9')",
    )
    .await
    .unwrap()
    .remove(0);
    assert_eq!(
        o.sql(&format!(
            "SELECT read_only, round(extract(epoch FROM expires_at - created_at) / 60) FROM tenantgate.break_glass_grants WHERE id = '{grant}'"
        )),
        "t|15"
    );

    // Reads pass, with the tenant's rows; writes do not (read-only: no write permission).
    let a = o.get(&admin, ACME_HOST, "/api/tasks").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let members = o.get(&admin, ACME_HOST, "/api/org/members").await;
    assert_eq!(members.status, 200, "{}", members.body);
    assert!(members.body.contains("alice@acme.test") && !members.body.contains("bob@globex.test"));
    let w = o
        .call(
            &admin,
            "POST",
            ACME_HOST,
            "/api/tasks",
            Some(json!({"title": "by ops", "project_id": NIL})),
        )
        .await;
    // A read-only grant holds no write permission: the backend's 403 names it, nothing is written.
    refused(
        &w,
        403,
        "forbidden",
        "a task written under a read-only grant",
    );
    assert!(w.body.contains("tasks.write"), "{}", w.body);
    assert_eq!(
        count(&o, "SELECT count(*) FROM app.tasks WHERE title = 'by ops'"),
        0
    );
    let w = o
        .call(
            &admin,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "x@acme.test", "role": "member"})),
        )
        .await;
    refused(
        &w,
        403,
        "forbidden",
        "an invitation under a read-only grant",
    );
    assert!(w.body.contains("members.manage"), "{}", w.body);
    assert_eq!(
        count(
            &o,
            "SELECT count(*) FROM tenantgate.invitations WHERE email = 'x@acme.test'"
        ),
        0
    );
    // Bound to acme: globex's host refuses the same token.
    refused(
        &o.get(&admin, GLOBEX_HOST, "/api/tasks").await,
        403,
        "break_glass_required",
        "globex",
    );
    // Every access on acme, and only those, is in acme's log with the method and path.
    assert_eq!(accesses(&o, ACME), 4);
    assert_eq!(accesses(&o, GLOBEX), 0);
    assert_eq!(
        o.sql(&format!(
            "SELECT target FROM tenantgate.audit_log WHERE tenant_id = '{ACME}' AND action = 'platform.break_glass.access' ORDER BY created_at, id LIMIT 1"
        )),
        "GET /api/tasks"
    );

    // Acme's owner sees the grant and the accesses in the audit log, as a platform admin's.
    let alice = o.session(ALICE, ACME);
    let log = o.get(&alice, ACME_HOST, "/api/org/audit?limit=100").await;
    assert_eq!(log.status, 200, "{}", log.body);
    for action in [
        "platform.break_glass.granted",
        "platform.break_glass.access",
    ] {
        assert!(log.body.contains(action), "{action}: {}", log.body);
    }
    assert!(log.body.contains("platform_admin"), "{}", log.body);
    assert!(log.body.contains("customer ticket 42"), "{}", log.body);
    // And the grant itself, through RLS: acme's, not globex's.
    as_app(
        &o,
        &platform(GLOBEX),
        "SELECT id FROM tenantgate.platform_break_glass_grant('globex ticket 7', false, 5, 'ops', NULL)",
    )
    .await
    .unwrap();
    let owner = context(ACME, ALICE, ALL);
    assert_eq!(
        as_app(
            &o,
            &owner,
            "SELECT string_agg(reason, ',') FROM tenantgate.break_glass_grants"
        )
        .await,
        Ok(vec!["customer ticket 42: tasks missing".to_owned()])
    );

    // Revoked: refused at once (no cache), and the revocation is audited.
    as_app(
        &o,
        &platform(ACME),
        &format!("SELECT tenantgate.platform_break_glass_revoke('{grant}', NULL)"),
    )
    .await
    .unwrap();
    refused(
        &o.get(&admin, ACME_HOST, "/api/tasks").await,
        403,
        "break_glass_required",
        "revoked",
    );
    assert_eq!(
        count(&o, &format!("SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{ACME}' AND action = 'platform.break_glass.revoked'")),
        1
    );
    // Expired: refused.
    o.sql(&format!(
        "INSERT INTO tenantgate.break_glass_grants (tenant_id, admin_id, admin_label, reason, read_only, created_at, expires_at)
         VALUES ('{ACME}', '{OPS}', 'ops', 'old ticket', false, now() - interval '1 hour', now() - interval '1 minute')"
    ));
    refused(
        &o.get(&admin, ACME_HOST, "/api/tasks").await,
        403,
        "break_glass_required",
        "expired",
    );

    // A write grant, stated: writes pass.
    as_app(
        &o,
        &platform(ACME),
        "SELECT id FROM tenantgate.platform_break_glass_grant('fix data for ticket 43', true, 5, 'ops', NULL)",
    )
    .await
    .unwrap();
    let project = o.sql(&format!(
        "SELECT id FROM app.projects WHERE tenant_id = '{ACME}' LIMIT 1"
    ));
    let w = o
        .call(
            &admin,
            "POST",
            ACME_HOST,
            "/api/tasks",
            Some(json!({"title": "fixed by ops", "project_id": project})),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.body);
}

/// A token from the platform's issuer with these platform roles and tenant claims.
fn platform_claiming(roles: &[&str], tenant: &str, perms: &[&str]) -> As {
    As::Bearer(crate::tokens::token(
        "a",
        json!({ "iss": crate::tokens::PLATFORM_ISS, "sub": OPS, "email": "ops@platform.example",
                "platform_roles": roles, "org_id": tenant, "perms": perms, "roles": ["owner"] }),
    ))
}

/// Issue 22 item 1: a platform admin's token that also names a tenant (its id in `org_id`,
/// with tenant permissions) was bound on that tenant's host as an ordinary member, with no
/// grant and no audit row. The platform's issuer is never a tenant credential: its tenant
/// claims are ignored, on the tenant's subdomain and its custom domain alike.
#[tokio::test]
async fn a_platform_admins_token_naming_a_tenant_still_needs_a_break_glass_grant() {
    let o = Orgs::start().await;
    let audit = |tenant: &str| {
        count(
            &o,
            &format!("SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{tenant}'"),
        )
    };
    let (acme_log, globex_log) = (audit(ACME), audit(GLOBEX));
    let read = ["members.read", "tasks.read", "audit.read"];
    let attacks = [
        (
            "admin naming acme",
            platform_claiming(&["platform_admin"], ACME, &read),
            ACME_HOST,
        ),
        (
            "admin naming acme, on its domain",
            platform_claiming(&["platform_admin"], ACME, &read),
            "portal.acme.test",
        ),
        (
            "admin naming globex",
            platform_claiming(&["platform_admin"], GLOBEX, &read),
            GLOBEX_HOST,
        ),
        (
            "admin naming globex, on acme",
            platform_claiming(&["platform_admin"], GLOBEX, ALL),
            ACME_HOST,
        ),
    ];
    for (what, who, host) in &attacks {
        for path in ["/api/org/members", "/api/tasks", "/api/org/audit"] {
            let a = o.get(who, host, path).await;
            refused(&a, 403, "break_glass_required", &format!("{what} {path}"));
            assert!(
                !a.body.contains("@acme.test") && !a.body.contains("@globex.test"),
                "{}",
                a.body
            );
        }
    }
    // The platform's issuer without the role, naming acme: refused as well.
    let support = platform_claiming(&["support"], ACME, &read);
    refused(
        &o.get(&support, ACME_HOST, "/api/org/members").await,
        403,
        "platform_admin_required",
        "support",
    );
    // On the apex, the claim names no tenant.
    let a = o.get(&attacks[0].1, "localhost:3000", "/api/tasks").await;
    refused(&a, 401, "unauthenticated", "apex");
    // Nothing happened: no access recorded, nothing written to either log.
    assert_eq!((audit(ACME), audit(GLOBEX)), (acme_log, globex_log));

    // Control: an ordinary tenant token is bound as before (and writes no audit row).
    let alice = o.bearer(ALICE, ACME, &["members.read"]);
    let a = o.get(&alice, ACME_HOST, "/api/org/members").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("alice@acme.test"), "{}", a.body);
    assert_eq!(audit(ACME), acme_log);
    // Control: the same admin token under a grant passes, and the access is recorded once.
    o.sql(&format!(
        "INSERT INTO tenantgate.break_glass_grants (tenant_id, admin_id, admin_label, reason, expires_at) \
         VALUES ('{ACME}', '{OPS}', 'ops', 'ticket 22', now() + interval '5 minutes')"
    ));
    let a = o.get(&attacks[0].1, ACME_HOST, "/api/org/members").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("alice@acme.test"), "{}", a.body);
    assert_eq!(accesses(&o, ACME), 1);
    assert_eq!(accesses(&o, GLOBEX), 0);
    // The grant's permissions count, not the token's: a read-only grant cannot write.
    let w = o
        .call(
            &attacks[3].1,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "x@acme.test", "role": "member"})),
        )
        .await;
    assert_eq!(w.status, 403, "{}", w.body);
    assert_eq!(
        count(
            &o,
            "SELECT count(*) FROM tenantgate.invitations WHERE email = 'x@acme.test'"
        ),
        0
    );
}

#[tokio::test]
async fn platform_functions_answer_only_a_verified_platform_context() {
    let o = Orgs::start().await;
    let owner = context(ACME, ALICE, ALL);
    // A tenant-scoped context with every permission, a break-glass context, and a platform
    // context signed with the wrong key: none is a platform admin.
    let mut with_break_glass: Vec<&str> = ALL.to_vec();
    with_break_glass.push("platform.break_glass");
    let break_glass = context(ACME, OPS, &with_break_glass);
    let forged = sign_context(
        "k1",
        b"not-the-key-not-the-key-not-the!",
        &json!({"tid": NIL, "slug": "platform", "plc": "shared", "uid": OPS, "roles": ["platform_admin"],
                "perms": ["platform.admin"], "rid": "x", "exp": unix_now() + 300}),
    );
    let calls = [
        "SELECT count(*) FROM tenantgate.platform_tenants(NULL, NULL, NULL, NULL)",
        "SELECT count(*) FROM tenantgate.platform_tenant()",
        "SELECT count(*) FROM tenantgate.platform_lifecycle('suspend', 'x', NULL, NULL)",
        "SELECT count(*) FROM tenantgate.platform_break_glass_grant('a reason', true, 5, 'x', NULL)",
        "SELECT count(*) FROM tenantgate.platform_break_glass_list()",
        "SELECT count(*) FROM tenantgate.platform_export_control(NULL)",
    ];
    for ctx in [&owner, &break_glass, &forged] {
        for sql in calls {
            let got = as_app(&o, ctx, sql).await;
            assert!(
                matches!(&got, Err(e) if e.starts_with("platform_admin_required|")),
                "{sql}: {got:?}"
            );
        }
    }
    assert_eq!(
        o.sql(&format!(
            "SELECT status FROM tenantgate.tenants WHERE id = '{ACME}'"
        )),
        "active"
    );
    // What the application role cannot do at all, whatever its context.
    for (sql, ctx) in [
        (format!("SELECT count(*) FROM tenantgate.break_glass_access('{ACME}', '{OPS}', 'x', 'GET', '/', 'r', NULL)"), &owner),
        (format!("INSERT INTO tenantgate.break_glass_grants (tenant_id, admin_id, admin_label, reason, expires_at) VALUES ('{ACME}', '{OPS}', 'x', 'sneaky', now() + interval '1 hour')"), &owner),
        (format!("UPDATE tenantgate.tenants SET status = 'suspended', suspended_at = now() WHERE id = '{GLOBEX}'"), &platform(GLOBEX)),
        ("SELECT tenantgate.platform_audit(NULL, 'x', 'x', NULL, NULL, NULL, NULL)".to_owned(), &platform(NIL)),
    ] {
        let got = as_app(&o, ctx, &sql).await;
        assert!(matches!(&got, Err(e) if e.contains("permission denied")), "{sql}: {got:?}");
    }
    // A tenant cannot write audit rows that claim to be a platform admin's.
    let got = as_app(
        &o,
        &owner,
        &format!("INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action) VALUES ('{ACME}', 'platform_admin', 'tenant.suspended')"),
    )
    .await;
    assert!(
        matches!(&got, Err(e) if e.contains("come from the tenant context")),
        "{got:?}"
    );

    // The platform context: the list and search, with usage columns.
    let all = as_app(
        &o,
        &platform(NIL),
        "SELECT slug FROM tenantgate.platform_tenants(NULL, NULL, NULL, NULL)",
    )
    .await;
    assert_eq!(
        all,
        Ok(["acme", "globex", "gone", "sleepy"]
            .map(str::to_owned)
            .to_vec())
    );
    let found = as_app(
        &o,
        &platform(NIL),
        "SELECT slug || ' ' || members FROM tenantgate.platform_tenants('GLOB', NULL, NULL, NULL)",
    )
    .await;
    assert_eq!(found, Ok(vec!["globex 3".to_owned()]));
    let paged = as_app(
        &o,
        &platform(NIL),
        "SELECT slug FROM tenantgate.platform_tenants(NULL, 'active', 'acme', 1)",
    )
    .await;
    assert_eq!(paged, Ok(vec!["globex".to_owned()]));
    let bad = as_app(
        &o,
        &platform(NIL),
        "SELECT count(*) FROM tenantgate.platform_tenants(NULL, 'gone', NULL, NULL)",
    )
    .await;
    assert!(
        matches!(&bad, Err(e) if e.starts_with("invalid_status|")),
        "{bad:?}"
    );
    // Naming no tenant, the per-tenant functions refuse.
    let got = as_app(
        &o,
        &platform(NIL),
        "SELECT count(*) FROM tenantgate.platform_tenant()",
    )
    .await;
    assert!(
        matches!(&got, Err(e) if e.starts_with("tenant_required|")),
        "{got:?}"
    );

    // The lifecycle, on the context's tenant only, with the CLI's rules, audited as the admin.
    let acme = platform(ACME);
    let step = |action: &'static str, days: &'static str| {
        format!("SELECT status FROM tenantgate.platform_lifecycle('{action}', 'ticket 9', {days}, '198.51.100.7')")
    };
    assert_eq!(
        as_app(&o, &acme, &step("reactivate", "NULL"))
            .await
            .map_err(|e| e[..13].to_owned()),
        Err("wrong_status|".into())
    );
    assert_eq!(
        as_app(&o, &acme, &step("suspend", "NULL")).await,
        Ok(vec!["suspended".into()])
    );
    assert_eq!(
        as_app(&o, &acme, &step("suspend", "NULL"))
            .await
            .map_err(|e| e[..13].to_owned()),
        Err("wrong_status|".into())
    );
    assert_eq!(
        as_app(&o, &acme, &step("reactivate", "NULL")).await,
        Ok(vec!["active".into()])
    );
    let got = as_app(&o, &acme, &step("delete", "0")).await;
    assert!(
        matches!(&got, Err(e) if e.starts_with("invalid_grace_days|")),
        "{got:?}"
    );
    let got = as_app(&o, &acme, &step("explode", "NULL")).await;
    assert!(
        matches!(&got, Err(e) if e.starts_with("invalid_action|")),
        "{got:?}"
    );
    assert_eq!(
        as_app(&o, &acme, &step("delete", "7")).await,
        Ok(vec!["deleted".into()])
    );
    assert_eq!(
        as_app(&o, &acme, &step("restore", "NULL")).await,
        Ok(vec!["active".into()])
    );
    assert_eq!(
        o.sql(&format!(
            "SELECT status FROM tenantgate.tenants WHERE id = '{GLOBEX}'"
        )),
        "active",
        "globex untouched"
    );
    assert_eq!(
        o.sql(&format!(
            "SELECT string_agg(action || ' ' || actor_kind || ' ' || actor_user_id || ' ' || host(client_addr), ',' ORDER BY created_at, id) \
               FROM tenantgate.audit_log WHERE tenant_id = '{ACME}' AND action LIKE 'tenant.%'"
        )),
        format!(
            "tenant.suspended platform_admin {OPS} 198.51.100.7,tenant.reactivated platform_admin {OPS} 198.51.100.7,\
             tenant.deleted platform_admin {OPS} 198.51.100.7,tenant.restored platform_admin {OPS} 198.51.100.7"
        )
    );
    // The control-plane export: acme's members, not globex's, and the export is audited.
    let members = as_app(
        &o,
        &acme,
        "SELECT string_agg(\"row\"->>'email', ',' ORDER BY \"row\"->>'email') FROM tenantgate.platform_export_control(NULL) WHERE file = 'members'",
    )
    .await;
    assert_eq!(
        members,
        Ok(vec![
            "alice@acme.test,carol@acme.test,mallory@acme.test".to_owned()
        ])
    );
    assert_eq!(
        count(&o, &format!("SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{ACME}' AND action = 'tenant.exported'")),
        1
    );
}

/// `tenantgate platform jwks | token`, the demo's local platform issuer: its entry configures
/// the gateway, and its token is a platform admin's there (verified, recognised: a grant
/// admits it on a tenant host), while the same token with one byte changed is not.
#[tokio::test]
async fn the_local_platform_issuer_makes_tokens_the_gateway_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("platform.key");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(tenantgate_tests::fixtures::host_binary())
            .args(args)
            .args(["--key", key.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let entry = cli(&["platform", "jwks"]);
    let token = cli(&["platform", "token", "--subject", "ops-7"]);
    let app =
        crate::app::App::start_with(&[("SPIN_VARIABLE_JWT_ISSUERS", &format!("[{entry}]"))]).await;
    let bearer = format!("Bearer {token}");

    let (s, v) = app
        .get(ACME_HOST, "/api/tasks", &[("authorization", &bearer)])
        .await;
    assert_eq!(
        (s, crate::app::code(&v)),
        (403, "break_glass_required".into()),
        "{v}"
    );
    let mut tampered = token.clone();
    tampered.insert(token.find('.').unwrap() + 3, 'x');
    let (s, v) = app
        .get(
            ACME_HOST,
            "/api/tasks",
            &[("authorization", &format!("Bearer {tampered}"))],
        )
        .await;
    assert_eq!(
        (s, crate::app::code(&v)),
        (401, "invalid_token".into()),
        "{v}"
    );

    // The admin's id, as the gateway derives it from the issuer and `sub`; a grant admits it.
    let issuer: serde_json::Value = serde_json::from_str(&entry).unwrap();
    let admin = gateway_core::platform::PlatformAdmin::of(&gateway_core::jwt::VerifiedToken {
        issuer: issuer["issuer"].as_str().unwrap().to_owned(),
        subject: Some("ops-7".into()),
        organisation: gateway_core::jwt::Organisation::None,
        roles: Vec::new(),
        permissions: Vec::new(),
        expires_at: 0,
        platform_roles: vec!["platform_admin".parse().unwrap()],
        email: None,
        platform_issuer: true,
    })
    .unwrap();
    app.pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate.break_glass_grants (tenant_id, admin_id, admin_label, reason, expires_at) \
             VALUES ('{ACME}', '{}', 'ops-7', 'demo check', now() + interval '5 minutes')",
            admin.id
        ),
    );
    let (s, v) = app
        .get(ACME_HOST, "/api/tasks", &[("authorization", &bearer)])
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        app.pg
            .psql(
                "postgres",
                "SELECT detail->>'admin' FROM tenantgate.audit_log WHERE action = 'platform.break_glass.access'"
            )
            .trim(),
        "ops-7@platform.localhost"
    );
}
