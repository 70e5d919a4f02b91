//! The host's edge attacked: malformed authorities and heads, slow and idle clients,
//! descriptor exhaustion. Every refusal is the documented JSON error with its code,
//! and every attack has an allowed request beside it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tenantgate_host::trigger::server::ServerOptions;
use tenantgate_tests::fixtures::{fixture, host_binary, target_dir};
use tenantgate_tests::free_port;
use tenantgate_tests::host::{client, header_values, AppBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "edge"

[[trigger.http]]
route = "/hello"
component = "hello"

[[trigger.http]]
route = "/api/..."
component = "probe"

[component.hello]
source = "{hello}"

[component.probe]
source = "{probe}"
"#;

/// Sends raw bytes on a fresh connection; returns the status and the body.
async fn exchange(addr: &str, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    )
}

/// The payload of a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// The code of the host's JSON error in `body`, checking the whole documented shape.
fn code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(
        e["request_id"].as_str().is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    e["code"].as_str().expect("a code").to_owned()
}

fn head(target: &str, fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut r = format!("GET {target} HTTP/1.1\r\nConnection: close\r\n").into_bytes();
    for (name, value) in fields {
        r.extend_from_slice(name.as_bytes());
        r.extend_from_slice(b": ");
        r.extend_from_slice(value);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"\r\n");
    r
}

fn many_fields(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| (format!("x-field-{i}"), b"v".to_vec()))
        .collect()
}

/// What is attacked, the attack, the refusal it gets, and an allowed request beside it.
type Case = (&'static str, Vec<u8>, (u16, &'static str), Vec<u8>);

#[tokio::test]
async fn the_hosts_own_refusals_are_json_with_stable_codes() {
    let host = AppBuilder::new(APP).start().await;
    let addr = host.base.trim_start_matches("http://").to_owned();
    let big = vec![b'b'; 70 << 10];
    let fields = |n: usize| {
        let mut f = many_fields(n);
        f.push(("host".into(), b"a.localhost".to_vec()));
        f
    };
    let (too_many, just_enough) = (fields(100), fields(98));
    let as_refs = |f: &[(String, Vec<u8>)]| -> Vec<u8> {
        let refs: Vec<(&str, &[u8])> = f.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
        head("/hello", &refs)
    };
    let cases: Vec<Case> = vec![
        (
            "Host disagrees with the absolute-form target",
            head("http://a.localhost/hello", &[("host", b"b.localhost")]),
            (400, "invalid_host"),
            head("http://a.localhost/hello", &[("host", b"A.LocalHost.")]),
        ),
        (
            "two Host headers",
            head(
                "/hello",
                &[("host", b"a.localhost"), ("host", b"a.localhost")],
            ),
            (400, "invalid_host"),
            head("/hello", &[("host", b"a.localhost")]),
        ),
        (
            "no Host and an origin-form target",
            head("/hello", &[]),
            (400, "invalid_host"),
            head("http://a.localhost/hello", &[]),
        ),
        (
            "Host bytes that are not UTF-8",
            head("/hello", &[("host", b"b\xfccher.localhost")]),
            (400, "invalid_host"),
            head("/hello", &[("host", "bücher.localhost".as_bytes())]),
        ),
        (
            // Spin's trigger refuses it before the component (`prepare_request_headers`
            // needs UTF-8; Spin answers 500): the component must never see it here.
            "a header value that is not UTF-8",
            head(
                "/hello",
                &[("host", b"a.localhost"), ("x-name", b"b\xfccher")],
            ),
            (400, "invalid_header"),
            head(
                "/hello",
                &[("host", b"a.localhost"), ("x-name", "bücher".as_bytes())],
            ),
        ),
        (
            "Host that is no authority",
            head("/hello", &[("host", b"a.localhost:x:y")]),
            (400, "invalid_host"),
            head("/hello", &[("host", b"a.localhost:3000")]),
        ),
        (
            "more header fields than the host accepts",
            as_refs(&too_many),
            (431, "headers_too_large"),
            as_refs(&just_enough),
        ),
        (
            "a head larger than the host accepts",
            head("/hello", &[("host", b"a.localhost"), ("x-big", &big)]),
            (431, "headers_too_large"),
            head(
                "/hello",
                &[("host", b"a.localhost"), ("x-big", &big[..20 << 10])],
            ),
        ),
        (
            "a /.well-known/spin path the host does not serve",
            head("/.well-known/spin/other", &[("host", b"a.localhost")]),
            (404, "not_found"),
            head("/.well-known/spin/health", &[("host", b"a.localhost")]),
        ),
        (
            "no route",
            head("/nope", &[("host", b"a.localhost")]),
            (404, "not_found"),
            head("/hello", &[("host", b"a.localhost")]),
        ),
    ];
    for (what, attack, (status, want), control) in cases {
        let (s, body) = exchange(&addr, &attack).await;
        assert_eq!((s, code(&body).as_str()), (status, want), "{what}: {body}");
        let (s, body) = exchange(&addr, &control).await;
        assert_eq!(s, 200, "control for {what}: {body}");
    }
}

