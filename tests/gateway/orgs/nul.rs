//! Issue 22 item 2: a NUL character in client text that reaches Postgres (which takes none in
//! text) was a 500. Every family through the real gateway: `orgs` bodies and query strings,
//! `tasks` bodies, `platform` bodies and query strings, the gateway's own login and switch
//! parameters. Each NUL case is a 400 naming the field with nothing written; beside it the same
//! request without the NUL succeeds.

use serde_json::{json, Value};

use super::*;
use crate::tokens::platform_token;

/// Rows in the tables these requests could write.
fn rows(o: &Orgs) -> String {
    o.sql(
        "SELECT (SELECT count(*) FROM tenantgate.tenants) || ' ' || \
                (SELECT count(*) FROM tenantgate.invitations) || ' ' || \
                (SELECT count(*) FROM tenantgate.tenant_domains) || ' ' || \
                (SELECT count(*) FROM tenantgate.roles) || ' ' || \
                (SELECT count(*) FROM tenantgate.memberships) || ' ' || \
                (SELECT count(*) FROM tenantgate.audit_log) || ' ' || \
                (SELECT count(*) FROM app.projects) || ' ' || \
                (SELECT count(*) FROM app.tasks) || ' ' || \
                (SELECT count(*) FROM tenantgate.sso_flows) || ' ' || \
                (SELECT count(*) FROM tenantgate.switch_tickets) || ' ' || \
                (SELECT string_agg(status::text, ',' ORDER BY slug) FROM tenantgate.tenants)",
    )
}

/// Asserts a 400 with `code` whose message names `field`, and that nothing changed.
fn refused_naming(a: &Answer, code: &str, field: &str, before: &str, o: &Orgs, what: &str) {
    refused(a, 400, code, what);
    let message = a.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(field) && message.contains("NUL"),
        "{what}: {message}"
    );
    assert_eq!(rows(o), before, "{what}: nothing may change");
}

