//! The platform console (`/platform` on the apex, issue 16) in a real browser: Debian chromium
//! driven by npm playwright-core (`tests/browser/platform_*.mjs`), through the real gateway, the
//! `platform` component and, for the tenant's owner, the `orgs` pages and the real OIDC IdP.
//! Screenshots of every console page go to `target/screenshots/platform/` (the README shows
//! some of them, copied to `docs/screenshots/platform-*.png`).
//!
//! People: a platform admin (`ops@platform.example`, a token of the platform issuer); alice owns
//! acme and signs in through acme's IdP.

use serde_json::json;
use tenantgate_control::sso::{self, SsoChange};
use tenantgate_tests::browser::{run_script as script, screenshots, strings};
use tenantgate_tests::idp::{OidcClient, OidcIdp, OidcUser};
use tenantgate_tests::{free_port, workspace_root};

use crate::app::{code, titles, App, ACME};
use crate::platform_api::{admin, issuers, ADMIN_EMAIL};

struct Console {
    app: App,
    _idp: OidcIdp,
    port: u16,
}

impl Console {
    fn sql(&self, sql: &str) -> String {
        self.app.pg.psql("postgres", sql).trim().to_owned()
    }
}

/// The app on a port of its own, both issuers, sessions on, OIDC for acme, alice its owner.
async fn start() -> Console {
    let port = free_port();
    let callback = format!("http://acme.localhost:{port}/auth/oidc/callback");
    let idp = OidcIdp::start(
        &[OidcClient::new("acme-app", "acme-secret", &[&callback])],
        &[OidcUser::new("alice", "alice-pw", "alice@acme.test")],
    );
    let port_text = port.to_string();
    let session_key = tenantgate_tests::dataplane::hex(b"browser-platform-session-key-32b");
    let app = App::start_with(&[
        ("TEST_LISTEN_PORT", &port_text),
        ("SPIN_VARIABLE_EXTRA_PORTS", &format!("3000,{port}")),
        ("SPIN_VARIABLE_SESSION_KEY", &session_key),
        ("SPIN_VARIABLE_JWT_ISSUERS", &issuers()),
        (
            "SPIN_VARIABLE_SSO_TOKEN_ORIGIN",
            idp.issuer().trim_end_matches('/'),
        ),
    ])
    .await;
    app.pg.psql(
        "postgres",
        &format!(
            "SELECT tenantgate.seed_system_roles(NULL);
             INSERT INTO tenantgate.users (email, display_name) VALUES ('alice@acme.test', 'Alice Owner');
             INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
               SELECT '{ACME}'::uuid, id, 'owner' FROM tenantgate.users WHERE email = 'alice@acme.test';
             INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token, verified_at)
               VALUES ('{ACME}', 'acme.test', 'token-token-token-5', now());"
        ),
    );
    let mut control = tenantgate_control::db::connect(&app.pg.url("postgres"))
        .await
        .unwrap();
    sso::set(
        &mut control,
        "acme",
        &SsoChange {
            kind: Some("oidc".into()),
            display_name: Some("Acme Identity".into()),
            issuer: Some(idp.issuer().to_owned()),
            client_id: Some("acme-app".into()),
            client_secret: Some("acme-secret".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("sso set acme: {e}\n{}", idp.stderr()));
    Console {
        app,
        _idp: idp,
        port,
    }
}

#[tokio::test]
async fn a_platform_admin_runs_the_lifecycle_and_break_glass_from_the_console_and_the_owner_sees_it(
) {
    let c = start().await;
    let admin_token = crate::tokens::platform_token("ops", &["platform_admin"]);
    let tenant_token = crate::tokens::token("a", json!({ "org_id": ACME }));
    let r = script(
        "platform_console.mjs",
        &[
            &format!("http://localhost:{}", c.port),
            &screenshots("platform"),
            &admin_token,
            &tenant_token,
        ],
    )
    .await;

    // Sign-in: the console asks for a token; a tenant's is refused with the gateway's code and
    // not kept; the admin's is accepted with the keyboard alone.
    assert_eq!(r["start_path"], "/platform/sign-in", "{r}");
    assert_eq!(r["sign_in_heading"], "Sign in", "{r}");
    assert_eq!(r["tenant_token_code"], "platform_admin_required", "{r}");
    assert!(
        !r["tenant_token_message"].as_str().unwrap().is_empty(),
        "{r}"
    );
    assert_eq!(r["kept_after_refusal"], 0, "{r}");
    assert_eq!(r["tab_reaches"], "Sign in", "{r}");
    assert_eq!(r["signed_in_as"], ADMIN_EMAIL, "{r}");
    assert_eq!(r["focus_after_navigation"], "page-title", "{r}");
    assert_eq!(
        strings(&r["all"]),
        ["acme", "globex", "gone", "sleepy"],
        "{r}"
    );
    assert_eq!(strings(&r["search"]), ["globex"], "{r}");
    assert_eq!(strings(&r["suspended_filter"]), ["sleepy"], "{r}");
    assert_eq!(strings(&r["after_globex"]), ["gone", "sleepy"], "{r}");
    assert_eq!(r["first_page_link"], 1, "{r}");

    // Suspended from the console: the tenant's host refused; reactivated: it serves again.
    assert_eq!(r["tenant_heading"], "Globex (globex)", "{r}");
    assert_eq!(r["status_after_suspend"], "suspended", "{r}");
    assert_eq!(
        r["globex_while_suspended"],
        json!({ "status": 403, "code": "tenant_suspended" }),
        "{r}"
    );
    assert_eq!(r["status_after_reactivate"], "active", "{r}");
    assert_eq!(r["globex_after_reactivate"]["status"], 200, "{r}");
    assert_eq!(
        c.sql(
            "SELECT string_agg(a.action || ':' || coalesce(a.detail->>'reason', ''), ',' ORDER BY a.created_at, a.id)
               FROM tenantgate.audit_log a JOIN tenantgate.tenants t ON t.id = a.tenant_id
              WHERE t.slug = 'globex' AND a.actor_kind = 'platform_admin' AND a.action LIKE 'tenant.%'"
        ),
        "tenant.suspended:unpaid invoice 42,tenant.reactivated:"
    );

    // Break-glass on acme: refused without a reason, granted read-only with one, listed.
    assert_eq!(r["grant_without_reason"], "reason_required", "{r}");
    assert_eq!(r["write_checked"], false, "{r}");
    let rows = r["grant_rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{r}");
    let row = strings(&rows[0]);
    assert_eq!(row[0], ADMIN_EMAIL, "{r}");
    assert_eq!(row[1], "ticket 7: a customer cannot see their tasks", "{r}");
    assert_eq!(
        (row[2].as_str(), row[5].as_str()),
        ("read-only", "active"),
        "{r}"
    );

    // The export, downloaded from the page.
    let export = &r["export"];
    assert_eq!(export["filename"], "acme-export.ndjson", "{r}");
    assert_eq!(
        (&export["format"], &export["slug"], &export["end"]["end"]),
        (&json!("tenantgate-export/1"), &json!("acme"), &json!(true)),
        "{r}"
    );
    assert_eq!(export["end"]["rows"]["data/tasks"], 2, "{r}");
    assert_eq!(export["end"]["rows"]["control/members"], 1, "{r}");
    for file in [
        "control/roles",
        "control/members",
        "control/audit_log",
        "data/projects",
        "data/tasks",
    ] {
        assert!(
            strings(&export["files"]).contains(&file.to_owned()),
            "{file}: {r}"
        );
    }
    assert!(
        r["export_notice"]
            .as_str()
            .unwrap()
            .contains("acme-export.ndjson"),
        "{r}"
    );

    // A read-write grant on globex, revoked from the list after a confirmation.
    assert_eq!(r["globex_grant_access"], "read and write", "{r}");
    assert_eq!(r["confirm_focused"], "Confirm: revoke", "{r}");
    assert_eq!(r["globex_grant_state"], "revoked", "{r}");
    assert_eq!(r["revoke_buttons_left"], 0, "{r}");
    assert_eq!(
        c.sql(
            "SELECT count(*) FROM tenantgate.break_glass_grants g JOIN tenantgate.tenants t ON t.id = g.tenant_id
              WHERE t.slug = 'globex' AND g.revoked_at IS NOT NULL AND NOT g.read_only"
        ),
        "1"
    );

    // Delete needs the slug typed; a mistyped one changes nothing. Restore brings it back.
    assert_eq!(r["delete_mistyped"], "confirmation_mismatch", "{r}");
    assert_eq!(r["status_after_mistyped"], "suspended", "{r}");
    assert_eq!(r["status_after_delete"], "deleted", "{r}");
    assert_eq!(r["status_after_restore"], "suspended", "{r}");
    // Each with the reason typed, in sleepy's own log.
    assert_eq!(
        c.sql(
            "SELECT string_agg(a.action || ': ' || (a.detail->>'reason'), ', ' ORDER BY a.created_at)
               FROM tenantgate.audit_log a JOIN tenantgate.tenants t ON t.id = a.tenant_id
              WHERE t.slug = 'sleepy' AND a.action IN ('tenant.deleted', 'tenant.restored')"
        ),
        "tenant.deleted: closed account 9, tenant.restored: reopened by request 10"
    );

    // Signed out: the token is forgotten and every page asks for one again.
    assert_eq!(r["kept_after_sign_out"], 0, "{r}");
    assert_eq!(r["after_sign_out_path"], "/platform/sign-in", "{r}");
    assert_eq!(
        r["bad_token"],
        json!({ "path": "/platform/sign-in", "code": "invalid_token", "kept": 0 }),
        "{r}"
    );

    // With the grant, the platform token reads acme on acme's host.
    let auth = admin();
    let (s, v) = c
        .app
        .get(
            "acme.localhost:3000",
            "/api/tasks",
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!((s, titles(&v).len()), (200, 2), "{v}");
    // Not on globex's host: its grant was revoked.
    let (s, v) = c
        .app
        .get(
            "globex.localhost:3000",
            "/api/tasks",
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!((s, code(&v)), (403, "break_glass_required".into()), "{v}");

    // Acme's owner sees the grant and the access on acme's own audit page.
    let o = script(
        "platform_owner_audit.mjs",
        &[
            &format!("http://acme.localhost:{}", c.port),
            &screenshots("platform"),
            "alice",
            "alice-pw",
        ],
    )
    .await;
    let actions = strings(&o["actions"]);
    for action in [
        "platform.break_glass.granted",
        "platform.break_glass.access",
        "tenant.exported",
    ] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action} in {actions:?}"
        );
    }

    for shot in [
        "sign-in",
        "sign-in-refused",
        "tenants",
        "search",
        "tenant",
        "suspended",
        "break-glass",
        "export",
        "revoked",
        "delete-confirm",
        "deleted",
        "owner-audit",
    ] {
        let path = workspace_root().join(format!("target/screenshots/platform/{shot}.png"));
        assert!(path.is_file(), "{}", path.display());
    }
}

/// The console's bundle keeps to its CSP and loads nothing from elsewhere: no inline script,
/// style or event handler; no HTML parsed from strings; no URL off the host; every module it
/// imports is a file the component serves, and every file it serves is used.
#[test]
fn the_console_bundle_keeps_to_its_csp_and_serves_only_its_own_files() {
    let own = workspace_root().join("components/platform/static");
    let shared = workspace_root().join("components/orgs/static");
    // What the component embeds: its own files and, from the organisation pages, these two.
    let mut served: Vec<String> = std::fs::read_dir(&own)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .chain(["dom.js".to_owned(), "app.css".to_owned()])
        .collect();
    served.sort();
    let assets =
        std::fs::read_to_string(workspace_root().join("components/platform/src/assets.rs"))
            .unwrap();
    for file in &served {
        assert!(
            assets.contains(&format!("(\"{file}\"")),
            "{file} is not in the asset table"
        );
    }
    let read = |f: &str| {
        std::fs::read_to_string(own.join(f))
            .unwrap_or_else(|_| std::fs::read_to_string(shared.join(f)).unwrap())
    };
    crate::bundle::check("platform.html", "/platform/assets/", &served, read);
}
