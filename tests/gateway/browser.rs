//! A real browser (Debian chromium driven by npm playwright-core) signs in on
//! `acme.localhost` through the real OIDC IdP, lands on `return_to`, and sees acme's data.
//! Screenshots go to `target/screenshots/sso/` (the README shows them).

use tenantgate_control::sso::{self, SsoChange};
use tenantgate_tests::browser::run_node_script;
use tenantgate_tests::idp::{OidcClient, OidcIdp, OidcUser};
use tenantgate_tests::{free_port, workspace_root};

use crate::app::{App, ACME};

#[tokio::test]
async fn a_person_signs_in_with_a_browser_and_sees_acmes_tasks() {
    let port = free_port();
    let origin = format!("http://acme.localhost:{port}");
    let idp = OidcIdp::start(
        &[OidcClient::new(
            "acme-app",
            "acme-secret",
            &[&format!("{origin}/auth/oidc/callback")],
        )],
        &[OidcUser::new("alice", "alice-pw", "alice@acme.test")],
    );
    let port_text = port.to_string();
    let session_key = tenantgate_tests::dataplane::hex(b"browser-session-key-32-bytes!!!!");
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
    app.pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate.roles (tenant_id, name, built_in) VALUES ('{ACME}', 'member', true);
             INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission) VALUES ('{ACME}', 'member', 'tasks.read');
             INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token, verified_at)
               VALUES ('{ACME}', 'acme.test', 'token-token-token-9', now());"
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
    .unwrap();
    let shots = workspace_root().join("target/screenshots/sso");
    let script = workspace_root().join("tests/browser/oidc_login.mjs");
    // Straight to a protected page: the browser is sent to the login page, then the IdP.
    let start = format!("{origin}/api/tasks");
    let landed = run_node_script(
        &script,
        &[
            &start,
            "alice",
            "alice-pw",
            "/api/tasks",
            &shots.display().to_string(),
        ],
    )
    .await;
    assert_eq!(landed["url"], format!("{origin}/api/tasks"), "{landed}");
    assert_eq!(landed["status"], 200, "{landed}");
    let body = landed["body_text"].as_str().unwrap();
    assert!(body.contains("acme: book venue"), "{body}");
    assert!(!body.contains("globex"), "{body}");
    for shot in ["00-tenant-login.png", "01-login.png", "03-landed.png"] {
        assert!(shots.join(shot).is_file(), "{shot}");
    }
}
