//! The organisation layer's gateway parts, against the real OIDC provider: accepting an
//! invitation by signing in (someone invited is not a member yet, so has no session), and
//! switching organisations without a new login. Each refusal beside the accepted request.

use sha2::{Digest, Sha256};

use crate::app::{code, ACME, GLOBEX};
use crate::sso::{session_header, start, Sso, ACME_HOST, GLOBEX_HOST};
use crate::web::Answer;

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A pending invitation of `tenant` for `email`, valid for `valid` (a Postgres interval).
fn invite(s: &Sso, tenant: &str, email: &str, token: &str, valid: &str) {
    s.app.pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate.invitations (tenant_id, email, role_name, token_hash, created_at, expires_at)
             VALUES ('{tenant}', '{email}', 'member', '\\x{}', now() - interval '1 hour', now() + interval '{valid}')",
            sha256_hex(token)
        ),
    );
}

/// A login on `host` through an invitation link, as `user`: the callback's answer.
async fn login_invited(s: &Sso, host: &str, token: &str, user: &str, password: &str) -> Answer {
    let start = s
        .get(
            host,
            &format!("/auth/sso?return_to=/api/tasks&invitation={token}"),
            &[],
        )
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    let binding = start.cookie("tg_sso_flow").unwrap();
    let callback = s.idp.login(&start.location, user, password).await;
    s.finish(host, &callback, &binding).await
}

fn member_count(s: &Sso, tenant: &str, email: &str) -> i64 {
    s.count(&format!(
        "SELECT count(*) FROM tenantgate.memberships m JOIN tenantgate.users u ON u.id = m.user_id \
          WHERE m.tenant_id = '{tenant}' AND u.email = '{email}'"
    ))
}

#[tokio::test]
async fn an_invitation_is_accepted_by_signing_in_and_only_by_its_addressee() {
    let s = start().await;
    // Only invitations admit: no just-in-time membership on acme.
    s.app.pg.psql(
        "postgres",
        &format!("UPDATE tenantgate.sso_providers SET jit = false WHERE tenant_id = '{ACME}'"),
    );
    let token = "invitation-token-for-bob-0123456789abcdef";
    invite(&s, ACME, "bob@elsewhere.test", token, "7 days");
    invite(
        &s,
        GLOBEX,
        "bob@elsewhere.test",
        "globex-invitation-token-0123456789",
        "7 days",
    );
    invite(
        &s,
        ACME,
        "gina@globex.test",
        "gina-invitation-token-0123456789ab",
        "7 days",
    );
    invite(
        &s,
        ACME,
        "bob@elsewhere.test",
        "expired-invitation-token-0123456789",
        "-1 minute",
    );

    // The invitation link's login page says so, and carries the token into the flow.
    let page = s
        .get(
            ACME_HOST,
            &format!("/auth/login?return_to=/admin&invitation={token}"),
            &[],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("invited"), "{}", page.body);
    assert!(
        page.body.contains(&format!("invitation={token}")),
        "{}",
        page.body
    );

    // Refused, nothing created: no invitation; another tenant's; another person's;
    // expired; malformed.
    let (authorize, binding) = s.begin(ACME_HOST, "/").await;
    let callback = s.idp.login(&authorize, "bob", "bob-pw").await;
    let a = s.finish(ACME_HOST, &callback, &binding).await;
    assert_eq!((a.status, code(&a.json())), (403, "not_a_member".into()));
    for bad in [
        "globex-invitation-token-0123456789",
        "gina-invitation-token-0123456789ab",
        "expired-invitation-token-0123456789",
        "no-such-invitation-token-0123456789",
    ] {
        let a = login_invited(&s, ACME_HOST, bad, "bob", "bob-pw").await;
        assert_eq!(
            (a.status, code(&a.json())),
            (404, "invitation_not_found".into()),
            "{bad}: {}",
            a.body
        );
    }
    let malformed = s
        .get(
            ACME_HOST,
            "/auth/sso?return_to=/&invitation=not%20a%20token",
            &[],
        )
        .await;
    assert_eq!(
        (malformed.status, code(&malformed.json())),
        (404, "invitation_not_found".into())
    );
    assert_eq!(member_count(&s, ACME, "bob@elsewhere.test"), 0);

    // The addressee signs in through the link: a member with the invitation's role.
    let a = login_invited(&s, ACME_HOST, token, "bob", "bob-pw").await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (302, "/api/tasks"),
        "{}",
        a.body
    );
    let cookie = session_header(&a.cookie("tg_session").expect("a session"));
    assert_eq!(member_count(&s, ACME, "bob@elsewhere.test"), 1);
    let me = s
        .get(ACME_HOST, "/auth/session", &[("cookie", &cookie)])
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["roles"], serde_json::json!(["member"]));
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM tenantgate.invitations WHERE tenant_id = '{ACME}' \
              AND token_hash = '\\x{}' AND accepted_at IS NOT NULL",
            sha256_hex(token)
        )),
        1
    );
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{ACME}' \
              AND action = 'invitation.accepted' AND after_state->>'email' = 'bob@elsewhere.test' \
              AND before_state->>'accepted_at' IS NULL AND after_state->>'via' = 'login'"
        )),
        1
    );
    // Used once: gina cannot ride on it, nor on her own after the fact on globex's host.
    let again = login_invited(&s, ACME_HOST, token, "gina", "gina-pw").await;
    assert_eq!(
        (again.status, code(&again.json())),
        (404, "invitation_not_found".into())
    );
    assert_eq!(member_count(&s, ACME, "gina@globex.test"), 0);
}

