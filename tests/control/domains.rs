//! Custom domains through the real `tenantgate domain` commands, a real DNS server (dnsmasq on
//! loopback) and the real gateway: an unverified domain never routes; a wrong TXT record, another
//! tenant's token, a wrong HTTP answer or a private address verify nothing; a verified domain serves
//! its tenant's data under any spelling; a domain live for one tenant cannot be taken by another;
//! revocation stops routing within the cache bound; malformed input is refused and changes nothing.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tenantgate_tests::dataplane;
use tenantgate_tests::dns::{DnsServer, Record};
use tenantgate_tests::host::{client, TestHost};

use crate::cli::{Out, World};
use crate::moves::{start_gateway, KEY};

/// The gateway's cache bound is 5 s; allow scheduling slack on a loaded machine.
const WITHIN: Duration = Duration::from_secs(10);

/// `GET /api/tasks` with `authority` as `Host`: the status and the task titles (or the error body,
/// without its request id).
pub(crate) async fn tasks(host: &TestHost, authority: &str) -> (u16, Value) {
    let resp = client()
        .get(host.url("/api/tasks"))
        .header("host", authority)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let mut body: Value = resp.json().await.unwrap_or(Value::Null);
    if let Some(e) = body.get_mut("error").and_then(Value::as_object_mut) {
        e.remove("request_id");
    }
    if status == 200 {
        let titles = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].clone())
            .collect();
        (status, Value::Array(titles))
    } else {
        (status, body)
    }
}

/// Polls until `authority` answers `status`; how long it took, or `None`.
pub(crate) async fn becomes(host: &TestHost, authority: &str, status: u16) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < WITHIN {
        if tasks(host, authority).await.0 == status {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The token `domain add` printed.
fn token_of(out: &Out) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("no token in:\n{}", out.stdout))
        .trim()
        .to_string()
}

/// Runs a CLI command off the async runtime (the gateway runs in-process on it).
pub(crate) fn tg(w: &World, args: &[&str]) -> Out {
    tokio::task::block_in_place(|| w.tg(args))
}

/// `domain verify` against `dns`, with short time-outs.
fn verify(w: &World, dns: &DnsServer, slug: &str, domain: &str, extra: &[&str]) -> Out {
    let server = dns.addr().to_string();
    let mut args = vec![
        "domain",
        "verify",
        slug,
        domain,
        "--dns-server",
        &server,
        "--timeout-secs",
        "3",
    ];
    args.extend_from_slice(extra);
    tg(w, &args)
}

pub(crate) fn failed(out: &Out, needle: &str) {
    assert_ne!(out.code, 0, "expected a failure:\n{}", out.stdout);
    assert!(
        out.stderr.contains("error:") && out.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        out.stderr
    );
}

/// Two tenants with one task each, migrated and provisioned through the CLI.
pub(crate) fn world() -> World {
    let w = World::start();
    w.tg(&["migrate"]).ok();
    dataplane::add_context_key(&w.control, "k1", KEY);
    for slug in ["acme", "globex"] {
        w.tg(&["tenant", "create", slug, "--name", slug]).ok();
        w.control_sql(&format!(
            "WITH t AS (SELECT id FROM tenantgate.tenants WHERE slug = '{slug}'), \
                  p AS (INSERT INTO app.projects (tenant_id, name) SELECT id, 'p' FROM t RETURNING tenant_id, id) \
             INSERT INTO app.tasks (tenant_id, project_id, title) SELECT tenant_id, id, '{slug} task' FROM p"
        ));
    }
    w
}

