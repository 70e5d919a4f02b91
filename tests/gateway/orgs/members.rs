//! Members and invitations end to end, with the audit rows they leave.

use serde_json::{json, Value};

use super::*;
use crate::app::ACME;

#[tokio::test]
async fn members_and_invitations_end_to_end_with_audit_rows() {
    let o = Orgs::start().await;
    let alice = o.session(ALICE, ACME);
    let carol = o.session(CAROL, ACME);

    // /me: the user, the tenant, the role and the permissions the session carries.
    let me = o.get(&alice, ACME_HOST, "/api/org/me").await;
    assert_eq!(me.status, 200, "{}", me.body);
    let v = me.json();
    assert_eq!(
        (
            v["user"]["email"].as_str(),
            v["tenant"]["slug"].as_str(),
            v["role"].as_str()
        ),
        (Some("alice@acme.test"), Some("acme"), Some("owner"))
    );
    assert_eq!(v["permissions"], json!(ALL));

    // Members: a member reads them (members.read), paged in joining order.
    let page = o.get(&carol, ACME_HOST, "/api/org/members?limit=2").await;
    assert_eq!(
        field(&page, "email"),
        ["alice@acme.test", "mallory@acme.test"]
    );
    let next = page.json()["next"].as_str().unwrap().to_owned();
    let rest = o
        .get(
            &carol,
            ACME_HOST,
            &format!("/api/org/members?limit=2&after={next}"),
        )
        .await;
    assert_eq!(field(&rest, "email"), ["carol@acme.test"]);
    assert_eq!(rest.json()["next"], Value::Null);
    // ... but cannot change them: 403 naming the permission; the owner can (control below).
    let a = o
        .call(
            &carol,
            "PATCH",
            ACME_HOST,
            &format!("/api/org/members/{MALLORY}"),
            Some(json!({"role": "member"})),
        )
        .await;
    refused(&a, 403, "forbidden", "member changes a role");
    assert!(a.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("members.manage"));
    let a = o
        .call(
            &carol,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "x@y.test", "role": "member"})),
        )
        .await;
    refused(&a, 403, "forbidden", "member invites");

    // Invitations: created once per email, never for a member, token shown once.
    let made = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "Dave@Example.test", "role": "member"})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let inv = made.json();
    let token = inv["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert_eq!(inv["accept_url"], format!("/admin/accept?token={token}"));
    assert_eq!(
        (
            inv["invitation"]["email"].as_str(),
            inv["invitation"]["status"].as_str(),
            inv["invitation"]["invited_by"].as_str()
        ),
        (
            Some("dave@example.test"),
            Some("pending"),
            Some("alice@acme.test")
        )
    );
    let inv_id = inv["invitation"]["id"].as_str().unwrap().to_owned();
    let stored = o.sql(&format!(
        "SELECT encode(token_hash, 'hex') FROM tenantgate.invitations WHERE id = '{inv_id}'"
    ));
    assert_ne!(stored, token, "stored hashed");
    let a = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "dave@example.test", "role": "member"})),
        )
        .await;
    refused(&a, 409, "invitation_exists", "second invitation");
    let a = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "carol@acme.test", "role": "member"})),
        )
        .await;
    refused(&a, 409, "already_member", "inviting a member");
    for (bad, what) in [
        (json!({"email": "not-an-email", "role": "member"}), "email"),
        (json!({"email": "z@example.test", "role": "nosuch"}), "role"),
        (
            json!({"email": "z@example.test", "role": "member", "expires_in_days": 31}),
            "expiry",
        ),
        (
            json!({"email": "z@example.test", "role": "member", "extra": 1}),
            "unknown field",
        ),
    ] {
        let a = o
            .call(&alice, "POST", ACME_HOST, "/api/org/invitations", Some(bad))
            .await;
        refused(&a, 400, "bad_request", what);
    }
    let pending = o
        .get(&carol, ACME_HOST, "/api/org/invitations?status=pending")
        .await;
    assert_eq!(field(&pending, "email"), ["dave@example.test"]);
    assert!(!pending.body.contains("token"), "{}", pending.body);

    // Accepting: only the invited email's user, only once.
    let eve = o.bearer(EVE, ACME, &[]);
    let dave = o.bearer(DAVE, ACME, &[]);
    let accept = json!({ "token": token });
    let a = o
        .call(
            &eve,
            "POST",
            ACME_HOST,
            "/api/org/invitations/accept",
            Some(accept.clone()),
        )
        .await;
    refused(&a, 404, "invitation_not_found", "another user's invitation");
    let a = o
        .call(
            &dave,
            "POST",
            ACME_HOST,
            "/api/org/invitations/accept",
            Some(json!({"token": "0".repeat(64)})),
        )
        .await;
    refused(&a, 404, "invitation_not_found", "a made-up token");
    let a = o
        .call(
            &dave,
            "POST",
            ACME_HOST,
            "/api/org/invitations/accept",
            Some(accept.clone()),
        )
        .await;
    assert_eq!(
        (a.status, a.json()),
        (200, json!({"role": "member"})),
        "{}",
        a.body
    );
    let a = o
        .call(
            &dave,
            "POST",
            ACME_HOST,
            "/api/org/invitations/accept",
            Some(accept),
        )
        .await;
    refused(&a, 404, "invitation_not_found", "used twice");

    // Resend: a new token, the old one dead; revoke: no token works.
    let f = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            "/api/org/invitations",
            Some(json!({"email": "frank@example.test", "role": "member"})),
        )
        .await;
    let (f_id, f_old) = (
        f.json()["invitation"]["id"].as_str().unwrap().to_owned(),
        f.json()["token"].as_str().unwrap().to_owned(),
    );
    let r = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            &format!("/api/org/invitations/{f_id}/resend"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let f_new = r.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(f_new, f_old);
    let frank = o.bearer(FRANK, ACME, &[]);
    let a = o
        .call(
            &frank,
            "POST",
            ACME_HOST,
            "/api/org/invitations/accept",
            Some(json!({"token": f_old})),
        )
        .await;
    refused(
        &a,
        404,
        "invitation_not_found",
        "the token before the resend",
    );
    let r = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            &format!("/api/org/invitations/{f_id}/revoke"),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("revoked")),
        "{}",
        r.body
    );
    let a = o
        .call(
            &frank,
            "POST",
            ACME_HOST,
            "/api/org/invitations/accept",
            Some(json!({"token": f_new})),
        )
        .await;
    refused(&a, 404, "invitation_not_found", "a revoked invitation");
    let a = o
        .call(
            &alice,
            "POST",
            ACME_HOST,
            &format!("/api/org/invitations/{f_id}/revoke"),
            None,
        )
        .await;
    refused(&a, 409, "conflict", "revoked twice");

    // The owner changes dave's role (control for the member's 403 above).
    let a = o
        .call(
            &alice,
            "PATCH",
            ACME_HOST,
            &format!("/api/org/members/{DAVE}"),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(
        (a.status, a.json()["role"].as_str()),
        (200, Some("admin")),
        "{}",
        a.body
    );

    // The last owner can be neither demoted nor removed, not even by themselves.
    let a = o
        .call(
            &alice,
            "PATCH",
            ACME_HOST,
            &format!("/api/org/members/{ALICE}"),
            Some(json!({"role": "admin"})),
        )
        .await;
    refused(&a, 409, "last_owner", "demote the last owner");
    let a = o
        .call(
            &alice,
            "DELETE",
            ACME_HOST,
            &format!("/api/org/members/{ALICE}"),
            None,
        )
        .await;
    refused(&a, 409, "last_owner", "the last owner leaves");

    // A member leaves; their session ends (within the gateway's 4 s re-read).
    assert_eq!(o.get(&carol, ACME_HOST, "/api/org/me").await.status, 200);
    let a = o
        .call(
            &carol,
            "DELETE",
            ACME_HOST,
            &format!("/api/org/members/{CAROL}"),
            None,
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert!(
        o.becomes(&carol, ACME_HOST, "/api/org/me", 401).await,
        "the session ended"
    );
    assert_eq!(
        o.sql(&format!("SELECT count(*) FROM tenantgate.sessions WHERE user_id = '{CAROL}' AND revoked_at IS NULL")),
        "0"
    );

    // The audit log: each change once, with before/after, the request id and client address.
    let log = o.get(&alice, ACME_HOST, "/api/org/audit?limit=100").await;
    assert_eq!(log.status, 200, "{}", log.body);
    let actions = field(&log, "action");
    assert_eq!(
        actions,
        [
            "member.left",
            "member.role_changed",
            "invitation.revoked",
            "invitation.resent",
            "invitation.created",
            "invitation.accepted",
            "invitation.created",
        ],
        "newest first"
    );
    let changed = &items(&log)[1];
    assert_eq!(changed["target"], DAVE);
    assert_eq!(changed["before"]["role"], "member");
    assert_eq!(changed["after"]["role"], "admin");
    assert_eq!(
        changed["actor"],
        json!({"kind": "user", "user_id": ALICE, "email": "alice@acme.test"})
    );
    assert_eq!(changed["client_addr"], "127.0.0.1");
    assert!(
        changed["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{changed}"
    );
    let accepted = &items(&log)[5];
    assert_eq!(accepted["actor"]["user_id"], DAVE);
    assert_eq!(accepted["after"]["member_role"], "member");
    assert!(!log.body.contains(&token), "no token in the log");
    // Filters: by action prefix, actor and target.
    let f = o
        .get(&alice, ACME_HOST, "/api/org/audit?action=invitation.")
        .await;
    assert_eq!(field(&f, "action").len(), 5);
    let f = o
        .get(&alice, ACME_HOST, &format!("/api/org/audit?actor={DAVE}"))
        .await;
    assert_eq!(field(&f, "action"), ["invitation.accepted"]);
    let f = o
        .get(
            &alice,
            ACME_HOST,
            "/api/org/audit?actor=alice%40acme.test&target=",
        )
        .await;
    assert_eq!(field(&f, "action").len(), 5);
    // A member does not read the log (audit.read).
    let mallory = o.session(MALLORY, ACME);
    assert_eq!(
        o.get(&mallory, ACME_HOST, "/api/org/audit").await.status,
        200,
        "control: admin"
    );
    let dave_member = o.bearer(DAVE, ACME, &["members.read"]);
    refused(
        &o.get(&dave_member, ACME_HOST, "/api/org/audit").await,
        403,
        "forbidden",
        "audit without audit.read",
    );
}
