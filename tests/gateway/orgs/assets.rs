//! Issue 22 item 4: the static files' refusals were plain text (`GET /admin/assets/<missing>`
//! a 404 `text/plain`, `POST /admin` a 405 `text/plain`). Every refusal of every static route
//! (the organisation pages on a tenant host, the platform console on the apex) is the
//! documented JSON error with a stable code, or an HTML error page for a browser navigation;
//! beside each, an existing file answers 200 with its type. Sent as raw HTTP, so no client
//! library resolves a dot segment first.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn code(&self) -> String {
        serde_json::from_str::<Value>(&self.body).unwrap_or_default()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

async fn raw(o: &Orgs, method: &str, target: &str, host: &str, extra: &[(&str, &str)]) -> Raw {
    let addr = o.app.host.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (n, v) in extra {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if method == "POST" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(n, v): &(String, String)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    Raw {
        status,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
        headers,
    }
}

/// The body of a `Transfer-Encoding: chunked` answer.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

fn json_refusal(r: &Raw, status: u16, code: &str, what: &str) {
    assert_eq!(
        (r.status, r.code().as_str()),
        (status, code),
        "{what}: {}",
        r.body
    );
    assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}"
    );
    assert!(
        v["error"]["request_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}"
    );
}

#[tokio::test]
async fn every_static_refusal_is_the_json_error_or_an_html_page_for_a_browser() {
    let o = Orgs::start().await;
    let apex = "localhost:3000";
    for (host, base, existing, kind) in [
        (
            ACME_HOST,
            "/admin",
            "/admin/assets/app.js",
            "text/javascript; charset=utf-8",
        ),
        (
            ACME_HOST,
            "/admin",
            "/admin/assets/app.css",
            "text/css; charset=utf-8",
        ),
        (
            apex,
            "/platform",
            "/platform/assets/tenants.js",
            "text/javascript; charset=utf-8",
        ),
        (
            apex,
            "/platform",
            "/platform/assets/platform.css",
            "text/css; charset=utf-8",
        ),
    ] {
        // Control: the file, with its type.
        let r = raw(&o, "GET", existing, host, &[]).await;
        assert_eq!(r.status, 200, "{existing}: {}", r.body);
        assert_eq!(r.header("content-type"), Some(kind), "{existing}");
        let r = raw(&o, "GET", base, host, &[]).await;
        assert_eq!(r.status, 200, "{base}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

        // A file that is not in the bundle.
        for missing in ["nope.js", "app.js.map", "..%2fCargo.toml", "%00"] {
            let target = format!("{base}/assets/{missing}");
            json_refusal(
                &raw(&o, "GET", &target, host, &[]).await,
                404,
                "not_found",
                &target,
            );
            // HEAD: the same status and type, no body.
            let r = raw(&o, "HEAD", &target, host, &[]).await;
            assert_eq!(r.status, 404, "HEAD {target}");
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
        // A method the files do not have: 405 with Allow, on the pages and the assets.
        for (method, target) in [
            ("POST", base.to_owned()),
            ("PUT", format!("{base}/assets/app.js")),
            ("DELETE", existing.to_owned()),
        ] {
            let r = raw(&o, method, &target, host, &[("Accept", "text/html")]).await;
            json_refusal(&r, 405, "method_not_allowed", &format!("{method} {target}"));
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {target}");
        }
        // Climbing out of the bundle: refused at the gateway, before any component.
        for target in [
            format!("{base}/assets/../../Cargo.toml"),
            format!("{base}/assets/%2e%2e/%2e%2e/Cargo.toml"),
            format!("{base}/assets/..%5cCargo.toml"),
        ] {
            json_refusal(
                &raw(&o, "GET", &target, host, &[]).await,
                400,
                "bad_request",
                &target,
            );
        }
        // A browser navigation to a missing file: the HTML error page, same status and code.
        let target = format!("{base}/assets/nope.js");
        for nav in [
            &[("Sec-Fetch-Mode", "navigate"), ("Accept", "text/html")][..],
            &[("Accept", "text/html,application/xhtml+xml")][..],
        ] {
            let r = raw(&o, "GET", &target, host, nav).await;
            assert_eq!(r.status, 404, "{target}");
            assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
            assert!(r.body.contains(">not_found<"), "{}", r.body);
        }
        // A script's fetch is not a navigation: JSON.
        let r = raw(
            &o,
            "GET",
            &target,
            host,
            &[("Sec-Fetch-Mode", "cors"), ("Accept", "text/html")],
        )
        .await;
        json_refusal(&r, 404, "not_found", "fetch");
    }
}
