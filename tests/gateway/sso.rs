//! Single sign-on with a real OIDC provider (npm `oidc-provider`, started on loopback): the
//! login flow end to end through the gateway, and the attacks on it, each refused with its
//! code and nothing created. Every refusal is paired with an accepted request.

use std::time::Duration;

use gateway_core::sso::session::SessionKey;
use tenantgate_control::sso::{self, SsoChange};
use tenantgate_tests::idp::{OidcClient, OidcIdp, OidcUser};

use crate::app::{code, App, ACME, GLOBEX};
use crate::web::Answer;

pub(crate) const SESSION_KEY: &[u8] = b"session-key-for-tests-32-bytes!!";
pub(crate) const ACME_HOST: &str = "acme.localhost:3000";
pub(crate) const GLOBEX_HOST: &str = "globex.localhost:3000";

pub(crate) struct Sso {
    pub(crate) app: App,
    pub(crate) idp: OidcIdp,
    http: reqwest::Client,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The app with sessions on, roles and verified email domains for both tenants, and one
/// OIDC provider with a client for each tenant.
pub(crate) async fn start() -> Sso {
    let idp = OidcIdp::start(
        &[
            OidcClient::new(
                "acme-app",
                "acme-secret",
                &["http://acme.localhost:3000/auth/oidc/callback"],
            ),
            OidcClient::new(
                "globex-app",
                "globex-secret",
                &["http://globex.localhost:3000/auth/oidc/callback"],
            ),
        ],
        &[
            OidcUser::new("alice", "alice-pw", "alice@acme.test"),
            OidcUser::new("bob", "bob-pw", "bob@elsewhere.test"),
            OidcUser::new("carol", "carol-pw", "carol@acme.test").unverified(),
            OidcUser::new("gina", "gina-pw", "gina@globex.test"),
        ],
    );
    let origin = idp.issuer().trim_end_matches('/').to_owned();
    let issuers = crate::tokens::issuers();
    let app = App::start_with(&[
        ("SPIN_VARIABLE_JWT_ISSUERS", &issuers),
        ("SPIN_VARIABLE_SESSION_KEY", &hex(SESSION_KEY)),
        ("SPIN_VARIABLE_SSO_TOKEN_ORIGIN", &origin),
        ("SPIN_VARIABLE_ANONYMOUS_PERMISSIONS", ""),
    ])
    .await;
    app.pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate.roles (tenant_id, name, built_in) VALUES
               ('{ACME}', 'member', true), ('{GLOBEX}', 'member', true);
             INSERT INTO tenantgate.role_permissions (tenant_id, role_name, permission) VALUES
               ('{ACME}', 'member', 'tasks.read'), ('{ACME}', 'member', 'tasks.write'),
               ('{GLOBEX}', 'member', 'tasks.read'), ('{GLOBEX}', 'member', 'tasks.write');
             INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES
               ('{ACME}', 'acme.test', 'token-token-token-3', now()),
               ('{GLOBEX}', 'globex.test', 'token-token-token-4', now());"
        ),
    );
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
                display_name: Some(format!("{slug} IdP")),
                issuer: Some(idp.issuer().to_owned()),
                client_id: Some(client.into()),
                client_secret: Some(secret.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("sso set {slug}: {e}\n{}", idp.stderr()));
    }
    let http = crate::web::client();
    Sso { app, idp, http }
}

impl Sso {
    pub(crate) async fn send(
        &self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.app.host.url(path))
            .header("host", host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        crate::web::answer(req).await
    }