#[tokio::test]
async fn a_unicode_host_reaches_the_app_as_its_ascii_form() {
    let host = AppBuilder::new(APP).start().await;
    let addr = host.base.trim_start_matches("http://").to_owned();
    let (status, body) = exchange(
        &addr,
        &head("/api/info", &[("host", "Bücher.localhost.".as_bytes())]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let info: Value = serde_json::from_str(&body).unwrap();
    // wasi:http hands a guest no `Host` header: the URL carries the authority.
    assert_eq!(info["uri"], "http://xn--bcher-kva.localhost./api/info");
    assert_eq!(
        header_values(&info, "spin-full-url"),
        ["http://xn--bcher-kva.localhost./api/info"]
    );
    // The same authority spelled twice, in Unicode and in its ASCII form, agrees.
    let (status, body) = exchange(
        &addr,
        &head(
            "http://XN--BCHER-KVA.localhost/api/info",
            &[("host", "bücher.localhost".as_bytes())],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_hosts_spin_headers_do_not_count_against_the_clients_budget() {
    let host = AppBuilder::new(APP).start().await;
    let addr = host.base.trim_start_matches("http://").to_owned();
    // A 20 KB path and 40 KB of the client's own fields: 60 KB of the client's bytes,
    // under the 64 KB budget. The host then adds the path twice more (`spin-path-info`,
    // `spin-full-url`), which would be over it.
    let path = format!("/api/{}", "p".repeat(20 << 10));
    let filler = vec![b'f'; 40 << 10];
    let (status, body) = exchange(
        &addr,
        &head(&path, &[("host", b"a.localhost"), ("x-filler", &filler)]),
    )
    .await;
    assert_eq!(status, 200, "{}", &body[..body.len().min(300)]);
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(header_values(&info, "spin-path-info"), [&path[4..]]);
    // Control: the client's own bytes over the budget are refused.
    let filler = vec![b'f'; 45 << 10];
    let (status, body) = exchange(
        &addr,
        &head(&path, &[("host", b"a.localhost"), ("x-filler", &filler)]),
    )
    .await;
    assert_eq!((status, code(&body).as_str()), (431, "headers_too_large"));
}

/// Sends a request head one byte a second; returns how long the host kept the
/// connection open.
async fn slow_client(addr: String) -> Duration {
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let opened = Instant::now();
    let head = format!(
        "GET /hello HTTP/1.1\r\nHost: a.localhost\r\nX-Slow: {}\r\n\r\n",
        "s".repeat(40)
    );
    let mut buf = [0u8; 512];
    for b in head.as_bytes() {
        if s.write_all(&[*b]).await.is_err() {
            return opened.elapsed();
        }
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => return opened.elapsed(),
            Ok(Ok(_)) => return until_closed(&mut s, opened).await,
        }
    }
    panic!("the host read a whole head sent at one byte a second");
}

/// Connects and sends nothing; returns how long the host kept the connection open.
async fn idle_client(addr: String) -> Duration {
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let opened = Instant::now();
    until_closed(&mut s, opened).await
}

async fn until_closed(s: &mut TcpStream, opened: Instant) -> Duration {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await {
            Err(_) => panic!("the host kept a connection open for 30 s"),
            Ok(Ok(0)) | Ok(Err(_)) => return opened.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_flood_neither_stops_requests_nor_stays_open() {
    let header_read = Duration::from_secs(3);
    let keep_alive = Duration::from_secs(2);
    let host = AppBuilder::new(APP)
        .server_options(ServerOptions {
            header_read_timeout: header_read,
            keep_alive_timeout: keep_alive,
            ..ServerOptions::default()
        })
        .start()
        .await;
    let addr = host.base.trim_start_matches("http://").to_owned();
    let slow: Vec<_> = (0..300)
        .map(|_| tokio::spawn(slow_client(addr.clone())))
        .collect();
    let idle: Vec<_> = (0..100)
        .map(|_| tokio::spawn(idle_client(addr.clone())))
        .collect();
    // Meanwhile, requests are served, promptly.
    let c = client();
    for _ in 0..10 {
        let sent = Instant::now();
        let r = c.get(host.url("/hello")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "{:?}",
            sent.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let margin = Duration::from_secs(2);
    for h in slow {
        let open = h.await.unwrap();
        assert!(
            open <= header_read + margin,
            "a slow client stayed {open:?}"
        );
    }
    for h in idle {
        let open = h.await.unwrap();
        assert!(
            open <= keep_alive + margin,
            "an idle client stayed {open:?}"
        );
    }
    // A kept-alive connection that goes idle after its request is closed too.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: a.localhost\r\n\r\n")
        .await
        .unwrap();
    let opened = Instant::now();
    let open = until_closed(&mut s, opened).await;
    assert!(
        open <= keep_alive + margin,
        "an idle keep-alive connection stayed {open:?}"
    );
}

#[test]
fn idle_connections_cannot_exhaust_file_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!(
        "spin_manifest_version = 2\n[application]\nname = \"fds\"\n[[trigger.http]]\n\
         route = \"/hello\"\ncomponent = \"hello\"\n[component.hello]\nsource = \"{}\"\n",
        fixture("hello").display()
    );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    let port = free_port();
    let mut child = Command::new("prlimit")
        .arg("--nofile=300:300")
        .arg("--")
        .arg(host_binary())
        .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--from"])
        .arg(dir.path())
        .arg("--cache-dir")
        .arg(target_dir().join("tenantgate-test-cache"))
        .args([
            "--keep-alive-timeout-secs",
            "2",
            "--header-read-timeout-secs",
            "2",
        ])
        .env("TENANTGATE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Kept open until the end: the host prints its routes after this line.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(line.contains("Serving"), "{line}");
    let addr = format!("127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outcome = rt.block_on(async {
        // More idle connections than the host has descriptors.
        let mut idle = Vec::new();
        for _ in 0..400 {
            idle.push(TcpStream::connect(&addr).await.unwrap());
        }
        let sent = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(15),
            client().get(format!("http://{addr}/hello")).send(),
        )
        .await;
        let served = r.map(|r| r.map(|r| r.status().as_u16()));
        let waited = sent.elapsed();
        // Every idle connection is closed in a bounded time, whether it was accepted
        // at once or waited in the backlog for a free slot.
        let opened = Instant::now();
        for mut s in idle {
            until_closed(&mut s, opened).await;
        }
        (served, waited, opened.elapsed())
    });
    let _ = child.kill();
    let _ = child.wait();
    let (served, waited, closed_within) = outcome;
    assert!(
        matches!(served, Ok(Ok(200))),
        "a request behind 400 idle connections: {served:?} after {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert!(closed_within < Duration::from_secs(15), "{closed_within:?}");
}
