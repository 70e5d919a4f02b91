//! Outbound HTTP: `allowed_outbound_hosts` enforcement and service chaining.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tenantgate_tests::host::{client, header_values, AppBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback HTTP server answering `pong`, counting the requests it receives.
async fn pong_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong",
                    )
                    .await;
            });
        }
    });
    (port, hits)
}

fn app(port: u16) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "chaining"

[[trigger.http]]
route = "/front/..."
component = "front"

[[trigger.http]]
route = "/closed/..."
component = "closed"

[[trigger.http]]
route = {{ private = true }}
component = "backend"

[component.front]
source = "{{probe}}"
allowed_outbound_hosts = ["http://backend.spin.internal", "http://127.0.0.1:{port}"]

[[trigger.http]]
route = "/wild/..."
component = "wild"

[component.closed]
source = "{{probe}}"

[component.backend]
source = "{{probe}}"

[component.wild]
source = "{{probe}}"
allowed_outbound_hosts = ["http://*.spin.internal", "http://localhost:{port}"]
"#
    )
}

fn denied(v: &Value) -> bool {
    v["error"]
        .as_str()
        .unwrap_or_default()
        .contains("HttpRequestDenied")
}

#[tokio::test]
async fn the_chaining_wildcard_allows_the_apps_components_only_as_spin_expands_it() {
    let (port, _) = pong_server().await;
    let host = AppBuilder::new(&app(port)).start().await;
    let ok = probe_http(&host.base, "/wild", "http://backend.spin.internal/info").await;
    assert_eq!(ok["status"], 200, "control: {ok}");
    // Spin replaces `*.spin.internal` by one entry per component: no other name passes.
    let ghost = probe_http(&host.base, "/wild", "http://ghost.spin.internal/info").await;
    assert!(denied(&ghost), "{ghost}");
}

#[tokio::test]
async fn a_literal_entry_for_a_component_the_app_lacks_does_not_start() {
    // Spin would start and trap the caller when it chains there; the host refuses first.
    let (port, _) = pong_server().await;
    let manifest = app(port).replace(
        "\"http://backend.spin.internal\"",
        "\"http://ghost.spin.internal\"",
    );
    let err = format!(
        "{:#}",
        AppBuilder::new(&manifest)
            .load()
            .await
            .err()
            .expect("must not start")
    );
    assert!(err.contains("ghost") && err.contains("front"), "{err}");
    assert!(AppBuilder::new(&app(port)).load().await.is_ok(), "control");
}

#[tokio::test]
async fn a_trailing_dot_is_another_host_as_in_spin() {
    let (port, hits) = pong_server().await;
    let host = AppBuilder::new(&app(port)).start().await;
    let ok = probe_http(&host.base, "/wild", &format!("http://localhost:{port}/")).await;
    assert_eq!(ok["body"], "pong", "control: {ok}");
    let dotted = probe_http(&host.base, "/wild", &format!("http://localhost.:{port}/")).await;
    assert!(denied(&dotted), "{dotted}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the denied request sent nothing"
    );
}

async fn probe_http(base: &str, prefix: &str, url: &str) -> Value {
    client()
        .get(format!("{base}{prefix}/http?url={url}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn chaining_reaches_a_private_component_in_process() {
    let (port, _) = pong_server().await;
    let host = AppBuilder::new(&app(port)).start().await;
    let out = probe_http(
        &host.base,
        "/front",
        "http://backend.spin.internal/info/deep?x=1",
    )
    .await;
    assert_eq!(out["status"], 200, "{out}");
    let info: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(info["uri"], "http://backend.spin.internal/info/deep?x=1");
    assert_eq!(
        header_values(&info, "spin-full-url"),
        ["http://localhost/info/deep?x=1"]
    );
    assert_eq!(header_values(&info, "spin-path-info"), ["/info/deep"]);
    assert_eq!(header_values(&info, "spin-matched-route"), ["/..."]);
    assert_eq!(header_values(&info, "spin-client-addr"), ["0.0.0.0:0"]);
    assert_eq!(
        header_values(&info, "x-probe"),
        ["1"],
        "the caller's headers arrive"
    );
    assert!(header_values(&info, "host").is_empty());
}

#[tokio::test]
async fn chaining_needs_an_allowed_outbound_hosts_entry() {
    let (port, _) = pong_server().await;
    let host = AppBuilder::new(&app(port)).start().await;
    // Control: the same request from `front` succeeds.
    let ok = probe_http(&host.base, "/front", "http://backend.spin.internal/info").await;
    assert_eq!(ok["status"], 200);
    let denied = probe_http(&host.base, "/closed", "http://backend.spin.internal/info").await;
    assert!(
        denied["error"]
            .as_str()
            .unwrap_or_default()
            .contains("HttpRequestDenied"),
        "{denied}"
    );
    // `front` may reach `backend` only, not every component.
    let other = probe_http(&host.base, "/front", "http://closed.spin.internal/info").await;
    assert!(
        other["error"]
            .as_str()
            .unwrap_or_default()
            .contains("HttpRequestDenied"),
        "{other}"
    );
}

#[tokio::test]
async fn network_requests_follow_the_allow_list_and_denials_send_nothing() {
    let (port, hits) = pong_server().await;
    let host = AppBuilder::new(&app(port)).start().await;
    let url = format!("http://127.0.0.1:{port}/ping");
    let ok = probe_http(&host.base, "/front", &url).await;
    assert_eq!(ok["status"], 200, "{ok}");
    assert_eq!(ok["body"], "pong");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let denied = probe_http(&host.base, "/closed", &url).await;
    assert!(
        denied["error"]
            .as_str()
            .unwrap_or_default()
            .contains("HttpRequestDenied"),
        "{denied}"
    );
    // Same host, other port: not on the list either.
    let (port2, hits2) = pong_server().await;
    let other_port = probe_http(&host.base, "/front", &format!("http://127.0.0.1:{port2}/")).await;
    assert!(other_port["error"]
        .as_str()
        .unwrap_or_default()
        .contains("HttpRequestDenied"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a denied request never reaches the server"
    );
    assert_eq!(hits2.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_relay_answers_with_the_private_components_response() {
    let host = AppBuilder::new(
        r#"
spin_manifest_version = 2
[application]
name = "relay"
[[trigger.http]]
route = "/relay"
component = "relay"
[[trigger.http]]
route = { private = true }
component = "hello"
[component.relay]
source = "{relay}"
allowed_outbound_hosts = ["http://hello.spin.internal"]
[component.hello]
source = "{hello}"
"#,
    )
    .start()
    .await;
    let r = client().get(host.url("/relay")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-relayed"], "1");
    assert_eq!(r.text().await.unwrap(), "hello");
}