    pub(crate) async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send("GET", host, path, headers, None).await
    }

    /// Starts a login on `host`: the IdP's authorisation URL and the browser-binding cookie.
    pub(crate) async fn begin(&self, host: &str, return_to: &str) -> (String, String) {
        let a = self
            .get(host, &format!("/auth/sso?return_to={return_to}"), &[])
            .await;
        assert_eq!(a.status, 302, "{}", a.body);
        let binding = a.cookie("tg_sso_flow").expect("a flow cookie");
        (a.location, binding)
    }

    /// The callback URL's path and query.
    pub(crate) fn callback_path(url: &str) -> String {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        rest[rest.find('/').unwrap_or(rest.len())..].to_owned()
    }

    /// Finishes a login: the callback with the binding cookie.
    pub(crate) async fn finish(&self, host: &str, callback: &str, binding: &str) -> Answer {
        let cookie = format!("tg_sso_flow={binding}");
        self.get(host, &Self::callback_path(callback), &[("cookie", &cookie)])
            .await
    }

    /// A whole login as `user`; the session cookie.
    pub(crate) async fn login(&self, host: &str, user: &str, password: &str) -> String {
        let (authorize, binding) = self.begin(host, "/api/tasks").await;
        let callback = self.idp.login(&authorize, user, password).await;
        let done = self.finish(host, &callback, &binding).await;
        assert_eq!(done.status, 302, "{}", done.body);
        assert_eq!(done.location, "/api/tasks");
        done.cookie("tg_session").expect("a session cookie")
    }

    pub(crate) fn count(&self, sql: &str) -> i64 {
        self.app.pg.psql("postgres", sql).trim().parse().unwrap()
    }
}

pub(crate) fn session_header(value: &str) -> String {
    format!("tg_session={value}")
}

#[tokio::test]
async fn sso_login_lands_on_return_to_and_sees_the_tenants_data() {
    let s = start().await;
    // The login page names the IdP and links the start of the flow.
    let page = s
        .get(ACME_HOST, "/auth/login?return_to=/api/tasks", &[])
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("acme IdP"), "{}", page.body);
    assert!(
        page.body.contains("/auth/sso?return_to=%2Fapi%2Ftasks"),
        "{}",
        page.body
    );

    // The flow: PKCE S256, state, nonce, the exact redirect URI.
    let (authorize, binding) = s.begin(ACME_HOST, "/api/tasks").await;
    assert!(authorize.starts_with(s.idp.issuer()), "{authorize}");
    for part in [
        "code_challenge_method=S256",
        "response_type=code",
        "redirect_uri=http%3A%2F%2Facme.localhost%3A3000%2Fauth%2Foidc%2Fcallback",
        "nonce=",
        "state=",
    ] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }
    let callback = s.idp.login(&authorize, "alice", "alice-pw").await;
    let done = s.finish(ACME_HOST, &callback, &binding).await;
    assert_eq!((done.status, done.location.as_str()), (302, "/api/tasks"));
    let set = done
        .cookies
        .iter()
        .find(|c| c.starts_with("tg_session="))
        .expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Domain"), "host-only: {set}");
    let cookie = session_header(&done.cookie("tg_session").unwrap());

    // The session sees acme's data; without it, nothing.
    let tasks = s.get(ACME_HOST, "/api/tasks", &[("cookie", &cookie)]).await;
    assert_eq!(tasks.status, 200, "{}", tasks.body);
    assert!(tasks.body.contains("acme: book venue"));
    assert!(!tasks.body.contains("globex"));
    let anonymous = s.get(ACME_HOST, "/api/tasks", &[]).await;
    assert_eq!(anonymous.status, 403, "{}", anonymous.body);

    // Just-in-time membership, with an audit event; the identity is (issuer, subject).
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM tenantgate.memberships m JOIN tenantgate.users u ON u.id = m.user_id \
              WHERE m.tenant_id = '{ACME}' AND u.email = 'alice@acme.test' AND m.role_name = 'member'"
        )),
        1
    );
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM tenantgate.user_identities WHERE tenant_id = '{ACME}' AND subject = 'alice'"
        )),
        1
    );
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{ACME}' AND action IN ('member.jit_created', 'sso.login')"
        )),
        2
    );
    // A session write needs the same origin (CSRF); from this origin it works.
    let body = r#"{"project_id":"a1000000-0000-4000-8000-000000000001","title":"from a session"}"#;
    let evil = s
        .send(
            "POST",
            ACME_HOST,
            "/api/tasks",
            &[("cookie", &cookie), ("origin", "http://evil.test")],
            Some(body),
        )
        .await;
    assert_eq!(
        (evil.status, code(&evil.json())),
        (403, "csrf_failed".into())
    );
    let no_origin = s
        .send(
            "POST",
            ACME_HOST,
            "/api/tasks",
            &[("cookie", &cookie)],
            Some(body),
        )
        .await;
    assert_eq!(
        (no_origin.status, code(&no_origin.json())),
        (403, "csrf_failed".into())
    );
    let same = s
        .send(
            "POST",
            ACME_HOST,
            "/api/tasks",
            &[
                ("cookie", &cookie),
                ("origin", "http://acme.localhost:3000"),
            ],
            Some(body),
        )
        .await;
    assert_eq!(same.status, 201, "{}", same.body);
    // /auth/session names the user and gives the CSRF token for clients without Origin.
    let me = s
        .get(ACME_HOST, "/auth/session", &[("cookie", &cookie)])
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    let token = me.json()["csrf_token"].as_str().unwrap().to_owned();
    let with_token = s
        .send(
            "POST",
            ACME_HOST,
            "/api/tasks",
            &[("cookie", &cookie), ("x-csrf-token", &token)],
            Some(body),
        )
        .await;
    assert_eq!(with_token.status, 201, "{}", with_token.body);
}

