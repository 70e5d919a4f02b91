//! The HTTP trigger: routes, private routes, the `spin-*` headers, the request URI.

use serde_json::Value;
use tenantgate_tests::host::{client, header_values, AppBuilder};

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "routing"
version = "1.2.3"

[[trigger.http]]
route = "/hello"
component = "hello"

[[trigger.http]]
route = "/api/..."
component = "probe"

[[trigger.http]]
route = "/users/:user_id/posts/:post"
component = "probe"

[[trigger.http]]
route = { private = true }
component = "backend"

[component.hello]
source = "{hello}"

[component.probe]
source = "{probe}"

[component.backend]
source = "{probe}"
"#;

#[tokio::test]
async fn routes_exact_wildcard_params_and_private() {
    let host = AppBuilder::new(APP).start().await;
    let c = client();

    let r = c.get(host.url("/hello")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello");
    // A trailing slash still matches the exact route; a longer path does not.
    assert_eq!(
        c.get(host.url("/hello/")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        c.get(host.url("/hello/x")).send().await.unwrap().status(),
        404
    );
    assert_eq!(
        c.get(host.url("/helloo")).send().await.unwrap().status(),
        404
    );

    // The private component has no route from outside, whatever the path: the host's
    // own 404, the same for every path (nothing tells a private route from none).
    for path in ["/backend", "/backend/info", "/info", "/"] {
        let r = c.get(host.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let mut body: Value = r.json().await.unwrap();
        assert!(body["error"]["request_id"].is_string(), "{path}: {body}");
        body["error"]["request_id"] = Value::Null;
        assert_eq!(
            body,
            serde_json::json!({"error": {
                "code": "not_found",
                "message": "Nothing is served here.",
                "request_id": null,
            }}),
            "{path}"
        );
    }

    let info: Value = c
        .get(host.url("/users/42/posts/7"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(header_values(&info, "spin-path-match-user-id"), ["42"]);
    assert_eq!(header_values(&info, "spin-path-match-post"), ["7"]);
    assert_eq!(header_values(&info, "spin-path-info"), [""]);
}

#[tokio::test]
async fn spin_headers_and_absolute_uri() {
    let host = AppBuilder::new(APP).start().await;
    let port = host.base.rsplit(':').next().unwrap().to_owned();
    let r = client()
        .get(host.url("/api/info/x?q=1"))
        .header("host", format!("acme.localhost:{port}"))
        // A client cannot replace the host's values: they are appended after its own.
        .header("spin-full-url", "http://evil.example/")
        .header("spin-client-addr", "10.9.9.9:1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    assert_eq!(
        info["uri"],
        format!("http://acme.localhost:{port}/api/info/x?q=1")
    );
    // spin-sdk keeps one value per header name, the last: the host's.
    assert_eq!(
        header_values(&info, "spin-full-url"),
        [format!("http://acme.localhost:{port}/api/info/x?q=1")]
    );
    assert_eq!(header_values(&info, "spin-path-info"), ["/info/x"]);
    assert_eq!(header_values(&info, "spin-matched-route"), ["/api/..."]);
    assert_eq!(
        header_values(&info, "spin-raw-component-route"),
        ["/api/..."]
    );
    assert_eq!(header_values(&info, "spin-component-route"), ["/api"]);
    assert_eq!(header_values(&info, "spin-base-path"), ["/"]);
    let client_addr = header_values(&info, "spin-client-addr");
    assert_eq!(client_addr.len(), 1);
    assert!(client_addr[0].starts_with("127.0.0.1:"), "{client_addr:?}");
}

#[tokio::test]
async fn health_and_info_are_reserved() {
    let host = AppBuilder::new(APP).start().await;
    let c = client();
    let r = c
        .get(host.url("/.well-known/spin/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "OK");
    let info: Value = c
        .get(host.url("/.well-known/spin/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "routing");
    assert_eq!(info["version"], "1.2.3");
    assert_eq!(
        c.get(host.url("/.well-known/spin/other"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// Raw HTTP/1.1 over TCP, for requests a well-behaved client will not send.
async fn raw_request(base: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn host_and_absolute_form_must_agree() {
    let host = AppBuilder::new(APP).start().await;
    // Control: absolute form whose authority matches Host is served.
    let ok = raw_request(
        &host.base,
        "GET http://a.localhost/hello HTTP/1.1\r\nHost: a.localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let bad = raw_request(
        &host.base,
        "GET http://a.localhost/hello HTTP/1.1\r\nHost: b.localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let dup = raw_request(
        &host.base,
        "GET /hello HTTP/1.1\r\nHost: a.localhost\r\nHost: b.localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(dup.starts_with("HTTP/1.1 400"), "{dup}");
}

#[tokio::test]
async fn invalid_manifests_are_refused_with_the_reason() {
    for (manifest, expect) in [
        ("spin_manifest_version = 1\n[application]\nname = \"x\"\n[trigger]\n", "version"),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"nope\"\n",
            "`nope`",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[component.a]\nsource = \"{hello}\"\nbogus = 1\n",
            "bogus",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[component.a]\nsource = \"{hello}\"\nallowed_outbound_hosts = [\"example.com\"]\n",
            "allowed_outbound_hosts",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[component.a]\nsource = \"/nonexistent.wasm\"\n",
            "nonexistent.wasm",
        ),
        (
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"A_b\"\n[component.A_b]\nsource = \"{hello}\"\n",
            "component id",
        ),
    ] {
        let err = match AppBuilder::new(manifest).load().await {
            Ok(_) => panic!("manifest should be refused:\n{manifest}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(expect), "expected {expect:?} in: {err}");
    }
}

#[tokio::test]
async fn allowed_outbound_hosts_entries_spin_refuses_do_not_start() {
    let manifest = |entry: &str| {
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"a\"\n[component.a]\nsource = \"{{hello}}\"\nallowed_outbound_hosts = [\"{entry}\"]\n"
        )
    };
    for (entry, why) in [
        // Spin's v2 manifests have no bare `self` (only `http://self`).
        ("self", "http://self"),
        // Spin has no default port for these schemes.
        ("rediss://cache.example", "no default port"),
        ("postgresql://db.example", "no default port"),
        // Spin 3.6 cannot parse an IPv6 literal without a port.
        ("http://[::1]", "explicit port"),
        // Spin compares the scheme as written: it would match nothing.
        ("HTTPS://example.com", "lower case"),
        // Spin 4.x: a wildcard suffix must be a domain.
        ("https://*.0.0.1", "domain"),
        // Spin: `url::Host::parse` refuses it.
        ("https://exa mple.com", "invalid host"),
    ] {
        let err = match AppBuilder::new(&manifest(entry)).load().await {
            Ok(_) => panic!("{entry} should be refused"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(why), "{entry}: expected {why:?} in: {err}");
    }
    for control in [
        "http://self",
        "rediss://cache.example:6380",
        "http://[::1]:8080",
        "https://*.example.com",
    ] {
        assert!(
            AppBuilder::new(&manifest(control)).load().await.is_ok(),
            "control {control}"
        );
    }
}
