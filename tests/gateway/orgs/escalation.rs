//! No escalation: each refused change beside the owner doing it.

use serde_json::{json, Value};

use super::*;
use crate::app::ACME;

#[tokio::test]
async fn escalation_is_refused_and_each_refusal_has_an_allowed_control() {
    let o = Orgs::start().await;
    let alice = o.session(ALICE, ACME);
    let mallory = o.session(MALLORY, ACME);
    // A custom role that may manage members and nothing else; carol gets it.
    let a = o
        .call(&alice, "POST", ACME_HOST, "/api/org/roles", Some(json!({"name": "helper", "description": "Helps", "permissions": ["members.read", "members.manage"]})))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        a.json()["permissions"],
        json!(["members.manage", "members.read"])
    );
    let a = o
        .call(
            &alice,
            "PATCH",
            ACME_HOST,
            &format!("/api/org/members/{CAROL}"),
            Some(json!({"role": "helper"})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let carol = o.session(CAROL, ACME);

    let patch = |role: &str| Some(json!({ "role": role }));
    // (who, method, path, body, refused with, allowed control by alice the owner)
    let member = |id: &str| format!("/api/org/members/{id}");
    let cases: Vec<(&str, &As, &str, String, Option<Value>)> = vec![
        (
            "an admin grants owner",
            &mallory,
            "PATCH",
            member(CAROL),
            patch("owner"),
        ),
        (
            "an admin demotes the owner",
            &mallory,
            "PATCH",
            member(ALICE),
            patch("member"),
        ),
        (
            "an admin removes the owner",
            &mallory,
            "DELETE",
            member(ALICE),
            None,
        ),
        (
            "an admin invites an owner",
            &mallory,
            "POST",
            "/api/org/invitations".into(),
            Some(json!({"email": "o@example.test", "role": "owner"})),
        ),
        (
            "a helper makes itself admin",
            &carol,
            "PATCH",
            member(CAROL),
            patch("admin"),
        ),
        (
            "a helper demotes an admin",
            &carol,
            "PATCH",
            member(MALLORY),
            patch("helper"),
        ),
        (
            "a helper removes an admin",
            &carol,
            "DELETE",
            member(MALLORY),
            None,
        ),
        (
            "a helper invites a member (tasks.* it lacks)",
            &carol,
            "POST",
            "/api/org/invitations".into(),
            Some(json!({"email": "m@example.test", "role": "member"})),
        ),
        (
            "a helper creates a role",
            &carol,
            "POST",
            "/api/org/roles".into(),
            Some(json!({"name": "x", "permissions": []})),
        ),
    ];
    for (what, who, method, path, body) in &cases {
        let a = o.call(who, method, ACME_HOST, path, body.clone()).await;
        refused(&a, 403, "forbidden", what);
    }
    // Controls: what the helper may do, then the owner does the refused ones.
    let a = o
        .call(
            &carol,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "h@example.test", "role": "helper"})),
        )
        .await;
    assert_eq!(
        a.status, 201,
        "control: a helper invites a helper: {}",
        a.body
    );
    let a = o
        .call(
            &mallory,
            "POST",
            ACME_HOST,
            "/api/org/roles",
            Some(json!({"name": "viewer", "permissions": ["tasks.read"]})),
        )
        .await;
    assert_eq!(
        a.status, 201,
        "control: an admin creates a role: {}",
        a.body
    );
    let a = o
        .call(
            &mallory,
            "POST",
            ACME_HOST,
            "/api/org/roles",
            Some(json!({"name": "ghost", "permissions": ["billing.write"]})),
        )
        .await;
    refused(&a, 400, "bad_request", "a permission outside the catalogue");
    // Controls for the owner-only refusals: the owner does them.
    let controls: Vec<(&str, &str, String, Option<Value>)> = vec![
        ("grant owner", "PATCH", member(CAROL), patch("owner")),
        ("demote an owner", "PATCH", member(CAROL), patch("helper")),
        (
            "invite an owner",
            "POST",
            "/api/org/invitations".into(),
            Some(json!({"email": "o@example.test", "role": "owner"})),
        ),
        (
            "make mallory owner",
            "PATCH",
            member(MALLORY),
            patch("owner"),
        ),
        ("remove an owner", "DELETE", member(MALLORY), None),
    ];
    for (what, method, path, body) in &controls {
        let a = o.call(&alice, method, ACME_HOST, path, body.clone()).await;
        assert!(
            a.status < 300,
            "control, the owner: {what}: {} {}",
            a.status,
            a.body
        );
    }

    // System roles are fixed; a role in use stays; an unused custom role goes.
    let a = o
        .call(
            &alice,
            "PATCH",
            ACME_HOST,
            "/api/org/roles/admin",
            Some(json!({"permissions": ["tasks.read"]})),
        )
        .await;
    refused(&a, 409, "role_built_in", "edit admin");
    let a = o
        .call(&alice, "DELETE", ACME_HOST, "/api/org/roles/member", None)
        .await;
    refused(&a, 409, "role_built_in", "delete member");
    let a = o
        .call(&alice, "DELETE", ACME_HOST, "/api/org/roles/helper", None)
        .await;
    refused(&a, 409, "role_in_use", "a pending invitation uses helper");
    let a = o
        .call(
            &alice,
            "PATCH",
            ACME_HOST,
            "/api/org/roles/viewer",
            Some(json!({"description": "Reads", "permissions": ["tasks.read", "members.read"]})),
        )
        .await;
    assert_eq!(
        (a.status, a.json()["permissions"].clone()),
        (200, json!(["members.read", "tasks.read"])),
        "{}",
        a.body
    );
    let a = o
        .call(&alice, "DELETE", ACME_HOST, "/api/org/roles/viewer", None)
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let roles = o.get(&alice, ACME_HOST, "/api/org/roles").await;
    assert_eq!(
        field(&roles, "name"),
        ["admin", "helper", "member", "owner"]
    );
    let helper = items(&roles)
        .into_iter()
        .find(|r| r["name"] == "helper")
        .unwrap();
    assert_eq!(
        (helper["built_in"].clone(), helper["members"].clone()),
        (json!(false), json!(1))
    );
    let perms = o.get(&carol, ACME_HOST, "/api/org/permissions").await;
    assert_eq!(field(&perms, "permission"), ALL);
}