/// alice signed in on acme (a member by just-in-time membership) and also a member of
/// globex; her acme session cookie.
async fn alice_in_both(s: &Sso) -> String {
    let cookie = session_header(&s.login(ACME_HOST, "alice", "alice-pw").await);
    s.app.pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name)
             SELECT '{GLOBEX}', id, 'member' FROM tenantgate.users WHERE email = 'alice@acme.test'"
        ),
    );
    cookie
}

const ACME_ORIGIN: &str = "http://acme.localhost:3000";

async fn switch(s: &Sso, cookie: &str, body: &str) -> Answer {
    s.send(
        "POST",
        ACME_HOST,
        "/auth/switch",
        &[("cookie", cookie), ("origin", ACME_ORIGIN)],
        Some(body),
    )
    .await
}

fn path_of(url: &str) -> String {
    Sso::callback_path(url)
}

#[tokio::test]
async fn switching_moves_a_member_to_another_organisation_without_a_new_login() {
    let s = start().await;
    let cookie = alice_in_both(&s).await;

    // The switch: a ticket on globex's own host, traded there for a globex session.
    let go = switch(&s, &cookie, r#"{"to":"globex"}"#).await;
    assert_eq!(go.status, 302, "{}", go.body);
    assert!(
        go.location
            .starts_with("http://globex.localhost:3000/auth/switch/complete?ticket="),
        "{}",
        go.location
    );
    let done = s.get(GLOBEX_HOST, &path_of(&go.location), &[]).await;
    assert_eq!(
        (done.status, done.location.as_str()),
        (302, "/admin"),
        "{}",
        done.body
    );
    let globex = session_header(&done.cookie("tg_session").expect("a globex session"));
    let me = s
        .get(GLOBEX_HOST, "/auth/session", &[("cookie", &globex)])
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["tenant"]["slug"], "globex");
    let acme_me = s
        .get(ACME_HOST, "/auth/session", &[("cookie", &cookie)])
        .await;
    assert_eq!(me.json()["user_id"], acme_me.json()["user_id"]);
    // globex's data through the new session, and the switch in globex's log.
    let tasks = s
        .get(GLOBEX_HOST, "/api/tasks", &[("cookie", &globex)])
        .await;
    assert_eq!(tasks.status, 200, "{}", tasks.body);
    assert!(tasks.body.contains("globex") && !tasks.body.contains("acme:"));
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM tenantgate.audit_log WHERE tenant_id = '{GLOBEX}' AND action = 'session.switched'"
        )),
        1
    );

    // A ticket works once, on its own tenant's host only (a wrong host burns it), and not
    // after it expires. A form body works like JSON, and lands where it asks.
    let replay = s.get(GLOBEX_HOST, &path_of(&go.location), &[]).await;
    assert_eq!(
        (replay.status, code(&replay.json())),
        (400, "switch_invalid".into())
    );
    let globex_sessions = || {
        s.app
            .pg
            .psql(
                "postgres",
                &format!("SELECT count(*) FROM tenantgate.sessions WHERE tenant_id = '{GLOBEX}'"),
            )
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let sessions_before = globex_sessions();
    let go = switch(&s, &cookie, "to=globex&return_to=%2Fapi%2Ftasks").await;
    assert_eq!(go.status, 302, "{}", go.body);
    let wrong_host = s.get(ACME_HOST, &path_of(&go.location), &[]).await;
    assert_eq!(
        (wrong_host.status, code(&wrong_host.json())),
        (400, "switch_invalid".into())
    );
    // Refused on the wrong host, the ticket is burnt: the right host refuses it too, and no
    // session is set by either.
    let burnt = s.get(GLOBEX_HOST, &path_of(&go.location), &[]).await;
    assert_eq!(
        (burnt.status, code(&burnt.json())),
        (400, "switch_invalid".into())
    );
    for refused in [&wrong_host, &burnt] {
        assert!(
            !refused
                .cookies
                .iter()
                .any(|c| c.starts_with("tg_session=") && !c.starts_with("tg_session=;")),
            "{:?}",
            refused.cookies
        );
    }
    let go = switch(&s, &cookie, "to=globex&return_to=%2Fapi%2Ftasks").await;
    s.app.pg.psql(
        "postgres",
        "UPDATE tenantgate.switch_tickets SET expires_at = now() - interval '1 second'",
    );
    let expired = s.get(GLOBEX_HOST, &path_of(&go.location), &[]).await;
    assert_eq!(
        (expired.status, code(&expired.json())),
        (400, "switch_invalid".into()),
        "{}",
        expired.body
    );
    assert!(expired.cookies.is_empty(), "{:?}", expired.cookies);
    let go = switch(&s, &cookie, "to=globex&return_to=%2Fapi%2Ftasks").await;
    let landed = s.get(GLOBEX_HOST, &path_of(&go.location), &[]).await;
    assert_eq!(
        (landed.status, landed.location.as_str()),
        (302, "/api/tasks")
    );
    let forged = s
        .get(
            GLOBEX_HOST,
            "/auth/switch/complete?ticket=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &[],
        )
        .await;
    assert_eq!(
        (forged.status, code(&forged.json())),
        (400, "switch_invalid".into())
    );
    assert!(forged.cookies.is_empty(), "{:?}", forged.cookies);
    // None of the refused tickets made a session in globex: only the one that landed.
    assert_eq!(globex_sessions(), sessions_before + 1);

    // Refused: another origin (CSRF), no session, a tenant she does not belong to, one that
    // does not exist (the same answer), an open redirect, garbage.
    let csrf = s
        .send(
            "POST",
            ACME_HOST,
            "/auth/switch",
            &[("cookie", &cookie), ("origin", "http://evil.test")],
            Some(r#"{"to":"globex"}"#),
        )
        .await;
    assert_eq!(
        (csrf.status, code(&csrf.json())),
        (403, "csrf_failed".into())
    );
    let anonymous = s
        .send(
            "POST",
            ACME_HOST,
            "/auth/switch",
            &[("origin", ACME_ORIGIN)],
            Some(r#"{"to":"globex"}"#),
        )
        .await;
    assert_eq!(
        (anonymous.status, code(&anonymous.json())),
        (401, "session_invalid".into()),
        "{}",
        anonymous.body
    );
    s.app.pg.psql(
        "postgres",
        "INSERT INTO tenantgate.tenants (id, slug, name, plan) VALUES
           ('c0000000-0000-4000-8000-0000000000c1', 'initech', 'Initech', 'free')",
    );
    for target in ["initech", "nosuchorg"] {
        let a = switch(&s, &cookie, &format!(r#"{{"to":"{target}"}}"#)).await;
        assert_eq!(
            (a.status, code(&a.json())),
            (403, "not_a_member".into()),
            "{target}"
        );
    }
    let tickets = || {
        s.app
            .pg
            .psql("postgres", "SELECT count(*) FROM tenantgate.switch_tickets")
            .trim()
            .to_owned()
    };
    let issued = tickets();
    for body in [
        r#"{"to":"globex","return_to":"https://evil.test/"}"#,
        r#"{"to":"globex","return_to":"//evil.test/"}"#,
        r#"{"to":"Globex!"}"#,
        "",
    ] {
        let a = switch(&s, &cookie, body).await;
        assert_eq!(
            (a.status, code(&a.json())),
            (400, "bad_request".into()),
            "{body}: {}",
            a.body
        );
        assert!(
            a.location.is_empty(),
            "{body}: redirected to {}",
            a.location
        );
    }
    // Refused before a ticket was issued.
    assert_eq!(tickets(), issued);

    // A target that enforces SSO gets its own login instead; a ticket issued before it
    // turned enforcement on is refused at the target.
    let early = switch(&s, &cookie, r#"{"to":"globex"}"#).await;
    s.app.pg.psql(
        "postgres",
        &format!(
            "UPDATE tenantgate.sso_providers SET enforced = true WHERE tenant_id = '{GLOBEX}'"
        ),
    );
    let enforced = switch(&s, &cookie, r#"{"to":"globex"}"#).await;
    assert_eq!(
        (enforced.status, enforced.location.as_str()),
        (
            302,
            "http://globex.localhost:3000/auth/login?return_to=%2Fadmin"
        )
    );
    let late = s.get(GLOBEX_HOST, &path_of(&early.location), &[]).await;
    assert_eq!(
        (late.status, late.location.as_str()),
        (302, "/auth/login?return_to=%2Fadmin")
    );
    assert!(late.cookie("tg_session").is_none());
}

/// README "Switching organisations": switching to an organisation that is suspended is the
/// same answer as one the user does not belong to, and issues no ticket; reactivated, the same
/// switch works (the control).
#[tokio::test]
async fn switching_to_a_suspended_organisation_is_refused_like_a_stranger() {
    let s = start().await;
    let cookie = alice_in_both(&s).await;
    let tickets = || s.count("SELECT count(*) FROM tenantgate.switch_tickets");
    crate::limits::tg(&s.app, &["tenant", "suspend", "globex"]);
    let before = tickets();
    let a = switch(&s, &cookie, "to=globex").await;
    assert_eq!(
        (a.status, code(&a.json())),
        (403, "not_a_member".into()),
        "{}",
        a.body
    );
    assert!(a.location.is_empty(), "{}", a.location);
    assert_eq!(tickets(), before);
    crate::limits::tg(&s.app, &["tenant", "reactivate", "globex"]);
    let a = switch(&s, &cookie, "to=globex").await;
    assert_eq!(a.status, 302, "{}", a.body);
    assert!(
        a.location
            .starts_with("http://globex.localhost:3000/auth/switch/complete?ticket="),
        "{}",
        a.location
    );
}
