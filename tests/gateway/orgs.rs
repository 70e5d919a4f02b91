//! The organisation layer (issue 16) through the real gateway and `orgs` component: members,
//! invitations, roles, domains, SSO settings, usage, the audit log, the switcher and
//! self-serve creation. Callers are real sessions (the role and permissions read from the
//! database) or bearer tokens. Every refusal sits beside an allowed control; the cross-tenant
//! and escalation attacks are tables; the last group calls the SQL functions directly as
//! `tenantgate_app`, as a backend running any SQL could.

use std::time::Duration;

use gateway_core::sso::session::SessionKey;
use serde_json::{json, Value};
use tenantgate_tests::dataplane::{sign_context, unix_now};

use crate::app::{App, ACME, GLOBEX, KEY};
use crate::web::{answer, client, Answer};

const SESSION_KEY: &[u8] = b"session-key-for-tests-32-bytes!!";
const ACME_HOST: &str = "acme.localhost:3000";
const GLOBEX_HOST: &str = "globex.localhost:3000";

// Users. acme: alice owner, mallory admin, carol member. globex: bob owner, gina member, alice
// member. dave, eve and frank belong nowhere yet.
const ALICE: &str = "a5000000-0000-4000-8000-000000000001";
const CAROL: &str = "a5000000-0000-4000-8000-000000000002";
const MALLORY: &str = "a5000000-0000-4000-8000-000000000003";
const BOB: &str = "b5000000-0000-4000-8000-000000000001";
const GINA: &str = "b5000000-0000-4000-8000-000000000002";
const DAVE: &str = "d5000000-0000-4000-8000-000000000001";
const EVE: &str = "d5000000-0000-4000-8000-000000000002";
const FRANK: &str = "d5000000-0000-4000-8000-000000000003";

/// Every catalogue permission (what owner and admin hold).
const ALL: &[&str] = &[
    "audit.read",
    "domains.manage",
    "members.manage",
    "members.read",
    "roles.manage",
    "sso.manage",
    "tasks.read",
    "tasks.write",
    "usage.read",
];

struct Orgs {
    app: App,
    key: SessionKey,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn origin(host: &str) -> String {
    format!("http://{host}")
}

/// Who makes a request: a session cookie (the gateway reads the role from the database), a
/// bearer token (the token's permissions), or nobody.
#[derive(Clone)]
enum As {
    Cookie(String),
    Bearer(String),
}

impl Orgs {
    async fn start() -> Orgs {
        let issuers = crate::tokens::issuers();
        let app = App::start_with(&[
            ("SPIN_VARIABLE_JWT_ISSUERS", &issuers),
            ("SPIN_VARIABLE_SESSION_KEY", &hex(SESSION_KEY)),
            ("SPIN_VARIABLE_ANONYMOUS_PERMISSIONS", ""),
        ])
        .await;
        app.pg.psql(
            "postgres",
            &format!(
                "SELECT tenantgate.seed_system_roles(id) FROM tenantgate.tenants;
                 INSERT INTO tenantgate.users (id, email, display_name) VALUES
                   ('{ALICE}', 'alice@acme.test', 'Alice'), ('{CAROL}', 'carol@acme.test', 'Carol'),
                   ('{MALLORY}', 'mallory@acme.test', 'Mallory'), ('{BOB}', 'bob@globex.test', 'Bob'),
                   ('{GINA}', 'gina@globex.test', 'Gina'), ('{DAVE}', 'dave@example.test', 'Dave'),
                   ('{EVE}', 'eve@example.test', 'Eve'), ('{FRANK}', 'frank@example.test', 'Frank');
                 INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name, created_at) VALUES
                   ('{ACME}', '{ALICE}', 'owner', now() - interval '3 minutes'),
                   ('{ACME}', '{MALLORY}', 'admin', now() - interval '2 minutes'),
                   ('{ACME}', '{CAROL}', 'member', now() - interval '1 minute'),
                   ('{GLOBEX}', '{BOB}', 'owner', now()), ('{GLOBEX}', '{GINA}', 'member', now()),
                   ('{GLOBEX}', '{ALICE}', 'member', now());"
            ),
        );
        Orgs {
            app,
            key: SessionKey::new(SESSION_KEY).unwrap(),
        }
    }

