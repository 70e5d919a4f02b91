//! The platform API (`/api/platform`, issue 16) end to end: the real gateway on the apex in
//! front of the `platform` component and migration 0013's functions, against real Postgres.
//! The tenant list (search, status, paging, placement, usage), the lifecycle over HTTP with its
//! rules and audit rows, break-glass grants, and the export in every placement (shared, schema,
//! dedicated). Every refusal is checked with its exact status and code, beside an allowed
//! control request.

use serde_json::{json, Value};
use tenantgate_tests::dataplane;
use tenantgate_tests::workspace_root;

use crate::app::*;

/// The platform admin of these tests (`tokens::platform_token` names `<sub>@platform.example`).
pub const ADMIN_EMAIL: &str = "ops@platform.example";
const APEX: &str = "localhost:3000";

/// `jwt_issuers`: the tenants' issuer and the platform issuer (tokens.rs).
pub fn issuers() -> String {
    crate::tokens::issuers()
}

/// `Bearer <the platform admin's token>`.
pub fn admin() -> String {
    format!(
        "Bearer {}",
        crate::tokens::platform_token("ops", &["platform_admin"])
    )
}

/// The app with both issuers.
pub async fn start() -> App {
    App::start_with(&[("SPIN_VARIABLE_JWT_ISSUERS", &issuers())]).await
}

