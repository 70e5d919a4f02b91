//! `tenantgate jobs`, the scheduled control-plane work, through the real binary: a round purges
//! the deleted tenants past their grace period (and nothing else), verifies the pending domain
//! claims whose DNS record is in place (and nothing else), and `--every` keeps doing it until
//! stopped.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tenantgate_tests::dns::{DnsServer, Record};
use tenantgate_tests::fixtures::host_binary;

use crate::cli::Out;
use crate::domains::{tg, world};

fn count(w: &crate::cli::World, sql: &str) -> i64 {
    w.control_sql(sql).parse().unwrap()
}

fn tenants(w: &crate::cli::World) -> String {
    w.control_sql(
        "SELECT string_agg(slug || ':' || status, ' ' ORDER BY slug) FROM tenantgate.tenants",
    )
}

fn domain_state(w: &crate::cli::World, domain: &str) -> String {
    w.control_sql(&format!(
        "SELECT CASE WHEN verified_at IS NOT NULL THEN 'verified' ELSE 'pending' END \
           FROM tenantgate.tenant_domains WHERE domain = '{domain}'"
    ))
}

fn token_of(out: &Out) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("no token in:\n{}", out.stdout))
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_purge_what_is_due_and_verify_what_is_proven_on_a_schedule() {
    let w = world();
    for slug in ["initech", "hooli"] {
        tg(&w, &["tenant", "create", slug, "--name", slug]).ok();
    }
    // acme: deleted, grace period over; initech: deleted, still within it; hooli: deleted
    // later, while the scheduler runs; globex: active.
    for slug in ["acme", "initech"] {
        tg(&w, &["tenant", "delete", slug]).ok();
    }
    w.control_sql(
        "UPDATE tenantgate.tenants SET purge_after = now() - interval '1 second' WHERE slug = 'acme'",
    );
    // Two pending claims of globex: one whose TXT record is published, one whose is not.
    let proven = token_of(&tg(&w, &["domain", "add", "globex", "portal.globex.test"]).ok());
    tg(&w, &["domain", "add", "globex", "shop.globex.test"]).ok();
    let dns = DnsServer::start(
        &["test"],
        &[Record::Txt("_tenantgate.portal.globex.test".into(), proven)],
    );
    let dns_server = dns.addr().to_string();

    // Refused: neither --once nor --every; both.
    let neither = tg(&w, &["jobs"]);
    assert_ne!(neither.code, 0);
    assert!(neither.stderr.contains("--once"), "{}", neither.stderr);
    assert_ne!(tg(&w, &["jobs", "--once", "--every", "5"]).code, 0);
    assert_eq!(
        tenants(&w),
        "acme:deleted globex:active hooli:active initech:deleted"
    );

    // One round: acme purged (audited), initech kept; portal verified, shop still pending.
    let once = tg(
        &w,
        &[
            "jobs",
            "--once",
            "--no-sso-refresh",
            "--dns-server",
            &dns_server,
        ],
    )
    .ok();
    assert!(
        once.stdout.contains("purged tenant acme"),
        "{}",
        once.stdout
    );
    assert!(
        once.stdout
            .contains("verified portal.globex.test for tenant globex by dns"),
        "{}",
        once.stdout
    );
    assert_eq!(tenants(&w), "globex:active hooli:active initech:deleted");
    assert_eq!(
        count(
            &w,
            "SELECT count(*) FROM tenantgate.audit_log WHERE action = 'tenant.purged'"
        ),
        1
    );
    assert_eq!(domain_state(&w, "portal.globex.test"), "verified");
    assert_eq!(domain_state(&w, "shop.globex.test"), "pending");

    // On a schedule: a tenant whose grace period ends while it runs is purged by a later round.
    let mut sidecar = Command::new(host_binary())
        .args(["jobs", "--every", "1", "--no-sso-refresh", "--no-domains"])
        .args(["--migrations", &w.migrations.display().to_string()])
        .env("DATABASE_URL", w.control.url("postgres"))
        .env("TENANTGATE_TARGETS", format!("eu={}", w.eu.url("postgres")))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tg(&w, &["tenant", "delete", "hooli"]).ok();
    // A round has run since hooli was deleted when a marker tenant made due after it is gone:
    // that round saw hooli within its grace period and kept it.
    tg(&w, &["tenant", "create", "marker", "--name", "marker"]).ok();
    tg(&w, &["tenant", "delete", "marker"]).ok();
    w.control_sql(
        "UPDATE tenantgate.tenants SET purge_after = now() - interval '1 second' WHERE slug = 'marker'",
    );
    let t0 = Instant::now();
    while tenants(&w).contains("marker") && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tenants(&w), "globex:active hooli:deleted initech:deleted");
    w.control_sql(
        "UPDATE tenantgate.tenants SET purge_after = now() - interval '1 second' WHERE slug = 'hooli'",
    );
    let t0 = Instant::now();
    while tenants(&w).contains("hooli") && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(tenants(&w), "globex:active initech:deleted");
    // It stops on SIGTERM, cleanly.
    let pid = sidecar.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = sidecar.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "jobs did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
}
