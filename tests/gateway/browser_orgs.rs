//! The organisation pages (`/admin`, issue 16) in a real browser: Debian chromium driven by npm
//! playwright-core (`tests/browser/orgs_*.mjs`), through the real gateway, the `orgs`
//! component and the real OIDC IdP. Screenshots of every page go to
//! `target/screenshots/orgs/` (the README shows some of them).
//!
//! People: olive owns acme and is a member of globex; max (`max@partner.test`, a domain no tenant
//! has verified, so only an invitation admits him) is invited into acme.

use serde_json::Value;
use tenantgate_control::sso::{self, SsoChange};
use tenantgate_tests::browser::{run_script as script, screenshots, strings};
use tenantgate_tests::idp::{OidcClient, OidcIdp, OidcUser};
use tenantgate_tests::{free_port, workspace_root};

use crate::app::{App, ACME, GLOBEX};

pub(crate) struct Orgs {
    pub(crate) app: App,
    _idp: OidcIdp,
    pub(crate) port: u16,
}

impl Orgs {
    pub(crate) fn origin(&self, slug: &str) -> String {
        format!("http://{slug}.localhost:{}", self.port)
    }

    pub(crate) fn sql(&self, sql: &str) -> String {
        self.app.pg.psql("postgres", sql).trim().to_owned()
    }
}

