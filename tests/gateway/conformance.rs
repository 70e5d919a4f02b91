//! `scripts/spin-conformance.sh`, the checks a Spin user runs against a real `spin`
//! binary, run here against the project's own host with `--spin-compat 4.0`: the same
//! script, the same demo data, variables and identity providers as `scripts/run.sh`, on a
//! throwaway Postgres (the script starts the IdPs, Redis and the app twice itself).

use std::process::Command;

use tenantgate_tests::fixtures::{component, host_binary, target_dir};
use tenantgate_tests::postgres::PgCluster;
use tenantgate_tests::workspace_root;

/// Every check the script reports, by name: each must print `ok <name>`, so a check the
/// script skipped, renamed or lost fails this test as surely as a `FAIL` line does.
const CHECKS: &[&str] = &[
    // The README's curls, hosts, forged headers, the error shape.
    "acme's list",
    "globex's list",
    "another tenant's task id: 404 within 2 s",
    "unknown tenant: 404 within 2 s",
    "a task id that does not exist: 404 within 2 s",
    "a write without the permission: 403",
    "the apex without a token: 401",
    "upper-case host",
    "trailing-dot host",
    "forged internal headers are ignored",
    "a forged spin-full-url does not change the tenant",
    "an oversized body: 413",
    // Logins through the IdPs' own forms, and the session cookie.
    "oidc login: alice signs in on acme through the IdP's form",
    "oidc session: /api/org/me with the cookie is alice, acme's owner",
    "without the cookie /api/org/me is 401",
    "acme's session cookie on globex's host: 401 session_invalid",
    "saml login: bob signs in on globex through the IdP's form and the ACS form",
    "saml session: /api/org/me with the cookie is bob, globex's owner",
    // The pages.
    "/admin: the page and its assets load for an owner",
    "/admin: every JSON API the pages call (and each page path) answers 200 for an owner",
    "/platform: the console and its assets load",
    // Switching organisations.
    "switch: alice moves from acme to globex (POST /auth/switch, /auth/switch/complete)",
    "switch: the globex session is alice's, a member of globex",
    // The organisation API.
    "oidc login: carol, a member, signs in on acme",
    "members: the owner removes carol (DELETE /api/org/members/{id}: 204)",
    "members: the removed member's session is refused within 6 s (401 session_invalid)",
    "members: the owner's own session still works after the removal",
    "invite: the owner invites carol@acme.example as a member (201, a token)",
    "accept: carol signs in with the invitation link, is a member again, the invitation is accepted",
    "roles: the owner makes carol an admin (PATCH: 200)",
    "roles: carol's session has the admin role within 6 s",
    "roles: and back to member (PATCH: 200)",
    "audit: acme's log shows member.removed, invitation.created, invitation.accepted, member.role_changed",
    // The platform API and break-glass.
    "platform: the tenant list on the apex has acme",
    "platform: without a grant the token is refused on acme's host (403 break_glass_required)",
    "platform: a read-only break-glass grant on acme (201)",
    "platform: with the grant the token reads acme's members on acme's host",
    "platform: a read-only grant does not write (403 forbidden)",
    "platform: after the revocation the token is refused again",
    "platform: acme's audit log shows the grant, the access and the revocation",
    // Usage, logout, lifecycle.
    "usage: 3 refused writes flushed and shown by tenantgate usage globex",
    "logout: POST /auth/logout, then the session cookie is refused (401 session_invalid)",
    "suspension takes effect within 6 s",
    "another tenant is not suspended with it",
    "reactivation serves the tenant again within 6 s",
    // The rate-limit stage with both stores.
    "rate limit (kv): a burst gives 429 rate_limited with Retry-After, RateLimit, RateLimit-Policy",
    "rate limit (kv): another tenant keeps answering",
    "rate limit (redis): a burst gives 429 rate_limited with Retry-After, RateLimit, RateLimit-Policy",
    "rate limit (redis): another tenant keeps answering",
    "rate limit (redis): the buckets are Redis keys (tg:rl:<acme's id>:*)",
    "rate limit (redis): Redis down: 503 dependency_unavailable",
];

fn run_script() -> (bool, String, String) {
    let pg = PgCluster::start();
    component("gateway");
    let tenantgate = host_binary();
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/spin-conformance.sh"))
        .current_dir(workspace_root())
        .env("SPIN", &tenantgate)
        .env("TENANTGATE", &tenantgate)
        .env("DATABASE_URL", pg.url("postgres"))
        // The compiled components the other tests already cached (a debug host compiles slowly).
        .env(
            "TENANTGATE_CACHE_DIR",
            target_dir().join("tenantgate-test-cache"),
        )
        .env_remove("SPIN_VARIABLE_ANONYMOUS_PERMISSIONS")
        .env_remove("SPIN_VARIABLE_JWT_ISSUERS")
        .env_remove("SPIN_CONFORMANCE_PORT")
        .output()
        .expect("running scripts/spin-conformance.sh");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_conformance_script_passes_on_the_projects_own_host() {
    let (success, stdout, stderr) = run_script();
    assert!(
        success,
        "the conformance script failed:\n{stdout}\n{stderr}"
    );
    // It ran its checks (it did not skip), on our host, and every one passed.
    assert!(stderr.contains("runtime: tenantgate"), "{stderr}");
    assert!(stderr.contains("all checks passed"), "{stderr}");
    let ok: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .collect();
    let missing: Vec<&&str> = CHECKS.iter().filter(|c| !ok.contains(c)).collect();
    assert!(
        missing.is_empty(),
        "checks that did not report ok: {missing:#?}\n{stdout}\n{stderr}"
    );
    assert!(!stdout.lines().any(|l| l.starts_with("FAIL")), "{stdout}");
    // The summary counts what was printed, and nothing ran twice or unnamed.
    let summary = format!("{n} checks: {n} ok, 0 failed", n = ok.len());
    assert!(stdout.contains(&summary), "no {summary:?} in:\n{stdout}");
    assert_eq!(ok.len(), CHECKS.len(), "unexpected checks:\n{stdout}");
}

#[test]
fn the_conformance_script_skips_clearly_without_spin() {
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/spin-conformance.sh"))
        .current_dir(workspace_root())
        .env("PATH", "/usr/bin:/bin")
        .env_remove("SPIN")
        .output()
        .expect("running scripts/spin-conformance.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("SKIPPED"), "{stderr}");
    assert!(!stderr.contains("checking"), "{stderr}");
}
