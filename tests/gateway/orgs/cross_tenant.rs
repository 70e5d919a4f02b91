//! acme's people cannot reach globex's members, invitations, roles, domains or log.

use serde_json::{json, Value};

use super::*;
use crate::app::{ACME, GLOBEX};

/// (what, method, path of globex's item, body, status, code, path of acme's own item).
type CrossTenant<'a> = (
    &'a str,
    &'a str,
    String,
    Option<Value>,
    u16,
    &'a str,
    String,
);

#[tokio::test]
async fn acme_cannot_reach_globex_through_ids_names_tokens_or_the_switcher() {
    let o = Orgs::start().await;
    let alice = o.session(ALICE, ACME);
    let bob = o.session(BOB, GLOBEX);
    // Globex's own things: an invitation, a custom role, a domain.
    let g_inv = o
        .call(
            &bob,
            "POST",
            GLOBEX_HOST,
            "/api/org/invitations",
            Some(json!({"email": "alice@acme.test", "role": "member"})),
        )
        .await;
    assert_eq!(
        g_inv.status, 409,
        "alice is globex's member already: {}",
        g_inv.body
    );
    let g_inv = o
        .call(
            &bob,
            "POST",
            GLOBEX_HOST,
            "/api/org/invitations",
            Some(json!({"email": "dave@example.test", "role": "member"})),
        )
        .await;
    assert_eq!(g_inv.status, 201, "{}", g_inv.body);
    let g_id = g_inv.json()["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let g_token = g_inv.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        o.call(
            &bob,
            "POST",
            GLOBEX_HOST,
            "/api/org/roles",
            Some(json!({"name": "auditor", "permissions": ["audit.read"]}))
        )
        .await
        .status,
        201
    );
    assert_eq!(
        o.call(
            &bob,
            "POST",
            GLOBEX_HOST,
            "/api/org/domains",
            Some(json!({"domain": "portal.globex.test"}))
        )
        .await
        .status,
        201
    );

    // Each attack on acme's host, then the same request for acme's own item (allowed).
    let a_inv = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "eve@example.test", "role": "member"})),
        )
        .await;
    let a_id = a_inv.json()["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        o.call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/roles",
            Some(json!({"name": "auditor", "permissions": ["audit.read"]}))
        )
        .await
        .status,
        201
    );
    assert_eq!(
        o.call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/domains",
            Some(json!({"domain": "portal.acme.example"}))
        )
        .await
        .status,
        201
    );
    let cases: Vec<CrossTenant> = vec![
        (
            "change globex's owner",
            "PATCH",
            format!("/api/org/members/{BOB}"),
            Some(json!({"role": "member"})),
            404,
            "not_found",
            format!("/api/org/members/{MALLORY}"),
        ),
        (
            "remove globex's member",
            "DELETE",
            format!("/api/org/members/{GINA}"),
            None,
            404,
            "not_found",
            format!("/api/org/members/{CAROL}"),
        ),
        (
            "resend globex's invitation",
            "POST",
            format!("/api/org/invitations/{g_id}/resend"),
            None,
            404,
            "not_found",
            format!("/api/org/invitations/{a_id}/resend"),
        ),
        (
            "revoke globex's invitation",
            "POST",
            format!("/api/org/invitations/{g_id}/revoke"),
            None,
            404,
            "not_found",
            format!("/api/org/invitations/{a_id}/revoke"),
        ),
        (
            "delete globex's domain",
            "DELETE",
            "/api/org/domains/portal.globex.test".into(),
            None,
            404,
            "not_found",
            "/api/org/domains/portal.acme.example".into(),
        ),
    ];
    // Everything of globex's that the refused writes aim at: members and roles, invitations
    // (with their token and expiry, which a resend would change), domains.
    let globex_rows = || {
        o.sql(&format!(
            "SELECT string_agg(x, ' | ' ORDER BY x) FROM (
               SELECT 'member ' || user_id || ' ' || role_name FROM tenantgate.memberships WHERE tenant_id = '{GLOBEX}'
               UNION ALL SELECT 'invitation ' || id || ' ' || encode(token_hash, 'hex') || ' ' || expires_at || ' ' || coalesce(revoked_at::text, '-')
                 FROM tenantgate.invitations WHERE tenant_id = '{GLOBEX}'
               UNION ALL SELECT 'domain ' || domain || ' ' || coalesce(revoked_at::text, '-')
                 FROM tenantgate.tenant_domains WHERE tenant_id = '{GLOBEX}') t(x)"
        ))
    };
    let globex_before = globex_rows();
    for (what, method, path, body, status, want, control) in &cases {
        let a = o.call(&alice, method, ACME_HOST, path, body.clone()).await;
        refused(&a, *status, want, what);
        assert_eq!(globex_rows(), globex_before, "{what} changed globex's rows");
        let c = o
            .call(&alice, method, ACME_HOST, control, body.clone())
            .await;
        assert!(
            c.status < 300,
            "control for {what}: {} {}",
            c.status,
            c.body
        );
    }
    // A role name is per tenant: acme's "auditor" edit changes only acme's.
    let a = o
        .call(
            &alice,
            "PATCH",
            ACME_HOST,
            "/api/org/roles/auditor",
            Some(json!({"permissions": ["usage.read"]})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        o.sql(&format!("SELECT string_agg(permission, ',') FROM tenantgate.role_permissions WHERE tenant_id = '{GLOBEX}' AND role_name = 'auditor'")),
        "audit.read"
    );
    // Globex's invitation token, presented on acme by its own invitee: not found; on globex: ok.
    let dave_acme = o.bearer(DAVE, ACME, &[]);
    let a = o
        .call(
            &dave_acme,
            "POST",
            ACME_HOST,
            "/api/org/invitations/accept",
            Some(json!({"token": g_token})),
        )
        .await;
    refused(&a, 404, "invitation_not_found", "a globex token on acme");
    let dave_globex = o.bearer(DAVE, GLOBEX, &[]);
    let a = o
        .call(
            &dave_globex,
            "POST",
            GLOBEX_HOST,
            "/api/org/invitations/accept",
            Some(json!({"token": g_token})),
        )
        .await;
    assert_eq!(a.status, 200, "control: on globex: {}", a.body);
    // Acme's session and acme's token on globex's host: refused by the gateway.
    refused(
        &o.get(&alice, GLOBEX_HOST, "/api/org/members").await,
        401,
        "session_invalid",
        "acme's cookie on globex",
    );
    let acme_token = o.bearer(ALICE, ACME, ALL);
    refused(
        &o.get(&acme_token, GLOBEX_HOST, "/api/org/members").await,
        421,
        "tenant_mismatch",
        "acme's token on globex",
    );
    // Lists show acme's rows only.
    let members = o.get(&alice, ACME_HOST, "/api/org/members").await;
    assert!(!members.body.contains("globex.test"), "{}", members.body);
    let invitations = o.get(&alice, ACME_HOST, "/api/org/invitations").await;
    assert_eq!(
        field(&invitations, "email"),
        ["eve@example.test"],
        "not globex's dave"
    );
    let roles = o.get(&alice, ACME_HOST, "/api/org/roles").await;
    assert_eq!(
        field(&roles, "name"),
        ["admin", "auditor", "member", "owner"],
        "one auditor, acme's"
    );
    let log = o.get(&alice, ACME_HOST, "/api/org/audit?limit=100").await;
    assert!(
        !log.body.contains("portal.globex.test") && !log.body.contains(&g_id),
        "{}",
        log.body
    );
    let domains = o.get(&alice, ACME_HOST, "/api/org/domains").await;
    assert_eq!(
        field(&domains, "domain"),
        ["portal.acme.example", "portal.acme.test"]
    );
    // The switcher: alice's own memberships only (acme current, globex); bob sees only globex.
    let mine = o.get(&alice, ACME_HOST, "/api/org/organisations").await;
    assert_eq!(field(&mine, "slug"), ["acme", "globex"]);
    assert_eq!(items(&mine)[0]["current"], true);
    assert_eq!(items(&mine)[1]["role"], "member");
    let bobs = o.get(&bob, GLOBEX_HOST, "/api/org/organisations").await;
    assert_eq!(field(&bobs, "slug"), ["globex"]);
}