#[tokio::test]
async fn login_state_attacks_are_refused() {
    let s = start().await;
    // Wrong state.
    let (authorize, binding) = s.begin(ACME_HOST, "/").await;
    let callback = s.idp.login(&authorize, "alice", "alice-pw").await;
    let forged = callback.replace("state=", "state=x");
    let a = s.finish(ACME_HOST, &forged, &binding).await;
    assert_eq!(
        (a.status, code(&a.json())),
        (400, "sso_state_invalid".into())
    );
    // Another browser's (no or another binding cookie) state: refused, and burnt.
    let (authorize, own_binding) = s.begin(ACME_HOST, "/").await;
    let (_, other_binding) = s.begin(ACME_HOST, "/").await;
    let callback = s.idp.login(&authorize, "alice", "alice-pw").await;
    let a = s.finish(ACME_HOST, &callback, &other_binding).await;
    assert_eq!(
        (a.status, code(&a.json())),
        (400, "sso_state_invalid".into())
    );
    assert!(
        !a.cookies.iter().any(|c| c.starts_with("tg_session=")),
        "{:?}",
        a.cookies
    );
    // Burnt: the browser that started it cannot finish it afterwards either.
    let a = s.finish(ACME_HOST, &callback, &own_binding).await;
    assert_eq!(
        (a.status, code(&a.json())),
        (400, "sso_state_invalid".into())
    );
    assert!(
        !a.cookies.iter().any(|c| c.starts_with("tg_session=")),
        "{:?}",
        a.cookies
    );
    // Replayed state: the first use works, the second is refused.
    let (authorize, binding) = s.begin(ACME_HOST, "/").await;
    let callback = s.idp.login(&authorize, "alice", "alice-pw").await;
    assert_eq!(s.finish(ACME_HOST, &callback, &binding).await.status, 302);
    let again = s.finish(ACME_HOST, &callback, &binding).await;
    assert_eq!(
        (again.status, code(&again.json())),
        (400, "sso_state_invalid".into())
    );
    // A flow started on acme, finished on globex.
    let (authorize, binding) = s.begin(ACME_HOST, "/").await;
    let callback = s.idp.login(&authorize, "alice", "alice-pw").await;
    let a = s.finish(GLOBEX_HOST, &callback, &binding).await;
    assert_eq!(
        (a.status, code(&a.json())),
        (400, "sso_state_invalid".into())
    );
    // Code replay: a used code with a fresh flow's state is refused by the IdP.
    let (authorize, binding) = s.begin(ACME_HOST, "/").await;
    let used = s.idp.login(&authorize, "alice", "alice-pw").await;
    assert_eq!(s.finish(ACME_HOST, &used, &binding).await.status, 302);
    let (authorize2, binding2) = s.begin(ACME_HOST, "/").await;
    let state2 = authorize2
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .unwrap()
        .to_owned();
    let code1 = used
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_owned();
    let iss: String = form_urlencoded_iss(&used);
    let replay = format!("/auth/oidc/callback?code={code1}&state={state2}&iss={iss}");
    let a = s.finish(ACME_HOST, &replay, &binding2).await;
    assert_eq!((a.status, code(&a.json())), (502, "sso_failed".into()));
    // IdP mix-up: the response names another issuer.
    let (authorize, binding) = s.begin(ACME_HOST, "/").await;
    let callback = s.idp.login(&authorize, "alice", "alice-pw").await;
    let mixed = callback.replace(&format!("iss={iss}"), "iss=http%3A%2F%2Fevil.test");
    assert_ne!(mixed, callback);
    let a = s.finish(ACME_HOST, &mixed, &binding).await;
    assert_eq!((a.status, code(&a.json())), (400, "sso_failed".into()));
    // An open redirect in return_to.
    for bad in [
        "//evil.test/x",
        "https://evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
    ] {
        let enc: String = url_encode(bad);
        let a = s
            .get(ACME_HOST, &format!("/auth/sso?return_to={enc}"), &[])
            .await;
        assert_eq!(
            (a.status, code(&a.json())),
            (400, "bad_request".into()),
            "{bad}"
        );
    }
    // An IdP error answer.
    let (_, binding) = s.begin(ACME_HOST, "/").await;
    let a = s
        .finish(
            ACME_HOST,
            "/auth/oidc/callback?error=access_denied&state=nothing",
            &binding,
        )
        .await;
    assert_eq!(
        (a.status, code(&a.json())),
        (400, "sso_state_invalid".into())
    );
    // Browsers get the error page with the stable code.
    let page = s
        .get(
            ACME_HOST,
            "/auth/oidc/callback?code=x&state=unknown",
            &[("accept", "text/html")],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("sso_state_invalid"), "{}", page.body);
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form_urlencoded_iss(callback: &str) -> String {
    callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("iss="))
        .expect("the IdP sends iss")
        .to_owned()
}