fn state(w: &World, slug: &str, domain: &str) -> String {
    w.control_sql(&format!(
        "SELECT CASE WHEN d.revoked_at IS NOT NULL THEN 'revoked' WHEN d.verified_at IS NOT NULL THEN 'verified' \
                ELSE 'pending' END \
           FROM tenantgate.tenant_domains d JOIN tenantgate.tenants t ON t.id = d.tenant_id \
          WHERE t.slug = '{slug}' AND d.domain = '{domain}'"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_routes_only_once_its_dns_record_is_verified_and_stops_when_revoked() {
    let w = world();
    let gw = start_gateway(&w).await;
    let unknown = tasks(&gw, "nobody.localhost").await;
    assert_eq!(unknown.0, 404);
    assert_eq!(
        tasks(&gw, "acme.localhost").await,
        (200, serde_json::json!(["acme task"]))
    );

    // Claimed: a token and what to do with it. Claiming again gives the same token.
    let added = tg(&w, &["domain", "add", "acme", "portal.acme.test"]).ok();
    let acme_token = token_of(&added);
    assert!(acme_token.starts_with("tg-verify-"), "{acme_token}");
    assert!(
        added.stdout.contains("_tenantgate.portal.acme.test")
            && added
                .stdout
                .contains("/.well-known/tenantgate-verification"),
        "{}",
        added.stdout
    );
    let again = tg(&w, &["domain", "add", "acme", "Portal.ACME.test."]).ok();
    assert_eq!(token_of(&again), acme_token);
    assert!(again.stdout.contains("already claimed"), "{}", again.stdout);

    // Pending: not routed, the same 404 as an unknown tenant.
    assert_eq!(tasks(&gw, "portal.acme.test").await, unknown);

    // Another tenant may hold a pending claim too; its token is its own.
    let globex_token = token_of(&tg(&w, &["domain", "add", "globex", "portal.acme.test"]).ok());
    assert_ne!(globex_token, acme_token);

    // No record, then a record holding someone else's token: nothing is verified.
    let empty = DnsServer::start(&["test"], &[]);
    let out = verify(&w, &empty, "acme", "portal.acme.test", &["--method", "dns"]);
    failed(&out, "no TXT record at _tenantgate.portal.acme.test");
    let wrong = DnsServer::start(
        &["test"],
        &[Record::Txt(
            "_tenantgate.portal.acme.test".into(),
            globex_token.clone(),
        )],
    );
    let out = verify(&w, &wrong, "acme", "portal.acme.test", &[]);
    failed(&out, &format!("holds [\"{globex_token}\"]"));
    assert!(out.stderr.contains(&acme_token), "{}", out.stderr);
    assert_eq!(state(&w, "acme", "portal.acme.test"), "pending");
    assert_eq!(state(&w, "globex", "portal.acme.test"), "pending");

    // acme's record verifies acme, never globex.
    let right = DnsServer::start(
        &["test"],
        &[Record::Txt(
            "_tenantgate.portal.acme.test".into(),
            acme_token.clone(),
        )],
    );
    let out = verify(
        &w,
        &right,
        "globex",
        "portal.acme.test",
        &["--method", "dns"],
    );
    failed(&out, "not this claim's token");
    let out = verify(&w, &right, "acme", "portal.acme.test", &[]).ok();
    assert!(out.stdout.contains("by dns"), "{}", out.stdout);
    assert_eq!(state(&w, "acme", "portal.acme.test"), "verified");
    assert_eq!(state(&w, "globex", "portal.acme.test"), "pending");
    assert_eq!(
        w.control_sql(
            "SELECT count(*) FROM tenantgate.audit_log a JOIN tenantgate.tenants t ON t.id = a.tenant_id \
              WHERE t.slug = 'acme' AND a.action = 'domain.verified' AND a.actor_kind = 'platform_admin' \
                AND a.detail = '{\"domain\": \"portal.acme.test\", \"method\": \"dns\"}'"
        ),
        "1"
    );

    // Routed to acme, whatever the spelling; globex's data stays invisible there.
    assert!(
        becomes(&gw, "portal.acme.test", 200).await.is_some(),
        "verification not seen"
    );
    for spelling in [
        "portal.acme.test",
        "PORTAL.Acme.Test.",
        "portal.acme.test:443",
    ] {
        assert_eq!(
            tasks(&gw, spelling).await,
            (200, serde_json::json!(["acme task"])),
            "{spelling}"
        );
    }
    // Its other hosts are untouched.
    assert_eq!(
        tasks(&gw, "globex.localhost").await,
        (200, serde_json::json!(["globex task"]))
    );

    // Live for acme: globex can neither verify its own claim nor claim it again.
    let globex_dns = DnsServer::start(
        &["test"],
        &[Record::Txt(
            "_tenantgate.portal.acme.test".into(),
            globex_token.clone(),
        )],
    );
    failed(
        &verify(&w, &globex_dns, "globex", "portal.acme.test", &[]),
        "verified for tenant \"acme\"",
    );
    failed(
        &tg(&w, &["domain", "add", "globex", "portal.acme.test"]),
        "verified for tenant \"acme\"",
    );
    assert_eq!(state(&w, "globex", "portal.acme.test"), "pending");

    // Revoked: it stops routing within the cache bound.
    let out = tg(&w, &["domain", "revoke", "acme", "portal.acme.test"]).ok();
    assert!(
        out.stdout.contains("revoked portal.acme.test"),
        "{}",
        out.stdout
    );
    let took = becomes(&gw, "portal.acme.test", 404).await;
    assert!(took.is_some(), "revocation not seen within {WITHIN:?}");
    assert_eq!(tasks(&gw, "portal.acme.test").await, unknown);
    assert_eq!(
        w.control_sql(
            "SELECT detail->>'was_verified' FROM tenantgate.audit_log WHERE action = 'domain.revoked'"
        ),
        "true"
    );

    // Now globex proves control and the domain serves globex's data, never acme's.
    let out = verify(&w, &globex_dns, "globex", "portal.acme.test", &[]).ok();
    assert!(out.stdout.contains("by dns"), "{}", out.stdout);
    assert!(becomes(&gw, "portal.acme.test", 200).await.is_some());
    assert_eq!(
        tasks(&gw, "portal.acme.test").await,
        (200, serde_json::json!(["globex task"]))
    );

    // acme may claim it again (a new token), but it stays globex's until revoked there.
    let again = tg(&w, &["domain", "add", "acme", "portal.acme.test"]);
    failed(&again, "verified for tenant \"globex\"");
    let list = tg(&w, &["domain", "list"]).ok();
    let rows: Vec<&str> = list.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", list.stdout);
    assert!(
        rows.iter()
            .any(|r| r.contains("acme") && r.contains("revoked")),
        "{}",
        list.stdout
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("globex") && r.contains("verified")),
        "{}",
        list.stdout
    );
    tg(&w, &["domain", "revoke", "globex", "portal.acme.test"]).ok();
    let re = tg(&w, &["domain", "add", "acme", "portal.acme.test"]).ok();
    let new_token = token_of(&re);
    assert_ne!(new_token, acme_token, "a claim made again gets a new token");
    assert_eq!(state(&w, "acme", "portal.acme.test"), "pending");
    assert!(becomes(&gw, "portal.acme.test", 404).await.is_some());
}

/// A stand-in for the tenant's own web server: answers every request with `body`, and records
/// the `Host` of each request. Stops when dropped.
struct TokenServer {
    port: u16,
    hosts: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenServer {
    fn start(status: u16, body: &str) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let hosts = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s, body) = (hosts.clone(), stop.clone(), body.to_string());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req);
                if let Some(host) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("host: ").or(l.strip_prefix("Host: ")))
                {
                    h.lock().unwrap().push(host.trim().to_string());
                }
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TokenServer {
            port,
            hosts,
            stop,
            thread: Some(thread),
        }
    }

    fn hosts(&self) -> Vec<String> {
        self.hosts.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_token_verifies_a_domain_and_malformed_input_changes_nothing() {
    let w = world();
    let gw = start_gateway(&w).await;
    let token = token_of(&tg(&w, &["domain", "add", "globex", "www.globex.test"]).ok());
    let dns = DnsServer::start(
        &["test"],
        &[Record::A("www.globex.test".into(), "127.0.0.1".into())],
    );

    // The server answers, but not with the token; or answers 404 with it.
    let wrong = TokenServer::start(200, "tg-verify-00000000000000000000000000000000");
    let port = wrong.port.to_string();
    let http = [
        "--method",
        "http",
        "--allow-private-addresses",
        "--http-port",
    ];
    let mut args = http.to_vec();
    args.push(&port);
    failed(
        &verify(&w, &dns, "globex", "www.globex.test", &args),
        "answered 200 without this claim's token",
    );
    assert_eq!(wrong.hosts(), vec![format!("www.globex.test:{port}")]);
    let not_found = TokenServer::start(404, &token);
    let port = not_found.port.to_string();
    let mut args = http.to_vec();
    args.push(&port);
    failed(
        &verify(&w, &dns, "globex", "www.globex.test", &args),
        "answered 404",
    );

    // The right token at a loopback address is not fetched unless allowed (the check must not
    // become a way to probe the platform's own network).
    let right = TokenServer::start(200, &format!("{token}\n"));
    let port = right.port.to_string();
    failed(
        &verify(
            &w,
            &dns,
            "globex",
            "www.globex.test",
            &["--method", "http", "--http-port", &port],
        ),
        "resolves to 127.0.0.1, a loopback, private or link-local address",
    );
    assert!(
        right.hosts().is_empty(),
        "fetched anyway: {:?}",
        right.hosts()
    );
    assert_eq!(state(&w, "globex", "www.globex.test"), "pending");
    // Still unverified: the one answer every unknown host gets, not globex's tasks.
    let (status, body) = tasks(&gw, "www.globex.test").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_tenant")),
        "{body}"
    );

    let mut args = http.to_vec();
    args.push(&port);
    let out = verify(&w, &dns, "globex", "www.globex.test", &args).ok();
    assert!(out.stdout.contains("by http"), "{}", out.stdout);
    assert_eq!(right.hosts(), vec![format!("www.globex.test:{port}")]);
    assert!(becomes(&gw, "www.globex.test", 200).await.is_some());
    assert_eq!(
        tasks(&gw, "www.globex.test").await,
        (200, serde_json::json!(["globex task"]))
    );
    // Verifying again is a no-op that says so.
    let out = verify(&w, &dns, "globex", "www.globex.test", &args).ok();
    assert!(out.stdout.contains("already verified"), "{}", out.stdout);

    // Malformed input: a clear error, and nothing written.
    let before = w.control_sql(
        "SELECT count(*) || '/' || (SELECT count(*) FROM tenantgate.audit_log) FROM tenantgate.tenant_domains",
    );
    for (args, reason) in [
        (
            &["domain", "add", "acme", "https://portal.acme.test/"][..],
            "without a scheme",
        ),
        (&["domain", "add", "acme", "portal.acme.test:8443"], "port"),
        (&["domain", "add", "acme", "127.0.0.1"], "IP addresses"),
        (&["domain", "add", "acme", "localhost"], "two labels"),
        (
            &["domain", "add", "acme", "x-.acme.test"],
            "not a valid domain",
        ),
        (&["domain", "add", "acme", "a..acme.test"], "empty labels"),
        (
            &["domain", "add", "acme", "x'; DROP TABLE t;--.test"],
            "spaces",
        ),
        (
            &["domain", "add", "nobody", "portal.nobody.test"],
            "no tenant with slug",
        ),
        (
            &["domain", "verify", "acme", "unclaimed.acme.test"],
            "claim it first",
        ),
        (
            &["domain", "revoke", "acme", "unclaimed.acme.test"],
            "is not a pending or verified domain of acme",
        ),
        (
            &[
                "domain",
                "verify",
                "acme",
                "x.test",
                "--method",
                "carrier-pigeon",
            ],
            "carrier-pigeon",
        ),
        (&["domain", "add", "acme"], "DOMAIN"),
    ] {
        let out = tg(&w, args);
        assert_ne!(out.code, 0, "{args:?} succeeded:\n{}", out.stdout);
        assert!(out.stderr.contains(reason), "{args:?}: {}", out.stderr);
    }
    assert_eq!(
        w.control_sql(
            "SELECT count(*) || '/' || (SELECT count(*) FROM tenantgate.audit_log) FROM tenantgate.tenant_domains",
        ),
        before
    );
}