    fn sql(&self, sql: &str) -> String {
        self.app.pg.psql("postgres", sql).trim().to_owned()
    }

    /// A fresh session of `user` on `tenant`, as a login leaves it.
    fn session(&self, user: &str, tenant: &str) -> As {
        let sid = self.sql(&format!(
            "INSERT INTO tenantgate.sessions (tenant_id, user_id, issuer, expires_at) \
             VALUES ('{tenant}', '{user}', 'https://idp.test', now() + interval '1 hour') RETURNING id"
        ));
        let sid: uuid::Uuid = sid.lines().next().unwrap().parse().unwrap();
        let value = self
            .key
            .issue(sid, &tenant.parse().unwrap(), unix_now() as u64 + 3600);
        As::Cookie(format!("tg_session={value}"))
    }

    /// A bearer token naming `user` on `tenant` with these permissions.
    fn bearer(&self, user: &str, tenant: &str, perms: &[&str]) -> As {
        As::Bearer(crate::tokens::token(
            "a",
            json!({ "sub": user, "org_id": tenant, "perms": perms }),
        ))
    }

    async fn call(
        &self,
        who: &As,
        method: &str,
        host: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut req = client()
            .request(method.parse().unwrap(), self.app.host.url(path))
            .header("host", host);
        req = match who {
            As::Cookie(c) => req.header("cookie", c),
            As::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        };
        // As the admin pages send them (referrer-policy same-origin).
        req = req.header("referer", format!("{}/admin", origin(host)));
        if method != "GET" {
            // The gateway's CSRF rule for cookies: the tenant's own origin.
            req = req.header("origin", origin(host));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        answer(req).await
    }

    async fn get(&self, who: &As, host: &str, path: &str) -> Answer {
        self.call(who, "GET", host, path, None).await
    }

    /// `GET path` until it answers `status` (a session's role is re-read within 4 s).
    async fn becomes(&self, who: &As, host: &str, path: &str, status: u16) -> bool {
        let until = std::time::Instant::now() + Duration::from_secs(8);
        while std::time::Instant::now() < until {
            if self.get(who, host, path).await.status == status {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }
}

fn items(a: &Answer) -> Vec<Value> {
    a.json()["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list ({}): {}", a.status, a.body))
        .clone()
}

fn field(a: &Answer, name: &str) -> Vec<String> {
    items(a)
        .iter()
        .map(|i| i[name].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts status and code, with the body in the message.
fn refused(a: &Answer, status: u16, want: &str, what: &str) {
    assert_eq!(
        (a.status, a.code().as_str()),
        (status, want),
        "{what}: {}",
        a.body
    );
}

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
    for (what, method, path, body, status, want, control) in &cases {
        let a = o.call(&alice, method, ACME_HOST, path, body.clone()).await;
        refused(&a, *status, want, what);
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

/// Runs `sql` as `tenantgate_app` with `context` bound, as a backend running any SQL could:
/// the first column of the rows, or the error message.
async fn as_app(o: &Orgs, context: &str, sql: &str) -> Result<Vec<String>, String> {
    let (mut client, conn) = tokio_postgres::connect(
        &o.app.pg.url_as("tenantgate_app", "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "SELECT set_config('tenantgate.context', $1, true)",
        &[&context],
    )
    .await
    .unwrap();
    let rows = tx.simple_query(sql).await.map_err(|e| {
        e.as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned())
    })?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some(r.get(0).unwrap_or("NULL").to_owned())
            }
            _ => None,
        })
        .collect())
}

fn context(tid: &str, uid: &str, perms: &[&str]) -> String {
    sign_context(
        "k1",
        KEY,
        &json!({"tid": tid, "slug": "acme", "plc": "shared", "uid": uid, "roles": [],
                "perms": perms, "rid": "sql-attack", "exp": unix_now() + 300}),
    )
}

#[tokio::test]
async fn a_backend_running_sql_cannot_do_what_its_context_forbids() {
    let o = Orgs::start().await;
    let member = context(ACME, CAROL, &["tasks.read", "tasks.write", "members.read"]);
    let owner = context(ACME, ALICE, ALL);
    let inv = "(SELECT id FROM tenantgate.invitations LIMIT 1)";
    // (what, sql, refused with) — each then run with the owner's context as the control.
    let cases: Vec<(&str, String, &str)> = vec![
        ("change a role", format!("SELECT tenantgate.set_member_role('{MALLORY}', 'member', NULL)"), "forbidden|"),
        ("remove a member", format!("SELECT tenantgate.remove_member('{MALLORY}', NULL)"), "forbidden|"),
        ("invite", "SELECT invitation_id FROM tenantgate.create_invitation('z@example.test', 'member', NULL, NULL)".into(), "forbidden|"),
        ("create a role", "SELECT tenantgate.create_role('r', NULL, ARRAY['tasks.read'], NULL)".into(), "forbidden|"),
        ("add a domain", "SELECT tenantgate.add_domain('x.acme.example', NULL)".into(), "forbidden|"),
        ("read the SSO settings", "SELECT count(*) FROM tenantgate.sso_settings()".into(), "forbidden|"),
        ("read the quota", "SELECT count(*) FROM tenantgate.usage_quota()".into(), "forbidden|"),
        ("add a permission to member", format!("INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission) VALUES ('{ACME}', 'member', 'members.manage')"), "permission denied"),
        ("make a role", format!("INSERT INTO tenantgate.roles (tenant_id, name) VALUES ('{ACME}', 'sneaky')"), "permission denied"),
        ("write an invitation", format!("UPDATE tenantgate.invitations SET expires_at = now() + interval '1 year' WHERE id = {inv}"), "permission denied"),
        ("read the provider secret", "SELECT client_secret FROM tenantgate.sso_providers".into(), "permission denied"),
        ("seed roles", format!("SELECT tenantgate.seed_system_roles('{ACME}')"), "permission denied"),
        ("join by any invitation", format!("SELECT tenantgate.join_by_invitation('{ACME}', '{CAROL}', 'x', NULL)"), "permission denied"),
    ];
    // An invitation to revoke and a role to edit exist (made with the owner's context).
    as_app(&o, &owner, "SELECT invitation_id FROM tenantgate.create_invitation('y@example.test', 'member', NULL, NULL)").await.unwrap();
    for (what, sql, want) in &cases {
        let got = as_app(&o, &member, sql).await;
        assert!(
            matches!(&got, Err(e) if e.contains(want)),
            "{what}: {got:?}"
        );
    }
    for (what, sql, want) in &cases[..7] {
        let got = as_app(&o, &owner, sql).await;
        assert!(got.is_ok(), "control, the owner: {what} ({want}): {got:?}");
    }
    // Escalation in SQL too: an owner context that lacks a permission cannot grant a role that has it.
    let partial = context(ACME, ALICE, &["members.manage", "members.read"]);
    let got = as_app(
        &o,
        &partial,
        &format!("SELECT tenantgate.set_member_role('{CAROL}', 'admin', NULL)"),
    )
    .await;
    assert!(
        matches!(&got, Err(e) if e.starts_with("forbidden|")),
        "{got:?}"
    );
    // Another tenant's context signed with a bad key sees nothing and can do nothing.
    let forged = sign_context(
        "k1",
        b"not-the-key-not-the-key-not-the!",
        &json!({"tid": ACME, "slug": "acme", "plc": "shared", "uid": ALICE,
        "roles": [], "perms": ALL, "rid": "x", "exp": unix_now() + 300}),
    );
    let got = as_app(
        &o,
        &forged,
        "SELECT tenantgate.create_role('forged', NULL, ARRAY['tasks.read'], NULL)",
    )
    .await;
    assert!(
        matches!(&got, Err(e) if e.contains("verified tenant context")),
        "{got:?}"
    );
    // The audit rows of the SQL calls carry the context's actor and request id.
    assert_eq!(
        o.sql("SELECT string_agg(DISTINCT actor_user_id::text || ' ' || request_id, ',') FROM tenantgate.audit_log WHERE request_id = 'sql-attack'"),
        format!("{ALICE} sql-attack")
    );
}