#[tokio::test]
async fn just_in_time_membership_only_for_verified_emails_of_verified_domains() {
    let s = start().await;
    let users_before = s.count("SELECT count(*) FROM tenantgate.users");
    for (user, password, expected) in [
        ("bob", "bob-pw", "email_domain_not_allowed"),
        ("carol", "carol-pw", "email_not_verified"),
        // gina@globex.test is verified, but for globex: acme's IdP flow cannot make her
        // an acme member.
        ("gina", "gina-pw", "email_domain_not_allowed"),
    ] {
        let (authorize, binding) = s.begin(ACME_HOST, "/").await;
        let callback = s.idp.login(&authorize, user, password).await;
        let a = s.finish(ACME_HOST, &callback, &binding).await;
        assert_eq!(
            (a.status, code(&a.json())),
            (403, expected.into()),
            "{user}"
        );
        assert!(a.cookie("tg_session").is_none());
    }
    assert_eq!(
        s.count("SELECT count(*) FROM tenantgate.users"),
        users_before
    );
    assert_eq!(s.count("SELECT count(*) FROM tenantgate.sessions"), 0);
    // The control: gina on globex is let in.
    let cookie = s.login(GLOBEX_HOST, "gina", "gina-pw").await;
    let tasks = s
        .get(
            GLOBEX_HOST,
            "/api/tasks",
            &[("cookie", &session_header(&cookie))],
        )
        .await;
    assert_eq!(tasks.status, 200, "{}", tasks.body);
    assert!(tasks.body.contains("globex: hire engineers"));
    // With JIT off, a non-member is refused.
    s.app.pg.psql(
        "postgres",
        &format!("UPDATE tenantgate.sso_providers SET jit = false WHERE tenant_id = '{ACME}'"),
    );
    let (authorize, binding) = s.begin(ACME_HOST, "/").await;
    let callback = s.idp.login(&authorize, "alice", "alice-pw").await;
    let a = s.finish(ACME_HOST, &callback, &binding).await;
    assert_eq!((a.status, code(&a.json())), (403, "not_a_member".into()));
}