/// What `domain add` stores is exactly what the gateway makes of the same name in a `Host`, so a
/// verified domain matches however a browser spells it; and what the gateway refuses as a host is
/// never stored.
#[test]
fn the_cli_stores_a_domain_as_the_gateway_normalises_its_host() {
    use gateway_core::host::{normalise_authority, HostConfig};
    use tenantgate_control::domains::normalise_domain;
    let config = HostConfig::default();
    for input in [
        "portal.acme.com",
        "Portal.ACME.com",
        "portal.acme.com.",
        "PORTAL.ACME.COM.",
        "bücher.example",
        "BÜCHER.example",
        "xn--bcher-kva.example",
        "Xn--Bcher-Kva.Example",
        "ﬁle.example",
        "straße.de",
        "a-b.c--d.example",
        "münchen.de",
        "例え.テスト",
        "0.example",
        "a.b.c.d.e.f.example",
        "x-.example",
        "-x.example",
        "xn--.example",
        "xn--zz.example",
        "a_b.example",
        "127.0.0.1",
        "0x7f.0.0.1",
        "10.1",
        "localhost",
        "portal..acme.com",
        "portal.acme.com:443",
        "[::1]",
        "user@portal.acme.com",
        "portal acme.com",
    ] {
        let cli = normalise_domain(input).ok();
        let gateway = normalise_authority(input.as_bytes(), &config)
            .ok()
            .map(|h| h.as_str().to_string());
        match (&cli, &gateway) {
            (Some(c), Some(g)) => assert_eq!(c, g, "{input:?}"),
            (Some(c), None) => panic!("{input:?}: stored as {c} but the gateway refuses it"),
            // The gateway accepts single labels, IP-free ports and the like that are not custom
            // domains; the CLI may refuse those.
            (None, Some(g)) => assert!(
                !g.contains('.') || input.contains(':'),
                "{input:?}: the gateway serves {g} but the CLI refuses it"
            ),
            (None, None) => {}
        }
    }
}
