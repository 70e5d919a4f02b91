//! Self-serve organisations: slug rules, the limit, the new tenant.

use serde_json::json;

use super::*;
use crate::app::ACME;

#[tokio::test]
async fn self_serve_organisations_and_their_limits() {
    let o = Orgs::start().await;
    let alice = o.session(ALICE, ACME);
    let new = |slug: &str| Some(json!({ "slug": slug, "name": format!("Org {slug}") }));
    for (slug, status, want) in [
        ("acme", 409, "slug_taken"),
        ("gone", 409, "slug_taken"), // deleted, in its grace period
        ("www", 400, "slug_reserved"),
        ("ab", 400, "slug_invalid"),
        ("Bad_Slug", 400, "slug_invalid"),
        ("-edge", 400, "slug_invalid"),
    ] {
        let a = o
            .call(
                &alice,
                "POST",
                ACME_HOST,
                "/api/org/organisations",
                new(slug),
            )
            .await;
        refused(&a, status, want, slug);
    }
    let a = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/organisations",
            new("initech"),
        )
        .await;
    assert_eq!(
        (a.status, a.json()),
        (
            201,
            json!({"slug": "initech", "name": "Org initech", "url_path": "/auth/switch"})
        ),
        "{}",
        a.body
    );
    // The new tenant: free plan, shared placement, system roles, alice its owner, audited there.
    assert_eq!(
        o.sql("SELECT t.plan || ' ' || p.placement || ' ' || (SELECT string_agg(name, ',' ORDER BY name) FROM tenantgate.roles r WHERE r.tenant_id = t.id) \
               FROM tenantgate.tenants t JOIN tenantgate.tenant_placements p ON p.tenant_id = t.id WHERE t.slug = 'initech'"),
        "free shared admin,member,owner"
    );
    assert_eq!(
        o.sql("SELECT a.action || ' ' || a.actor_user_id FROM tenantgate.audit_log a JOIN tenantgate.tenants t ON t.id = a.tenant_id WHERE t.slug = 'initech'"),
        format!("organisation.created {ALICE}")
    );
    let initech: String = o.sql("SELECT id FROM tenantgate.tenants WHERE slug = 'initech'");
    let there = o.session(ALICE, &initech);
    let me = o.get(&there, "initech.localhost:3000", "/api/org/me").await;
    assert_eq!(
        (me.status, me.json()["role"].as_str()),
        (200, Some("owner")),
        "{}",
        me.body
    );
    let mine = o.get(&alice, ACME_HOST, "/api/org/organisations").await;
    assert_eq!(field(&mine, "slug"), ["acme", "globex", "initech"]);
    // At most 10 owned: acme and initech, 8 more, then the limit.
    for i in 0..8 {
        let a = o
            .call(
                &alice,
                "POST",
                ACME_HOST,
                "/api/org/organisations",
                new(&format!("alice-{i}")),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let a = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/organisations",
            new("one-too-many"),
        )
        .await;
    refused(&a, 409, "organisation_limit", "the 11th");
    // Without a user (a token naming none) there is nothing to own.
    let anon = As::Bearer(crate::tokens::token(
        "a",
        json!({ "sub": "not-a-uuid", "org_id": ACME, "perms": [] }),
    ));
    refused(
        &o.call(
            &anon,
            "POST",
            ACME_HOST,
            "/api/org/organisations",
            new("nobody"),
        )
        .await,
        401,
        "unauthenticated",
        "no user",
    );
}