/// The app on a port of its own (the browser's URLs carry it), sessions on, OIDC for acme and
/// globex at one IdP, the system roles and the people above (and vera, `vera@acme.test`, whom
/// the home page's test makes a reader of acme; nobody else's test signs her in).
pub(crate) async fn start() -> Orgs {
    let port = free_port();
    let callback = |slug: &str| format!("http://{slug}.localhost:{port}/auth/oidc/callback");
    let idp = OidcIdp::start(
        &[
            OidcClient::new("acme-app", "acme-secret", &[&callback("acme")]),
            OidcClient::new("globex-app", "globex-secret", &[&callback("globex")]),
        ],
        &[
            OidcUser::new("olive", "olive-pw", "olive@acme.test"),
            OidcUser::new("max", "max-pw", "max@partner.test"),
            OidcUser::new("vera", "vera-pw", "vera@acme.test"),
        ],
    );
    let port_text = port.to_string();
    let session_key = tenantgate_tests::dataplane::hex(b"browser-orgs-session-key-32-byte");
    let app = App::start_with(&[
        ("TEST_LISTEN_PORT", &port_text),
        ("SPIN_VARIABLE_EXTRA_PORTS", &format!("3000,{port}")),
        ("SPIN_VARIABLE_SESSION_KEY", &session_key),
        (
            "SPIN_VARIABLE_SSO_TOKEN_ORIGIN",
            idp.issuer().trim_end_matches('/'),
        ),
        ("SPIN_VARIABLE_ANONYMOUS_PERMISSIONS", ""),
    ])
    .await;
    // The system roles (migration 0010 seeds the tenants that exist when it runs; these were
    // made after it), then the people.
    let mut seed = "SELECT tenantgate.seed_system_roles(NULL);\n".to_owned();
    seed.push_str(&format!(
        "INSERT INTO tenantgate.users (email, display_name) VALUES ('olive@acme.test', 'Olive Owner');
         INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
           SELECT '{ACME}'::uuid, id, 'owner' FROM tenantgate.users WHERE email = 'olive@acme.test'
           UNION ALL SELECT '{GLOBEX}'::uuid, id, 'member' FROM tenantgate.users WHERE email = 'olive@acme.test';
         INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token, verified_at)
           VALUES ('{ACME}', 'acme.test', 'token-token-token-5', now());"
    ));
    app.pg.psql("postgres", &seed);
    let mut control = tenantgate_control::db::connect(&app.pg.url("postgres"))
        .await
        .unwrap();
    for (slug, client, secret) in [
        ("acme", "acme-app", "acme-secret"),
        ("globex", "globex-app", "globex-secret"),
    ] {
        sso::set(
            &mut control,
            slug,
            &SsoChange {
                kind: Some("oidc".into()),
                display_name: Some(format!("{slug} Identity")),
                issuer: Some(idp.issuer().to_owned()),
                client_id: Some(client.into()),
                client_secret: Some(secret.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("sso set {slug}: {e}\n{}", idp.stderr()));
    }
    Orgs {
        app,
        _idp: idp,
        port,
    }
}

#[tokio::test]
async fn an_owner_invites_a_member_who_accepts_and_is_promoted_and_the_audit_log_shows_it() {
    let s = start().await;
    let shots = screenshots("orgs");
    let r = script(
        "orgs_invite.mjs",
        &[
            &s.origin("acme"),
            &shots,
            "olive",
            "olive-pw",
            "max",
            "max-pw",
            "max@partner.test",
        ],
    )
    .await;

    // The owner's overview; focus goes to the heading after a navigation.
    assert_eq!(r["owner_heading"], "Overview", "{r}");
    assert_eq!(r["owner_role"], "owner", "{r}");
    assert_eq!(r["focus_after_navigation"], "page-title", "{r}");

    // The invitation: its link, once; a second one for the same email is refused.
    let accept = r["accept_url"].as_str().unwrap();
    assert!(
        accept.starts_with(&format!("{}/admin/accept?token=", s.origin("acme"))),
        "{r}"
    );
    assert!(r["pending"].as_str().unwrap().contains("pending"), "{r}");
    assert_eq!(r["duplicate_invitation_code"], "invitation_exists", "{r}");
    let token = accept.rsplit_once("token=").unwrap().1;
    assert!(
        r["sign_in_href"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/auth/login?invitation={token}&")),
        "{r}"
    );
    // The newcomer signed in through the invitation and is a member.
    assert_eq!(r["newcomer_role"], "member", "{r}");
    assert_eq!(r["newcomer_email"], "max@partner.test", "{r}");
    // As a member: no admin pages, no admin actions; the API says 403 forbidden.
    let nav = strings(&r["member_nav"]);
    for page in ["Overview", "Members", "Invitations"] {
        assert!(nav.contains(&page.to_owned()), "{page} in {nav:?}");
    }
    for page in ["Audit log", "Domains", "Single sign-on", "Usage"] {
        assert!(!nav.contains(&page.to_owned()), "{page} in {nav:?}");
    }
    assert_eq!(
        strings(&r["member_buttons_on_members"]),
        ["Leave organisation"],
        "{r}"
    );
    let on_invitations = strings(&r["member_buttons_on_invitations"]);
    assert!(
        !on_invitations
            .iter()
            .any(|b| b == "Send invitation" || b.starts_with("Resend") || b == "Revoke"),
        "{on_invitations:?}"
    );
    for refused in ["member_api_invite", "member_api_audit"] {
        assert_eq!(r[refused]["status"], 403, "{refused}: {r}");
        assert_eq!(r[refused]["code"], "forbidden", "{refused}: {r}");
    }
    assert_eq!(r["member_audit_page_code"], "forbidden", "{r}");

    // Promoted with the keyboard alone (focus visible), and it shows within seconds.
    assert!(
        !r["focus_outline"].as_str().unwrap().starts_with("none"),
        "{r}"
    );
    assert!(
        r["role_changed_notice"].as_str().unwrap().contains("admin"),
        "{r}"
    );
    assert!(r["member_row"].as_str().unwrap().contains("admin"), "{r}");
    assert!(
        strings(&r["promoted_buttons_on_members"]).contains(&"Change role".to_owned()),
        "{r}"
    );
    assert_eq!(
        s.sql(&format!(
            "SELECT m.role_name FROM tenantgate.memberships m JOIN tenantgate.users u ON u.id = m.user_id
              WHERE m.tenant_id = '{ACME}' AND u.email = 'max@partner.test'"
        )),
        "admin"
    );

    // The audit page shows the invitation, its acceptance and the role change.
    let actions = strings(&r["audit_actions"]);
    for action in [
        "invitation.created",
        "invitation.accepted",
        "member.role_changed",
    ] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action} in {actions:?}"
        );
    }
    let filtered = strings(&r["filtered_actions"]);
    assert!(
        !filtered.is_empty() && filtered.iter().all(|a| a == "member.role_changed"),
        "{filtered:?}"
    );
    let summary = r["role_change_summary"].as_str().unwrap();
    assert!(summary.contains("role: member → admin"), "{summary}");

    // Every page drew without an error.
    for (page, heading) in [
        ("roles", "Roles and permissions"),
        ("domains", "Domains"),
        ("sso", "Single sign-on"),
        ("usage", "Usage"),
        ("organisations", "Organisations"),
    ] {
        assert_eq!(r["headings"][page], heading, "{r}");
        assert_eq!(
            r[format!("{page}_alerts")],
            Value::Array(vec![]),
            "{page}: {r}"
        );
    }
    for shot in [
        "overview",
        "invitations",
        "accept",
        "member-members",
        "members",
        "audit",
        "roles",
        "domains",
        "sso",
        "usage",
        "organisations",
    ] {
        let path = workspace_root().join(format!("target/screenshots/orgs/{shot}.png"));
        assert!(path.is_file(), "{}", path.display());
    }
}