#[tokio::test]
async fn a_nul_in_any_client_text_is_a_400_naming_the_field_and_changes_nothing() {
    let o = Orgs::start().await;
    let alice = o.session(ALICE, ACME);
    let nul = "\u{0}";
    let project = o.sql(&format!(
        "SELECT id FROM app.projects WHERE tenant_id = '{ACME}' ORDER BY id LIMIT 1"
    ));

    // (method, path, body with the NUL, the field it names, the same body without it, status)
    let cases: Vec<(&str, &str, Value, &str, Value, u16)> = vec![
        (
            "POST",
            "/api/org/organisations",
            json!({"slug": format!("initech{nul}"), "name": "Initech"}),
            "$.slug",
            json!({"slug": "initech", "name": "Initech"}),
            201,
        ),
        (
            "POST",
            "/api/org/invitations",
            json!({"email": format!("dave{nul}@example.test"), "role": "member"}),
            "$.email",
            json!({"email": "dave@example.test", "role": "member"}),
            201,
        ),
        (
            "POST",
            "/api/org/invitations",
            json!({"email": "eve@example.test", "role": format!("member{nul}")}),
            "$.role",
            json!({"email": "eve@example.test", "role": "member"}),
            201,
        ),
        (
            "POST",
            "/api/org/domains",
            json!({"domain": format!("acme{nul}.example")}),
            "$.domain",
            json!({"domain": "acme-nul.example"}),
            201,
        ),
        (
            "POST",
            "/api/org/roles",
            json!({"name": format!("auditor{nul}"), "permissions": ["audit.read"]}),
            "$.name",
            json!({"name": "auditor", "permissions": ["audit.read"]}),
            201,
        ),
        (
            "POST",
            "/api/org/roles",
            json!({"name": "reader", "permissions": ["audit.read", format!("tasks.read{nul}")]}),
            "$.permissions[1]",
            json!({"name": "reader", "permissions": ["audit.read", "tasks.read"]}),
            201,
        ),
        (
            "PATCH",
            "/api/org/sso",
            json!({"allowed_email_domains": ["acme.test", format!("x{nul}")]}),
            "$.allowed_email_domains[1]",
            json!({"allowed_email_domains": ["acme.test"]}),
            // acme has no identity provider: the control is its usual answer.
            404,
        ),
        (
            "POST",
            "/api/projects",
            json!({"name": format!("Rocket{nul}")}),
            "$.name",
            json!({"name": "Rocket"}),
            201,
        ),
        (
            "POST",
            "/api/tasks",
            json!({"project_id": project, "title": "Fuel", "description": format!("a{nul}b")}),
            "$.description",
            json!({"project_id": project, "title": "Fuel", "description": "ab"}),
            201,
        ),
    ];
    for (method, path, attack, field, control, status) in &cases {
        let before = rows(&o);
        let a = o
            .call(&alice, method, ACME_HOST, path, Some(attack.clone()))
            .await;
        refused_naming(&a, "bad_request", field, &before, &o, path);
        let a = o
            .call(&alice, method, ACME_HOST, path, Some(control.clone()))
            .await;
        assert_eq!(a.status, *status, "{method} {path} control: {}", a.body);
    }
    // A key holding a NUL, nested: named by where it is.
    let before = rows(&o);
    let a = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/roles",
            Some(json!({"name": "x", "permissions": [], format!("k{nul}"): 1})),
        )
        .await;
    refused_naming(&a, "bad_request", "a key in $", &before, &o, "key");

    // Query strings: a NUL (`%00`) in a parameter, named; the same without it answers.
    for (path, field, control) in [
        (
            "/api/org/audit?action=member%00",
            "`action`",
            "/api/org/audit?action=member",
        ),
        (
            "/api/org/audit?actor=alice%00",
            "`actor`",
            "/api/org/audit?actor=alice",
        ),
        (
            "/api/org/invitations?status=pending%00",
            "`status`",
            "/api/org/invitations?status=pending",
        ),
    ] {
        let before = rows(&o);
        let a = o.get(&alice, ACME_HOST, path).await;
        refused_naming(&a, "bad_request", field, &before, &o, path);
        assert_eq!(
            o.get(&alice, ACME_HOST, control).await.status,
            200,
            "{control}"
        );
    }

    // The platform API (its malformed-input code is `invalid_request`).
    let admin = As::Bearer(platform_token(
        "0f000000-0000-4000-8000-0000000000f1",
        &["platform_admin"],
    ));
    let apex = "localhost:3000";
    let before = rows(&o);
    let a = o.get(&admin, apex, "/api/platform/tenants?q=ac%00me").await;
    refused_naming(&a, "invalid_request", "`q`", &before, &o, "platform q");
    let a = o.get(&admin, apex, "/api/platform/tenants?q=acme").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = o
        .call(
            &admin,
            "POST",
            apex,
            "/api/platform/tenants/acme/suspend",
            Some(json!({"reason": format!("unpaid{nul}")})),
        )
        .await;
    refused_naming(
        &a,
        "invalid_request",
        "$.reason",
        &before,
        &o,
        "platform reason",
    );

    // The gateway's own parameters: the switch form and a login's return_to.
    let switch = |body: &'static str| {
        let c = client()
            .post(o.app.host.url("/auth/switch"))
            .header("host", ACME_HOST)
            .header("origin", "http://acme.localhost:3000")
            .header("content-type", "application/x-www-form-urlencoded");
        let c = match &alice {
            As::Cookie(v) => c.header("cookie", v),
            As::Bearer(_) => unreachable!(),
        };
        answer(c.body(body))
    };
    for (body, field) in [
        ("to=globex%00", "to"),
        ("to=globex&return_to=%2Fadmin%00", "return_to"),
    ] {
        let before = rows(&o);
        let a = switch(body).await;
        refused_naming(&a, "bad_request", field, &before, &o, body);
    }
    let a = switch("to=globex&return_to=%2Fadmin").await;
    assert_eq!(a.status, 302, "switch control: {}", a.body);
    let login = |q: &'static str| {
        answer(
            client()
                .get(o.app.host.url(&format!("/auth/login?{q}")))
                .header("host", ACME_HOST),
        )
    };
    let before = rows(&o);
    let a = login("return_to=%2Fadmin%00").await;
    refused_naming(
        &a,
        "bad_request",
        "return_to",
        &before,
        &o,
        "login return_to",
    );
    assert_ne!(
        login("return_to=%2Fadmin").await.status,
        400,
        "login control"
    );

    // Control for the platform body last (it changes a tenant's status).
    let a = o
        .call(
            &admin,
            "POST",
            apex,
            "/api/platform/tenants/globex/suspend",
            Some(json!({"reason": "unpaid"})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        o.sql("SELECT status FROM tenantgate.tenants WHERE slug = 'globex'"),
        "suspended"
    );
}