#[tokio::test]
async fn session_cookies_are_bound_checked_and_revocable() {
    let s = start().await;
    let value = s.login(ACME_HOST, "alice", "alice-pw").await;
    let cookie = session_header(&value);
    assert_eq!(
        s.get(ACME_HOST, "/api/tasks", &[("cookie", &cookie)])
            .await
            .status,
        200
    );
    // acme's cookie on globex's host.
    let a = s
        .get(GLOBEX_HOST, "/api/tasks", &[("cookie", &cookie)])
        .await;
    assert_eq!((a.status, code(&a.json())), (401, "session_invalid".into()));
    // Tampered: one character of the MAC, and the session id.
    let mut tampered = value.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (_, rest) = value.split_once('.').unwrap();
    // Another session id: its first hex digit changed (to one it is not: a session id that
    // began with `0` made this the real cookie once in 16 runs).
    let first = if rest.starts_with('0') { "1" } else { "0" };
    let other_sid = format!("s1.{first}{}", &rest[1..]);
    for bad in [
        tampered,
        other_sid,
        "garbage".to_owned(),
        String::new() + "s1....",
    ] {
        let a = s
            .get(
                ACME_HOST,
                "/api/tasks",
                &[("cookie", &session_header(&bad))],
            )
            .await;
        assert_eq!(
            (a.status, code(&a.json())),
            (401, "session_invalid".into()),
            "{bad}"
        );
        assert!(
            a.cookies.iter().any(|c| c.starts_with("tg_session=;")),
            "cleared"
        );
    }
    // Expired: minted with the right key but past its expiry.
    let key = SessionKey::new(SESSION_KEY).unwrap();
    let parts: Vec<&str> = value.split('.').collect();
    let sid: uuid::Uuid = parts[1].parse().unwrap();
    let expired = key.issue(sid, &ACME.parse().unwrap(), 1_000_000);
    let a = s
        .get(
            ACME_HOST,
            "/api/tasks",
            &[("cookie", &session_header(&expired))],
        )
        .await;
    assert_eq!((a.status, code(&a.json())), (401, "session_invalid".into()));
    // A browser navigation with a bad cookie goes to the login page instead.
    let nav = s
        .get(
            ACME_HOST,
            "/api/tasks?x=1",
            &[
                ("cookie", &session_header(&expired)),
                ("sec-fetch-mode", "navigate"),
            ],
        )
        .await;
    assert_eq!(nav.status, 302);
    assert_eq!(nav.location, "/auth/login?return_to=%2Fapi%2Ftasks%3Fx%3D1");
    // Without a session, a navigation is sent to the login page; an API call gets JSON.
    let nav = s
        .get(ACME_HOST, "/api/tasks", &[("accept", "text/html,*/*")])
        .await;
    assert_eq!(
        (nav.status, nav.location.as_str()),
        (302, "/auth/login?return_to=%2Fapi%2Ftasks")
    );
    let api = s.get(ACME_HOST, "/api/tasks", &[]).await;
    assert_eq!(api.status, 403);

    // Logout ends it everywhere within 5 s (this instance at once).
    let out = s
        .send(
            "POST",
            ACME_HOST,
            "/auth/logout",
            &[
                ("cookie", &cookie),
                ("origin", "http://acme.localhost:3000"),
            ],
            None,
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    let a = s.get(ACME_HOST, "/api/tasks", &[("cookie", &cookie)]).await;
    assert_eq!((a.status, code(&a.json())), (401, "session_invalid".into()));

    // A removed member's session ends within 5 s.
    let value = s.login(ACME_HOST, "alice", "alice-pw").await;
    let cookie = session_header(&value);
    assert_eq!(
        s.get(ACME_HOST, "/api/tasks", &[("cookie", &cookie)])
            .await
            .status,
        200
    );
    s.app.pg.psql(
        "postgres",
        &format!("DELETE FROM tenantgate.memberships WHERE tenant_id = '{ACME}'"),
    );
    let until = std::time::Instant::now() + Duration::from_secs(5);
    let mut ended = false;
    while std::time::Instant::now() < until {
        if s.get(ACME_HOST, "/api/tasks", &[("cookie", &cookie)])
            .await
            .status
            == 401
        {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ended, "a removed member's session still works after 5 s");
}

#[tokio::test]
async fn enforced_sso_refuses_bearer_tokens_and_stale_keys_fail_closed() {
    let s = start().await;
    s.app.pg.psql(
        "postgres",
        &format!("UPDATE tenantgate.sso_providers SET enforced = true WHERE tenant_id = '{ACME}'"),
    );
    // A valid token for acme is refused with the login URL (within the tenant cache's bound);
    // the same token on globex, which does not enforce, still works.
    let acme = format!(
        "Bearer {}",
        crate::tokens::token("a", serde_json::json!({ "org_id": ACME }))
    );
    let globex = format!(
        "Bearer {}",
        crate::tokens::token("a", serde_json::json!({ "org_id": GLOBEX }))
    );
    let until = std::time::Instant::now() + Duration::from_secs(7);
    let mut refused = None;
    while std::time::Instant::now() < until {
        let a = s
            .get(ACME_HOST, "/api/tasks", &[("authorization", &acme)])
            .await;
        if a.status != 200 {
            refused = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let a = refused.expect("enforced SSO took effect within 7 s");
    assert_eq!(
        (a.status, code(&a.json())),
        (403, "sso_required".into()),
        "{}",
        a.body
    );
    assert!(a.body.contains("/auth/login"), "{}", a.body);
    // On the apex, a token naming acme is refused the same way.
    let apex = s
        .get("localhost:3000", "/api/tasks", &[("authorization", &acme)])
        .await;
    assert_eq!(
        (apex.status, code(&apex.json())),
        (403, "sso_required".into())
    );
    let g = s
        .get(GLOBEX_HOST, "/api/tasks", &[("authorization", &globex)])
        .await;
    assert_eq!(g.status, 200, "{}", g.body);
    // The SSO login still works.
    let value = s.login(ACME_HOST, "alice", "alice-pw").await;
    assert_eq!(
        s.get(
            ACME_HOST,
            "/api/tasks",
            &[("cookie", &session_header(&value))]
        )
        .await
        .status,
        200
    );
    // Keys older than the bound: logins fail closed.
    s.app.pg.psql(
        "postgres",
        &format!(
            "UPDATE tenantgate.sso_providers SET keys_refreshed_at = now() - interval '2 days' WHERE tenant_id = '{ACME}'"
        ),
    );
    let a = s.get(ACME_HOST, "/auth/sso?return_to=/", &[]).await;
    assert_eq!((a.status, code(&a.json())), (503, "sso_keys_stale".into()));
    // A refresh brings them back.
    let control = tenantgate_control::db::connect(&s.app.pg.url("postgres"))
        .await
        .unwrap();
    sso::refresh(&control, "acme").await.unwrap();
    assert_eq!(
        s.get(ACME_HOST, "/auth/sso?return_to=/", &[]).await.status,
        302
    );
    // A tenant without an IdP has no login.
    s.app.pg.psql(
        "postgres",
        &format!("DELETE FROM tenantgate.sso_providers WHERE tenant_id = '{GLOBEX}'"),
    );
    let a = s.get(GLOBEX_HOST, "/auth/sso?return_to=/", &[]).await;
    assert_eq!(
        (a.status, code(&a.json())),
        (404, "sso_not_configured".into())
    );
}

#[tokio::test]
async fn sso_settings_are_validated_audited_and_the_secret_never_shown() {
    let s = start().await;
    let mut control = tenantgate_control::db::connect(&s.app.pg.url("postgres"))
        .await
        .unwrap();
    let shown = sso::show(&control, "acme").await.unwrap();
    assert!(shown.client_secret_set);
    assert!(shown.keys >= 1, "{shown:?}");
    let printed = serde_json::to_string(&shown).unwrap();
    assert!(!printed.contains("acme-secret"), "{printed}");
    for (bad, expect) in [
        (
            SsoChange {
                issuer: Some("http://evil.test".into()),
                ..Default::default()
            },
            "https://",
        ),
        (
            SsoChange {
                default_role: Some("nope".into()),
                ..Default::default()
            },
            "role",
        ),
        (
            SsoChange {
                kind: Some("kerberos".into()),
                ..Default::default()
            },
            "oidc or saml",
        ),
    ] {
        let e = sso::set(&mut control, "acme", &bad).await.unwrap_err();
        assert!(e.to_string().contains(expect), "{e}");
    }
    // Audited, without the secret.
    let detail = s.app.pg.psql(
        "postgres",
        &format!("SELECT string_agg(detail::text, ' ') FROM tenantgate.audit_log WHERE tenant_id = '{ACME}' AND action = 'sso.updated'"),
    );
    assert!(detail.contains("acme-app"), "{detail}");
    assert!(!detail.contains("acme-secret"), "{detail}");
    // The application role cannot read the settings (the secret).
    let app_read = std::process::Command::new(tenantgate_tests::postgres::pg_bin().join("psql"))
        .args([
            &s.app.pg.url_as("tenantgate_app", "postgres"),
            "-tAc",
            "SELECT client_secret FROM tenantgate.sso_providers",
        ])
        .output()
        .unwrap();
    assert!(!app_read.status.success());
    assert!(String::from_utf8_lossy(&app_read.stderr).contains("permission denied"));
}

/// README "What is checked": the login state expires in 10 minutes. An expired one is refused
/// like an unknown one and makes no session; a fresh one beside it (the control) signs in.
#[tokio::test]
async fn an_expired_login_state_is_refused_and_makes_no_session() {
    let s = start().await;
    let sessions = || s.count("SELECT count(*) FROM tenantgate.sessions");
    let before = sessions();
    let (authorize, binding) = s.begin(ACME_HOST, "/api/tasks").await;
    let callback = s.idp.login(&authorize, "alice", "alice-pw").await;
    s.app.pg.psql(
        "postgres",
        "UPDATE tenantgate.sso_flows SET expires_at = now() - interval '1 second'",
    );
    let a = s.finish(ACME_HOST, &callback, &binding).await;
    assert_eq!(
        (a.status, code(&a.json())),
        (400, "sso_state_invalid".into()),
        "{}",
        a.body
    );
    assert!(a.cookie("tg_session").is_none(), "{:?}", a.cookies);
    assert_eq!(sessions(), before);
    // The control: the same person, a flow within its time.
    s.login(ACME_HOST, "alice", "alice-pw").await;
    assert_eq!(sessions(), before + 1);
}

/// README "Connecting a tenant's IdP": `tenantgate sso remove` also ends every session of the
/// tenant, and no other tenant's.
#[tokio::test]
async fn sso_remove_ends_the_tenants_sessions_and_no_one_elses() {
    let s = start().await;
    let acme = session_header(&s.login(ACME_HOST, "alice", "alice-pw").await);
    let globex = session_header(&s.login(GLOBEX_HOST, "gina", "gina-pw").await);
    for (host, cookie) in [(ACME_HOST, &acme), (GLOBEX_HOST, &globex)] {
        let me = s.get(host, "/auth/session", &[("cookie", cookie)]).await;
        assert_eq!(me.status, 200, "{host}: {}", me.body);
    }
    crate::limits::tg(&s.app, &["sso", "remove", "acme"]);
    // In effect within the session cache's bound (README "Sessions": 5 s).
    let removed = std::time::Instant::now();
    loop {
        let me = s
            .get(ACME_HOST, "/auth/session", &[("cookie", &acme)])
            .await;
        if me.status == 401 {
            assert_eq!(code(&me.json()), "session_invalid", "{}", me.body);
            break;
        }
        assert_eq!(me.status, 200, "{}", me.body);
        assert!(
            removed.elapsed() < std::time::Duration::from_millis(5_500),
            "acme's session still live 5 s after sso remove"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM tenantgate.sessions WHERE tenant_id = '{ACME}' AND revoked_at IS NULL"
        )),
        0
    );
    let me = s
        .get(GLOBEX_HOST, "/auth/session", &[("cookie", &globex)])
        .await;
    assert_eq!(me.status, 200, "globex's session survives: {}", me.body);
}