async fn call(app: &App, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = admin();
    let mut headers = vec![("authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    app.request(
        method,
        APEX,
        path,
        &headers,
        body.map(|b| b.to_string().into_bytes()),
    )
    .await
}

fn slugs(v: &Value) -> Vec<String> {
    v["tenants"]
        .as_array()
        .unwrap_or_else(|| panic!("not a tenant list: {v}"))
        .iter()
        .map(|t| t["slug"].as_str().unwrap().to_owned())
        .collect()
}

fn sql(app: &App, sql: &str) -> String {
    app.pg.psql("postgres", sql).trim().to_owned()
}

#[tokio::test]
async fn only_a_platform_admin_lists_searches_and_pages_the_tenants() {
    let app = start().await;
    sql(
        &app,
        &format!(
            "INSERT INTO tenantgate.users (id, email) VALUES ('c0000000-0000-4000-8000-000000000001', 'alice@acme.test');
             SELECT tenantgate.seed_system_roles(NULL);
             INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
               VALUES ('{ACME}', 'c0000000-0000-4000-8000-000000000001', 'owner');
             INSERT INTO tenantgate.usage_daily (tenant_id, day, route_class, status_family, audience, requests)
               VALUES ('{ACME}', (now() AT TIME ZONE 'UTC')::date, 'read', '2xx', 'user', 41);"
        ),
    );

    // Who may: nobody without a token, no tenant's token (even one claiming the permission),
    // no platform token without the role; the admin may.
    let (s, v) = app.get(APEX, "/api/platform/tenants", &[]).await;
    assert_eq!((s, code(&v)), (401, "unauthenticated".into()), "{v}");
    let tenant_token = format!(
        "Bearer {}",
        crate::tokens::token(
            "a",
            json!({ "org_id": ACME, "perms": ["platform.admin", "tasks.read"], "platform_roles": ["platform_admin"] })
        )
    );
    let no_role = format!(
        "Bearer {}",
        crate::tokens::platform_token("viewer", &["support"])
    );
    for bad in [&tenant_token, &no_role] {
        let (s, v) = app
            .get(APEX, "/api/platform/tenants", &[("authorization", bad)])
            .await;
        assert_eq!(
            (s, code(&v)),
            (403, "platform_admin_required".into()),
            "{v}"
        );
    }
    let (s, v) = call(&app, "GET", "/api/platform/me", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["admin"], ADMIN_EMAIL);
    assert!(
        v["user_id"].as_str().is_some_and(|id| id.len() == 36),
        "{v}"
    );

    // Every tenant, by slug, with status, plan, placement and usage.
    let (s, v) = call(&app, "GET", "/api/platform/tenants", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(slugs(&v), ["acme", "globex", "gone", "sleepy"]);
    assert_eq!(v["next"], Value::Null);
    let t = |slug: &str| {
        v["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["slug"] == slug)
            .unwrap()
            .clone()
    };
    let acme = t("acme");
    assert_eq!(
        (
            &acme["id"],
            &acme["status"],
            &acme["plan"],
            &acme["placement"]
        ),
        (
            &json!(ACME),
            &json!("active"),
            &json!(TEST_PLAN),
            &json!("shared")
        )
    );
    assert_eq!(acme["members"], 1);
    assert!(acme["requests_today"].as_i64().unwrap() >= 41, "{acme}");
    assert!(acme["requests_month"].as_i64().unwrap() >= 41, "{acme}");
    assert_eq!(acme["monthly_quota"], Value::Null, "the test plan has none");
    assert!(acme["created_at"].as_str().unwrap().ends_with('Z'));
    let globex = t("globex");
    assert_eq!(
        (&globex["placement"], &globex["schema_name"]),
        (&json!("schema"), &json!("tenant_globex"))
    );
    assert_eq!(globex["members"], 0);
    assert_eq!(t("sleepy")["status"], "suspended");
    assert!(t("sleepy")["suspended_at"].is_string());
    assert_eq!(t("gone")["status"], "deleted");
    assert!(t("gone")["purge_after"].is_string());

    // Search (slug or name, any case), status filter, paging.
    for (query, expected) in [
        ("q=GLOB", vec!["globex"]),
        ("q=leep", vec!["sleepy"]),
        ("q=Acme", vec!["acme"]),
        ("q=zzz", vec![]),
        ("status=deleted", vec!["gone"]),
        ("status=active", vec!["acme", "globex"]),
        ("status=active&q=glo", vec!["globex"]),
    ] {
        let (s, v) = call(&app, "GET", &format!("/api/platform/tenants?{query}"), None).await;
        assert_eq!(
            (s, slugs(&v)),
            (200, expected.iter().map(|s| s.to_string()).collect()),
            "{query}: {v}"
        );
    }
    let (_, page1) = call(&app, "GET", "/api/platform/tenants?limit=2", None).await;
    assert_eq!(
        (slugs(&page1), &page1["next"]),
        (vec!["acme".into(), "globex".into()], &json!("globex"))
    );
    let (_, page2) = call(
        &app,
        "GET",
        "/api/platform/tenants?limit=2&after=globex",
        None,
    )
    .await;
    assert_eq!(
        (slugs(&page2), &page2["next"]),
        (vec!["gone".into(), "sleepy".into()], &json!("sleepy"))
    );
    let (_, page3) = call(
        &app,
        "GET",
        "/api/platform/tenants?limit=2&after=sleepy",
        None,
    )
    .await;
    assert_eq!((slugs(&page3), &page3["next"]), (vec![], &Value::Null));

    // Malformed parameters.
    for (query, status, expected) in [
        ("status=archived", 400, "invalid_status"),
        ("limit=0", 400, "invalid_request"),
        ("limit=201", 400, "invalid_request"),
        ("after=Not%20A%20Slug", 400, "invalid_request"),
        ("q=%zz", 400, "invalid_request"),
    ] {
        let (s, v) = call(&app, "GET", &format!("/api/platform/tenants?{query}"), None).await;
        assert_eq!((s, code(&v)), (status, expected.into()), "{query}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let long = "x".repeat(201);
    let (s, v) = call(
        &app,
        "GET",
        &format!("/api/platform/tenants?q={long}"),
        None,
    )
    .await;
    assert_eq!((s, code(&v)), (400, "invalid_query".into()), "{v}");

    // One tenant, any status; an unknown one; unknown paths and methods.
    let (s, v) = call(&app, "GET", "/api/platform/tenants/gone", None).await;
    assert_eq!(
        (s, &v["status"], &v["break_glass"]),
        (200, &json!("deleted"), &json!([])),
        "{v}"
    );
    let (s, v) = call(&app, "GET", "/api/platform/tenants/nosuch", None).await;
    assert_eq!((s, code(&v)), (404, "unknown_tenant".into()), "{v}");
    let (s, v) = call(&app, "GET", "/api/platform/frobnicate", None).await;
    assert_eq!((s, code(&v)), (404, "not_found".into()), "{v}");
    let (s, v) = call(&app, "DELETE", "/api/platform/tenants", None).await;
    assert_eq!((s, code(&v)), (405, "method_not_allowed".into()), "{v}");
    let (s, v) = call(&app, "GET", "/api/platform/tenants/acme/suspend", None).await;
    assert_eq!((s, code(&v)), (405, "method_not_allowed".into()), "{v}");

    // A tenant's host has no platform API, whoever asks: the gateway's 404 (not the platform
    // component's list, and not break-glass's 403), and nothing is written to the tenant's
    // audit log.
    let auth = admin();
    let audited = || {
        app.pg
            .psql(
                "postgres",
                &format!("SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{ACME}'"),
            )
            .trim()
            .to_owned()
    };
    let before = audited();
    for path in [
        "/api/platform/tenants",
        "/platform",
        "/platform/assets/app.js",
    ] {
        let (s, v) = app
            .get("acme.localhost:3000", path, &[("authorization", &auth)])
            .await;
        assert_eq!((s, code(&v)), (404, "not_found".into()), "{path}: {v}");
        assert!(v.get("items").is_none(), "{path}: {v}");
    }
    assert_eq!(audited(), before);
}

#[tokio::test]
async fn the_lifecycle_over_http_follows_the_rules_and_writes_the_tenants_audit_log() {
    let app = start().await;
    let globex = "globex.localhost:3000";
    assert!(
        app.becomes(globex, 200, std::time::Duration::from_secs(5))
            .await
    );

    // Suspend: the tenant's host refuses at once (within the directory cache), audited.
    let (s, v) = call(
        &app,
        "POST",
        "/api/platform/tenants/globex/suspend",
        Some(json!({ "reason": "unpaid invoice 42" })),
    )
    .await;
    assert_eq!((s, &v["status"]), (200, &json!("suspended")), "{v}");
    assert!(v["suspended_at"].is_string());
    assert!(
        app.becomes(globex, 403, std::time::Duration::from_secs(10))
            .await
    );
    let (_, v) = app.get(globex, "/api/tasks", &[]).await;
    assert_eq!(code(&v), "tenant_suspended");
    assert_eq!(
        sql(
            &app,
            &format!(
                "SELECT actor_kind || ' ' || (detail->>'reason') || ' ' || (before_state->>'status') || '>' || (after_state->>'status')
                   FROM tenantgate.audit_log WHERE tenant_id = '{GLOBEX}' AND action = 'tenant.suspended'"
            )
        ),
        "platform_admin unpaid invoice 42 active>suspended"
    );
    // The rules: suspend twice, restore what is not deleted.
    for (action, body) in [("suspend", json!({})), ("restore", json!({}))] {
        let (s, v) = call(
            &app,
            "POST",
            &format!("/api/platform/tenants/globex/{action}"),
            Some(body),
        )
        .await;
        assert_eq!((s, code(&v)), (409, "wrong_status".into()), "{action}: {v}");
    }
    let (s, v) = call(
        &app,
        "POST",
        "/api/platform/tenants/globex/reactivate",
        Some(json!({ "reason": "invoice 42 paid" })),
    )
    .await;
    assert_eq!(
        (s, &v["status"], &v["suspended_at"]),
        (200, &json!("active"), &Value::Null),
        "{v}"
    );
    // Every action records its reason.
    assert_eq!(
        sql(
            &app,
            &format!(
                "SELECT detail->>'reason' FROM tenantgate.audit_log WHERE tenant_id = '{GLOBEX}' AND action = 'tenant.reactivated'"
            )
        ),
        "invoice 42 paid"
    );
    assert!(
        app.becomes(globex, 200, std::time::Duration::from_secs(10))
            .await
    );

    // Delete with a grace period; restore brings back the status it had (sleepy: suspended).
    for (body, status, expected) in [
        (json!({ "grace_days": 0 }), 400, "invalid_grace_days"),
        (json!({ "grace_days": 366 }), 400, "invalid_grace_days"),
        (
            json!({ "grace_days": 10_000_000_000i64 }),
            400,
            "invalid_grace_days",
        ),
        (json!({ "grace_days": "7" }), 400, "invalid_request"),
        (json!({ "grace": 7 }), 400, "invalid_request"),
    ] {
        let (s, v) = call(
            &app,
            "POST",
            "/api/platform/tenants/sleepy/delete",
            Some(body.clone()),
        )
        .await;
        assert_eq!((s, code(&v)), (status, expected.into()), "{body}: {v}");
    }
    let (s, v) = call(
        &app,
        "POST",
        "/api/platform/tenants/sleepy/delete",
        Some(json!({ "grace_days": 7 })),
    )
    .await;
    assert_eq!((s, &v["status"]), (200, &json!("deleted")), "{v}");
    assert_eq!(
        sql(&app, "SELECT round(extract(epoch FROM purge_after - deleted_at) / 86400) FROM tenantgate.tenants WHERE slug = 'sleepy'"),
        "7"
    );
    let (s, v) = call(
        &app,
        "POST",
        "/api/platform/tenants/sleepy/restore",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (s, &v["status"], &v["purge_after"]),
        (200, &json!("suspended"), &Value::Null),
        "{v}"
    );

    // Past the grace period a deleted tenant stays deleted.
    sql(&app, "UPDATE tenantgate.tenants SET purge_after = now() - interval '1 minute' WHERE slug = 'gone'");
    let (s, v) = call(
        &app,
        "POST",
        "/api/platform/tenants/gone/restore",
        Some(json!({})),
    )
    .await;
    assert_eq!((s, code(&v)), (409, "grace_period_over".into()), "{v}");
    assert_eq!(
        sql(
            &app,
            "SELECT status FROM tenantgate.tenants WHERE slug = 'gone'"
        ),
        "deleted"
    );

    // Every action is in the tenant's own log, with the admin as actor and the client address.
    assert_eq!(
        sql(
            &app,
            "SELECT string_agg(a.action, ',' ORDER BY a.created_at, a.id) FROM tenantgate.audit_log a
               JOIN tenantgate.tenants t ON t.id = a.tenant_id
              WHERE t.slug = 'sleepy' AND a.actor_kind = 'platform_admin' AND a.client_addr IS NOT NULL"
        ),
        "tenant.deleted,tenant.restored"
    );

    // State changes take JSON only (no HTML form can post one), and only JSON of their shape.
    let auth = admin();
    for (content_type, body) in [
        (None, "{}"),
        (Some("application/x-www-form-urlencoded"), "reason=x"),
        (Some("text/plain"), "{}"),
        (Some("multipart/form-data; boundary=x"), "--x--"),
    ] {
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(t) = content_type {
            headers.push(("content-type", t));
        }
        let (s, v) = app
            .request(
                "POST",
                APEX,
                "/api/platform/tenants/globex/suspend",
                &headers,
                Some(body.into()),
            )
            .await;
        assert_eq!(
            (s, code(&v)),
            (415, "unsupported_media_type".into()),
            "{content_type:?}: {v}"
        );
    }
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    for body in ["{", "[]", r#"{"reason": 5}"#, r#"{"grace_days": 3}"#] {
        let (s, v) = app
            .request(
                "POST",
                APEX,
                "/api/platform/tenants/globex/suspend",
                &headers,
                Some(body.into()),
            )
            .await;
        assert_eq!(
            (s, code(&v)),
            (400, "invalid_request".into()),
            "{body}: {v}"
        );
    }
    let long = json!({ "reason": "x".repeat(501) });
    let (s, v) = call(
        &app,
        "POST",
        "/api/platform/tenants/globex/suspend",
        Some(long),
    )
    .await;
    assert_eq!((s, code(&v)), (400, "invalid_request".into()), "{v}");
    // None of the refused requests changed anything.
    assert_eq!(
        sql(
            &app,
            "SELECT status FROM tenantgate.tenants WHERE slug = 'globex'"
        ),
        "active"
    );
}

#[tokio::test]
async fn break_glass_is_granted_with_a_reason_listed_revoked_and_in_the_tenants_log() {
    let app = start().await;
    let auth = admin();
    let acme = "acme.localhost:3000";

    // The admin's token means nothing on a tenant's host without a grant.
    let (s, v) = app
        .get(acme, "/api/tasks", &[("authorization", &auth)])
        .await;
    assert_eq!((s, code(&v)), (403, "break_glass_required".into()), "{v}");

    let grant = "/api/platform/tenants/acme/break-glass";
    for (body, status, expected) in [
        (json!({}), 400, "reason_required"),
        (json!({ "reason": "  x " }), 400, "reason_required"),
        (
            json!({ "reason": "ticket 7", "minutes": 0 }),
            400,
            "invalid_minutes",
        ),
        (
            json!({ "reason": "ticket 7", "minutes": 241 }),
            400,
            "invalid_minutes",
        ),
        (
            json!({ "reason": "ticket 7", "minutes": 1i64 << 40 }),
            400,
            "invalid_minutes",
        ),
        (
            json!({ "reason": "ticket 7", "write": "yes" }),
            400,
            "invalid_request",
        ),
        (
            json!({ "reason": "ticket 7", "scope": "all" }),
            400,
            "invalid_request",
        ),
    ] {
        let (s, v) = call(&app, "POST", grant, Some(body.clone())).await;
        assert_eq!((s, code(&v)), (status, expected.into()), "{body}: {v}");
    }
    let (s, v) = call(
        &app,
        "POST",
        "/api/platform/tenants/sleepy/break-glass",
        Some(json!({ "reason": "ticket 7" })),
    )
    .await;
    assert_eq!((s, code(&v)), (409, "wrong_status".into()), "{v}");

    // Granted: read-only, 15 minutes by default.
    let (s, g) = call(
        &app,
        "POST",
        grant,
        Some(json!({ "reason": "ticket 7: a stuck task" })),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(
        (&g["read_only"], &g["reason"], &g["admin_label"]),
        (
            &json!(true),
            &json!("ticket 7: a stuck task"),
            &json!(ADMIN_EMAIL)
        )
    );
    let id = g["id"].as_str().unwrap().to_owned();
    assert_eq!(
        sql(&app, &format!("SELECT round(extract(epoch FROM expires_at - created_at) / 60) FROM tenantgate.break_glass_grants WHERE id = '{id}'")),
        "15"
    );
    let (s, v) = call(&app, "GET", "/api/platform/tenants/acme", None).await;
    assert_eq!(s, 200, "{v}");
    let listed = &v["break_glass"][0];
    assert_eq!(
        (
            &listed["id"],
            &listed["active"],
            &listed["read_only"],
            &listed["admin_label"],
            &listed["reason"]
        ),
        (
            &json!(id),
            &json!(true),
            &json!(true),
            &json!(ADMIN_EMAIL),
            &json!("ticket 7: a stuck task")
        ),
        "{v}"
    );
    let (s, v) = call(&app, "GET", grant, None).await;
    assert_eq!((s, &v["break_glass"][0]["id"]), (200, &json!(id)), "{v}");

    // With it, the admin reads acme on acme's host, and cannot write.
    let (s, v) = app
        .get(acme, "/api/tasks", &[("authorization", &auth)])
        .await;
    assert_eq!((s, titles(&v).len()), (200, 2), "{v}");
    let (s, v) = app
        .request("POST", acme, "/api/tasks", &[("authorization", &auth), ("content-type", "application/json")],
            Some(br#"{"title":"from the platform","project_id":"a1000000-0000-4000-8000-000000000001"}"#.to_vec()))
        .await;
    assert_eq!(
        (s, code(&v)),
        (403, "forbidden".into()),
        "a read-only grant cannot write: {v}"
    );
    assert_eq!(
        sql(
            &app,
            "SELECT count(*) FROM app.tasks WHERE title = 'from the platform'"
        ),
        "0"
    );
    // Not on globex's host: the grant is acme's.
    let (s, v) = app
        .get(
            "globex.localhost:3000",
            "/api/tasks",
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!((s, code(&v)), (403, "break_glass_required".into()), "{v}");

    // Revoked: by its tenant's path only, once.
    let (_, other) = call(
        &app,
        "POST",
        "/api/platform/tenants/globex/break-glass",
        Some(json!({ "reason": "globex ticket" })),
    )
    .await;
    let other_id = other["id"].as_str().unwrap();
    let (s, v) = call(&app, "DELETE", &format!("{grant}/{other_id}"), None).await;
    assert_eq!(
        (s, code(&v)),
        (404, "not_found".into()),
        "another tenant's grant: {v}"
    );
    let (s, v) = call(&app, "DELETE", &format!("{grant}/{id}"), None).await;
    assert_eq!(
        (s, &v["id"], &v["revoked"]),
        (200, &json!(id), &json!(true)),
        "{v}"
    );
    let (s, v) = call(&app, "DELETE", &format!("{grant}/{id}"), None).await;
    assert_eq!((s, code(&v)), (404, "not_found".into()), "{v}");
    let (s, v) = call(&app, "DELETE", &format!("{grant}/not-a-grant"), None).await;
    assert_eq!((s, code(&v)), (404, "not_found".into()), "{v}");
    let (s, v) = app
        .get(acme, "/api/tasks", &[("authorization", &auth)])
        .await;
    assert_eq!((s, code(&v)), (403, "break_glass_required".into()), "{v}");
    let (_, v) = call(&app, "GET", "/api/platform/tenants/acme", None).await;
    assert_eq!(
        (
            &v["break_glass"][0]["active"],
            v["break_glass"][0]["revoked_at"].is_string()
        ),
        (&json!(false), true),
        "{v}"
    );

    // acme's log has the grant, the access and the revocation; globex's has only its own grant.
    let actions = |tenant: &str| {
        sql(&app, &format!(
            "SELECT string_agg(DISTINCT action, ',') FROM tenantgate.audit_log
              WHERE tenant_id = '{tenant}' AND action LIKE 'platform.%' AND actor_kind = 'platform_admin'"
        ))
    };
    assert_eq!(
        actions(ACME),
        "platform.break_glass.access,platform.break_glass.granted,platform.break_glass.revoked"
    );
    assert_eq!(actions(GLOBEX), "platform.break_glass.granted");
}

/// A dedicated database `big` in the same cluster (its own `app` schema), with tenant
/// `initech` placed there and one project and task.
const INITECH: &str = "d0000000-0000-4000-8000-00000000000d";

fn add_dedicated_tenant(app: &App) {
    app.pg.psql("postgres", "CREATE DATABASE big");
    for file in dataplane::files_of_scope("database") {
        app.pg
            .apply_file("big", &workspace_root().join("migrations").join(&file), "")
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    for file in dataplane::files_of_scope("tenant") {
        app.pg
            .apply_file(
                "big",
                &workspace_root().join("migrations").join(&file),
                "-c search_path=app",
            )
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    app.pg.psql(
        "big",
        &format!(
            "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('k1', '\\x{}');
             INSERT INTO app.projects (tenant_id, id, name) VALUES ('{INITECH}', 'd1000000-0000-4000-8000-000000000001', 'Initech TPS');
             INSERT INTO app.tasks (tenant_id, project_id, title) VALUES ('{INITECH}', 'd1000000-0000-4000-8000-000000000001', 'initech: cover sheets');",
            dataplane::hex(KEY)
        ),
    );
    sql(
        app,
        &format!(
            "INSERT INTO tenantgate.tenants (id, slug, name, plan) VALUES ('{INITECH}', 'initech', 'Initech', '{TEST_PLAN}');
             INSERT INTO tenantgate.tenant_placements (tenant_id, placement, database_target) VALUES ('{INITECH}', 'dedicated', 'big');"
        ),
    );
}

/// The export's lines as JSON.
fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

async fn export(app: &App, slug: &str) -> (u16, String, String, String) {
    let auth = admin();
    let resp = tenantgate_tests::host::client()
        .get(
            app.host
                .url(&format!("/api/platform/tenants/{slug}/export")),
        )
        .header("host", APEX)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    (status, kind, disposition, resp.text().await.unwrap())
}

#[tokio::test]
async fn the_export_holds_exactly_the_tenants_rows_in_every_placement() {
    // The dedicated database's URL is known once the cluster runs: start, add it, then serve
    // from a second host configured with the target.
    let first = start().await;
    add_dedicated_tenant(&first);
    let targets = format!("big={}", first.pg.url_as("tenantgate_app", "big"));
    let host = first
        .another_host(&[
            ("SPIN_VARIABLE_JWT_ISSUERS", &issuers()),
            ("SPIN_VARIABLE_DATABASE_TARGETS", &targets),
        ])
        .await;
    let App { pg, host: unused } = first;
    drop(unused);
    let app = App { pg, host };
    sql(&app, &format!(
        "SELECT tenantgate.seed_system_roles(NULL);
         INSERT INTO tenantgate.users (email) VALUES ('alice@acme.test'), ('gina@globex.test');
         INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
           SELECT '{ACME}'::uuid, id, 'owner' FROM tenantgate.users WHERE email = 'alice@acme.test'
           UNION ALL SELECT '{GLOBEX}'::uuid, id, 'owner' FROM tenantgate.users WHERE email = 'gina@globex.test';"
    ));

    for (slug, tid, tasks, domains) in [
        (
            "acme",
            ACME,
            vec!["acme: book venue", "acme: print flyers"],
            vec!["portal.acme.test"],
        ),
        (
            "globex",
            GLOBEX,
            vec!["globex: hire engineers"],
            vec!["unverified.globex.test"],
        ),
        ("initech", INITECH, vec!["initech: cover sheets"], vec![]),
    ] {
        let (s, kind, disposition, text) = export(&app, slug).await;
        assert_eq!(s, 200, "{slug}: {text}");
        assert_eq!(kind, "application/x-ndjson");
        assert_eq!(
            disposition,
            format!("attachment; filename=\"{slug}-export.ndjson\"")
        );
        let l = lines(&text);
        let (head, end) = (&l[0], l.last().unwrap());
        assert_eq!(
            (
                &head["format"],
                &head["tenant"]["slug"],
                &head["tenant"]["id"]
            ),
            (&json!("tenantgate-export/1"), &json!(slug), &json!(tid)),
            "{slug}"
        );
        assert!(head["exported_at"].is_string());
        assert_eq!(end["end"], true, "{slug}");
        let rows = &l[1..l.len() - 1];
        let of = |file: &str| {
            rows.iter()
                .filter(|r| r["file"] == file)
                .map(|r| r["row"].clone())
                .collect::<Vec<_>>()
        };
        // The last line counts every file's lines.
        for (file, n) in end["rows"].as_object().unwrap() {
            assert_eq!(of(file).len() as u64, n.as_u64().unwrap(), "{slug} {file}");
        }
        assert_eq!(
            rows.len() as u64,
            end["rows"]
                .as_object()
                .unwrap()
                .values()
                .map(|n| n.as_u64().unwrap())
                .sum::<u64>()
        );
        // Data: exactly the tenant's rows of its placement, every table.
        let mut got: Vec<String> = of("data/tasks")
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, tasks, "{slug}");
        assert_eq!(of("data/projects").len(), 1, "{slug}");
        for r in rows
            .iter()
            .filter(|r| r["file"].as_str().unwrap().starts_with("data/"))
        {
            assert_eq!(r["row"]["tenant_id"], tid, "{slug}: {r}");
        }
        // Control: its domains, its members, its audit log with this export in it.
        let got: Vec<Value> = of("control/domains")
            .iter()
            .map(|d| d["domain"].clone())
            .collect();
        assert_eq!(
            got,
            domains.iter().map(|d| json!(d)).collect::<Vec<_>>(),
            "{slug}"
        );
        let members: Vec<Value> = of("control/members")
            .iter()
            .map(|m| m["email"].clone())
            .collect();
        match slug {
            "acme" => assert_eq!(members, [json!("alice@acme.test")]),
            "globex" => assert_eq!(members, [json!("gina@globex.test")]),
            _ => assert!(members.is_empty()),
        }
        assert!(
            of("control/audit_log")
                .iter()
                .any(|a| a["action"] == "tenant.exported"),
            "{slug}"
        );
        assert_eq!(
            sql(&app, &format!("SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{tid}' AND action = 'tenant.exported' AND detail->>'via' = 'api' AND actor_kind = 'platform_admin'")),
            "1",
            "{slug}"
        );
    }

    // Over the cap: refused whole, with the CLI named, and no audit row for it.
    let sleepy = sql(
        &app,
        "SELECT id FROM tenantgate.tenants WHERE slug = 'sleepy'",
    );
    sql(&app, &format!(
        "INSERT INTO app.projects (tenant_id, id, name) VALUES ('{sleepy}', 'e1000000-0000-4000-8000-000000000001', 'Big');
         INSERT INTO app.tasks (tenant_id, project_id, title)
           SELECT '{sleepy}', 'e1000000-0000-4000-8000-000000000001', 'task ' || n FROM generate_series(1, 100000) AS n;"
    ));
    let (s, kind, _, text) = export(&app, "sleepy").await;
    assert_eq!((s, kind.as_str()), (413, "application/json"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(code(&v), "export_too_large");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tenantgate tenant export"),
        "{v}"
    );
    let exported = format!(
        "SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{sleepy}' AND action = 'tenant.exported'"
    );
    assert_eq!(sql(&app, &exported), "0");
    // The control: exactly at the cap (the control rows, with the export's own audit row, one
    // project and the rest tasks), the export is whole.
    let control: usize = sql(
        &app,
        &format!(
            "SELECT (SELECT count(*) FROM tenantgate.roles WHERE tenant_id = '{sleepy}')
              + (SELECT count(*) FROM tenantgate.tenant_domains WHERE tenant_id = '{sleepy}')
              + (SELECT count(*) FROM tenantgate.memberships WHERE tenant_id = '{sleepy}')
              + (SELECT count(*) FROM tenantgate.invitations WHERE tenant_id = '{sleepy}')
              + (SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{sleepy}') + 1"
        ),
    )
    .parse()
    .unwrap();
    let keep = 100_000 - control - 1;
    sql(
        &app,
        &format!(
            "DELETE FROM app.tasks WHERE tenant_id = '{sleepy}' AND id IN
           (SELECT id FROM app.tasks WHERE tenant_id = '{sleepy}' ORDER BY id OFFSET {keep})"
        ),
    );
    let (s, _, _, text) = export(&app, "sleepy").await;
    assert_eq!(s, 200);
    let l = lines(&text);
    let end = &l.last().unwrap()["rows"];
    assert_eq!(end["data/tasks"], keep as u64);
    assert_eq!(l.len(), 100_000 + 2, "the header, every row, the end");
    assert_eq!(sql(&app, &exported), "1");
}