#[tokio::test]
async fn a_person_switches_between_organisations_and_creates_one() {
    let s = start().await;
    let r = script(
        "orgs_switch.mjs",
        &[
            &s.origin("acme"),
            &screenshots("orgs"),
            "olive",
            "olive-pw",
            "globex",
            "initech",
            "Initech",
        ],
    )
    .await;
    let mut listed = strings(&r["listed"]);
    listed.sort();
    assert_eq!(listed, ["acme", "globex"], "{r}");
    assert!(
        r["current_marked"].as_str().unwrap().contains("current"),
        "{r}"
    );
    // To globex and back without a new login: the same person, each time in that organisation.
    assert_eq!(r["switched"]["brand"], "Globex", "{r}");
    assert_eq!(r["switched"]["role"], "member", "{r}");
    assert_eq!(r["back"]["brand"], "Acme", "{r}");
    assert_eq!(r["back"]["role"], "owner", "{r}");
    // A taken address is refused with its code; a free one makes the person its owner.
    assert_eq!(r["suggested_slug"], "initech", "{r}");
    assert_eq!(r["taken_code"], "slug_taken", "{r}");
    assert_eq!(r["created"]["brand"], "Initech", "{r}");
    assert_eq!(r["created"]["role"], "owner", "{r}");
    assert!(
        r["created"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&s.origin("initech")),
        "{r}"
    );
    assert_eq!(
        s.sql(
            "SELECT m.role_name FROM tenantgate.memberships m
               JOIN tenantgate.tenants t ON t.id = m.tenant_id
               JOIN tenantgate.users u ON u.id = m.user_id
              WHERE t.slug = 'initech' AND u.email = 'olive@acme.test'"
        ),
        "owner"
    );
    assert_eq!(
        s.sql(
            "SELECT count(*) FROM tenantgate.audit_log a JOIN tenantgate.tenants t ON t.id = a.tenant_id
              WHERE t.slug = 'initech' AND a.action = 'organisation.created'"
        ),
        "1"
    );
}

/// The bundle keeps to its CSP and loads nothing from elsewhere: no inline script, style or
/// event handler; no HTML parsed from strings (`innerHTML` and friends); no URL off the host;
/// every module it imports is a file of the bundle, and every file is used (so the component's
/// asset table serves exactly these).
#[test]
fn the_bundle_keeps_to_its_csp_and_serves_only_its_own_files() {
    let dir = workspace_root().join("components/orgs/static");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    crate::bundle::check("admin.html", "/admin/assets/", &files, |f| {
        std::fs::read_to_string(dir.join(f)).unwrap()
    });
}

#[tokio::test]
async fn an_owner_manages_roles_domains_sso_and_invitations_from_the_pages() {
    let s = start().await;
    let r = script(
        "orgs_settings.mjs",
        &[&s.origin("acme"), &screenshots("orgs"), "olive", "olive-pw"],
    )
    .await;

    // A custom role from the catalogue: created, edited, deleted; system roles offer no action.
    let created = r["role_created"].as_str().unwrap();
    assert!(
        created.contains("audit.read") && created.contains("usage.read"),
        "{r}"
    );
    assert!(!created.contains("members.read"), "{r}");
    assert!(
        r["role_edited"].as_str().unwrap().contains("members.read"),
        "{r}"
    );
    assert_eq!(r["system_roles_have_no_actions"], 0, "{r}");
    assert_eq!(
        s.sql(&format!(
            "SELECT count(*) FROM tenantgate.roles WHERE tenant_id = '{ACME}' AND name = 'auditor'"
        )),
        "0"
    );

    // A domain: normalised, its TXT record shown, then revoked.
    assert_eq!(r["txt_name"], "_tenantgate.portal2.acme.test", "{r}");
    let token = r["txt_value"].as_str().unwrap();
    assert_eq!(
        s.sql(&format!(
            "SELECT verification_token = '{token}' AND revoked_at IS NOT NULL
               FROM tenantgate.tenant_domains WHERE tenant_id = '{ACME}' AND domain = 'portal2.acme.test'"
        )),
        "t"
    );
    assert!(r["domain_row"].as_str().unwrap().contains("pending"), "{r}");

    // SSO rules saved and shown again after a reload.
    assert!(r["sso_saved"].as_str().unwrap().contains("saved"), "{r}");
    assert_eq!(r["sso_jit_after_reload"], false, "{r}");
    assert_eq!(r["sso_role_after_reload"], "admin", "{r}");
    assert_eq!(
        s.sql(&format!(
            "SELECT jit::text || ' ' || default_role FROM tenantgate.sso_providers WHERE tenant_id = '{ACME}'"
        )),
        "false admin"
    );

    // An invitation resent (a new link) and revoked; the replaced link admits nobody.
    assert_eq!(r["resend_gives_a_new_link"], true, "{r}");
    assert!(
        r["revoked_row"].as_str().unwrap().contains("revoked"),
        "{r}"
    );
    assert_eq!(r["old_link_code"], "invitation_not_found", "{r}");
    let actions = s.sql(&format!(
        "SELECT string_agg(action, ',' ORDER BY created_at, id) FROM tenantgate.audit_log
          WHERE tenant_id = '{ACME}' AND action IN ('role.created', 'role.updated', 'role.deleted',
                'domain.added', 'domain.removed', 'sso.updated', 'invitation.created',
                'invitation.resent', 'invitation.revoked') AND actor_kind = 'user'"
    ));
    assert_eq!(
        actions,
        "role.created,role.updated,role.deleted,domain.added,domain.removed,sso.updated,\
         invitation.created,invitation.resent,invitation.revoked"
    );
}
