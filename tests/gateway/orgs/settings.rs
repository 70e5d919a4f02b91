//! Domains, SSO settings, usage, the audit export and the admin pages.

use crate::web::{answer, client};
use serde_json::{json, Value};

use super::*;
use crate::app::{ACME, GLOBEX};

#[tokio::test]
async fn domains_sso_usage_export_and_the_admin_pages() {
    let o = Orgs::start().await;
    let alice = o.session(ALICE, ACME);
    let carol = o.session(CAROL, ACME);
    // Domains: a pending claim with its TXT record; twice is 409; a member may not.
    let a = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/domains",
            Some(json!({"domain": "Shop.Acme.Example."})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let d = a.json();
    assert_eq!(
        (
            d["domain"].as_str(),
            d["status"].as_str(),
            d["txt_name"].as_str()
        ),
        (
            Some("shop.acme.example"),
            Some("pending"),
            Some("_tenantgate.shop.acme.example")
        )
    );
    assert!(d["txt_value"].as_str().unwrap().starts_with("tg-verify-"));
    refused(
        &o.call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/domains",
            Some(json!({"domain": "shop.acme.example"})),
        )
        .await,
        409,
        "conflict",
        "claimed twice",
    );
    refused(
        &o.call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/domains",
            Some(json!({"domain": "not a domain"})),
        )
        .await,
        400,
        "bad_request",
        "malformed",
    );
    refused(
        &o.get(&carol, ACME_HOST, "/api/org/domains").await,
        403,
        "forbidden",
        "member lists domains",
    );
    // The verified domain of the harness (portal.acme.test) is listed as verified.
    let list = o.get(&alice, ACME_HOST, "/api/org/domains").await;
    assert_eq!(field(&list, "status"), ["verified", "pending"]);

    // SSO: none yet; then a provider (set by the control plane) is shown without its secret.
    let s = o.call(&alice, "GET", ACME_HOST, "/api/org/sso", None).await;
    assert_eq!(
        (s.status, s.json()["provider"].clone()),
        (200, Value::Null),
        "{}",
        s.body
    );
    assert_eq!(
        s.json()["sp"]["redirect_uri"],
        "http://acme.localhost:3000/auth/oidc/callback"
    );
    refused(
        &o.call(
            &alice,
            "PATCH",
            ACME_HOST,
            "/api/org/sso",
            Some(json!({"jit": false})),
        )
        .await,
        404,
        "sso_not_configured",
        "no provider",
    );
    o.sql(&format!(
        "INSERT INTO tenantgate.sso_providers (tenant_id, kind, display_name, issuer, client_id, client_secret) \
         VALUES ('{ACME}', 'oidc', 'Acme IdP', 'https://idp.acme.test', 'acme-app', 'very-secret-value')"
    ));
    let s = o.get(&alice, ACME_HOST, "/api/org/sso").await;
    assert_eq!(s.json()["provider"]["issuer"], "https://idp.acme.test");
    assert!(!s.body.contains("very-secret-value"), "{}", s.body);
    let a = o
        .call(
            &alice,
            "PATCH",
            ACME_HOST,
            "/api/org/sso",
            Some(json!({"jit": false, "allowed_email_domains": ["Acme.Example"]})),
        )
        .await;
    assert_eq!(
        (
            a.status,
            a.json()["jit"].clone(),
            a.json()["allowed_email_domains"].clone()
        ),
        (200, json!(false), json!(["acme.example"])),
        "{}",
        a.body
    );
    refused(
        &o.call(
            &alice,
            "PATCH",
            ACME_HOST,
            "/api/org/sso",
            Some(json!({"default_role": "owner"})),
        )
        .await,
        400,
        "bad_request",
        "JIT owners",
    );
    refused(
        &o.call(&carol, "GET", ACME_HOST, "/api/org/sso", None).await,
        403,
        "forbidden",
        "member reads SSO",
    );

    // Usage: per day and this month against the quota.
    o.sql(&format!(
        "INSERT INTO tenantgate.usage_daily (tenant_id, day, route_class, status_family, audience, requests) VALUES \
           ('{ACME}', current_date - 1, 'read', '2xx', 'user', 7), ('{ACME}', current_date - 1, 'write', '429', 'user', 2), \
           ('{GLOBEX}', current_date - 1, 'read', '2xx', 'user', 1000)"
    ));
    let u = o.get(&alice, ACME_HOST, "/api/org/usage?days=7").await;
    assert_eq!(u.status, 200, "{}", u.body);
    // Yesterday's rows as inserted (the gateway counts today's requests itself).
    let day = &u.json()["days"][0];
    assert_eq!(
        (
            day["requests"].clone(),
            day["read"].clone(),
            day["rate_limited"].clone(),
            day["auth"].clone()
        ),
        (json!(9), json!(7), json!(2), json!(0)),
        "{}",
        u.body
    );
    assert!(u.json()["month_to_date"].is_u64(), "{}", u.body);
    assert_eq!(
        u.json()["monthly_quota"],
        Value::Null,
        "the test plan has no quota"
    );
    refused(
        &o.get(&alice, ACME_HOST, "/api/org/usage?days=91").await,
        400,
        "bad_request",
        "days",
    );

    // Export: every matching event, JSONL and CSV, as an attachment.
    let x = o
        .get(&alice, ACME_HOST, "/api/org/audit/export?format=jsonl")
        .await;
    assert_eq!(x.status, 200);
    let lines: Vec<Value> = x
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["sso.updated", "domain.added"]
    );
    let c = o
        .get(
            &alice,
            ACME_HOST,
            "/api/org/audit/export?format=csv&action=domain.added",
        )
        .await;
    assert_eq!(c.body.lines().count(), 2, "{}", c.body);
    assert!(c.body.starts_with("id,at,actor_kind,"));
    refused(
        &o.get(&carol, ACME_HOST, "/api/org/audit/export").await,
        403,
        "forbidden",
        "member exports",
    );

    // Past the bound: 50,000 rows, read in chunks without a duplicate or a gap, and a marker.
    o.sql(&format!(
        "INSERT INTO tenantgate.audit_log (tenant_id, actor_kind, action, target, created_at) \
         SELECT '{ACME}', 'system', 'bulk.event', i::text, now() - make_interval(secs => i) \
           FROM generate_series(1, 50001) AS i"
    ));
    let resp = client()
        .get(
            o.app
                .host
                .url("/api/org/audit/export?format=jsonl&action=bulk.event"),
        )
        .header("host", ACME_HOST)
        .header(
            "cookie",
            match &alice {
                As::Cookie(c) => c.clone(),
                As::Bearer(_) => unreachable!(),
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-export-truncated"], "true");
    let body = resp.text().await.unwrap();
    let targets: Vec<u32> = body
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["target"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(
        targets,
        (1..=50_000).collect::<Vec<u32>>(),
        "newest first, each once"
    );
    let c = o
        .get(
            &alice,
            ACME_HOST,
            "/api/org/audit/export?format=csv&action=bulk.event&since=2000-01-01T00:00:00Z",
        )
        .await;
    assert_eq!(c.body.lines().count(), 50_001, "the header and the bound");

    // The admin pages: the same page for every path, assets by name, the strict headers.
    for path in ["/admin", "/admin/members", "/admin/accept?token=x"] {
        let p = answer(client().get(o.app.host.url(path)).header("host", ACME_HOST)).await;
        assert_eq!(p.status, 200, "{path}");
        assert!(p.body.contains("/admin/assets/app.js"), "{path}");
    }
    let resp = client()
        .get(o.app.host.url("/admin/assets/app.js"))
        .header("host", ACME_HOST)
        .send()
        .await
        .unwrap();
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(h("content-type").starts_with("text/javascript"));
    assert!(
        h("content-security-policy").contains("script-src 'self'")
            && h("content-security-policy").contains("frame-ancestors 'none'")
    );
    assert_eq!(
        (
            h("x-content-type-options"),
            h("cache-control"),
            h("referrer-policy")
        ),
        ("nosniff".into(), "no-cache".into(), "same-origin".into())
    );
    let missing = answer(
        client()
            .get(o.app.host.url("/admin/assets/nope.js"))
            .header("host", ACME_HOST),
    )
    .await;
    assert_eq!(missing.status, 404);
    // The API without a user: 401; with a user and the permission: 200 (above).
    let a = answer(
        client()
            .get(o.app.host.url("/api/org/me"))
            .header("host", ACME_HOST),
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.body);
}
