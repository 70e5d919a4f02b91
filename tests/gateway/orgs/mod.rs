//! The organisation layer (issue 16) through the real gateway and `orgs` component: members,
//! invitations, roles, domains, SSO settings, usage, the audit log, the switcher and
//! self-serve creation. Callers are real sessions (the role and permissions read from the
//! database) or bearer tokens. Every refusal sits beside an allowed control; the cross-tenant
//! and escalation attacks are tables; the last group calls the SQL functions directly as
//! `tenantgate_app`, as a backend running any SQL could.

mod assets;
mod cross_tenant;
mod escalation;
mod members;
mod nul;
mod platform;
mod self_serve;
mod settings;
mod sql;

use std::time::Duration;

use gateway_core::sso::session::SessionKey;
use serde_json::{json, Value};
use tenantgate_tests::dataplane::unix_now;

use crate::app::{App, ACME, GLOBEX};
use crate::web::{answer, client, Answer};

pub(super) const SESSION_KEY: &[u8] = b"session-key-for-tests-32-bytes!!";
pub(super) const ACME_HOST: &str = "acme.localhost:3000";
pub(super) const GLOBEX_HOST: &str = "globex.localhost:3000";

// Users. acme: alice owner, mallory admin, carol member. globex: bob owner, gina member, alice
// member. dave, eve and frank belong nowhere yet.
pub(super) const ALICE: &str = "a5000000-0000-4000-8000-000000000001";
pub(super) const CAROL: &str = "a5000000-0000-4000-8000-000000000002";
pub(super) const MALLORY: &str = "a5000000-0000-4000-8000-000000000003";
pub(super) const BOB: &str = "b5000000-0000-4000-8000-000000000001";
pub(super) const GINA: &str = "b5000000-0000-4000-8000-000000000002";
pub(super) const DAVE: &str = "d5000000-0000-4000-8000-000000000001";
pub(super) const EVE: &str = "d5000000-0000-4000-8000-000000000002";
pub(super) const FRANK: &str = "d5000000-0000-4000-8000-000000000003";

/// Every catalogue permission (what owner and admin hold).
pub(super) const ALL: &[&str] = &[
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

pub(super) struct Orgs {
    pub(super) app: App,
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
pub(super) enum As {
    Cookie(String),
    Bearer(String),
}

impl Orgs {
    pub(super) async fn start() -> Orgs {
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

    pub(super) fn sql(&self, sql: &str) -> String {
        self.app.pg.psql("postgres", sql).trim().to_owned()
    }

    /// A fresh session of `user` on `tenant`, as a login leaves it.
    pub(super) fn session(&self, user: &str, tenant: &str) -> As {
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
    pub(super) fn bearer(&self, user: &str, tenant: &str, perms: &[&str]) -> As {
        As::Bearer(crate::tokens::token(
            "a",
            json!({ "sub": user, "org_id": tenant, "perms": perms }),
        ))
    }

    pub(super) async fn call(
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

    pub(super) async fn get(&self, who: &As, host: &str, path: &str) -> Answer {
        self.call(who, "GET", host, path, None).await
    }

    /// `GET path` until it answers `status` (a session's role is re-read within 4 s).
    pub(super) async fn becomes(&self, who: &As, host: &str, path: &str, status: u16) -> bool {
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

pub(super) fn items(a: &Answer) -> Vec<Value> {
    a.json()["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list ({}): {}", a.status, a.body))
        .clone()
}

pub(super) fn field(a: &Answer, name: &str) -> Vec<String> {
    items(a)
        .iter()
        .map(|i| i[name].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts status and code, with the body in the message.
pub(super) fn refused(a: &Answer, status: u16, want: &str, what: &str) {
    assert_eq!(
        (a.status, a.code().as_str()),
        (status, want),
        "{what}: {}",
        a.body
    );
}
