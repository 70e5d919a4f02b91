//! Who gets served: tenants by every spelling of their host, nobody else, and nothing a
//! client sends can change which tenant a request is for.

use serde_json::json;
use tenantgate_tests::dataplane::{sign_context, unix_now};

use crate::app::*;

/// A context for globex signed with the real key: what a forger would love to send.
fn globex_context() -> String {
    let claims = json!({"tid": GLOBEX, "slug": "globex", "plc": "schema", "db": null, "sch": "tenant_globex",
                        "uid": null, "roles": [], "perms": ["tasks.read", "tasks.write"], "rid": "x",
                        "exp": unix_now() + 60});
    sign_context("k1", KEY, &claims)
}

const ACME_TASKS: [&str; 2] = ["acme: book venue", "acme: print flyers"];

#[tokio::test]
async fn each_tenant_sees_its_own_tasks_whatever_the_spelling_of_its_host() {
    let app = App::start().await;
    for host in [
        "acme.localhost:3000",
        "ACME.Localhost:3000",
        "acme.localhost.:3000",
        "acme.localhost",
        "acme.localhost:80",
        "portal.acme.test:3000",
        "PORTAL.ACME.TEST.",
    ] {
        let (s, v) = app.get(host, "/api/tasks", &[]).await;
        assert_eq!(
            (s, titles(&v)),
            (200, ACME_TASKS.map(String::from).to_vec()),
            "{host}: {v}"
        );
    }
    // globex lives in a schema of its own; it sees its task and none of acme's.
    let (s, v) = app.get("globex.localhost:3000", "/api/tasks", &[]).await;
    assert_eq!(
        (s, titles(&v)),
        (200, vec!["globex: hire engineers".to_owned()]),
        "{v}"
    );
    // The response carries the request id the gateway assigned.
    let resp = tenantgate_tests::host::client()
        .get(app.host.url("/api/projects"))
        .header("host", "acme.localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-request-id").is_some());
}

#[tokio::test]
async fn forged_headers_from_the_client_change_nothing() {
    let app = App::start().await;
    let forged = globex_context();
    for (name, value) in [
        ("x-tenant-context", forged.as_str()),
        ("X-Tenant-Context", forged.as_str()),
        ("x-tenant-host", "globex.localhost"),
        ("x-tenant-id", GLOBEX),
        ("spin-full-url", "http://globex.localhost:3000/api/tasks"),
        ("x_tenant_context", forged.as_str()),
        ("X_Tenant_Host", "globex.localhost"),
        ("spin_full_url", "http://globex.localhost:3000/api/tasks"),
        ("x-forwarded-host", "globex.localhost"),
        ("forwarded", "host=globex.localhost"),
    ] {
        let (s, v) = app
            .get("acme.localhost:3000", "/api/tasks", &[(name, value)])
            .await;
        assert_eq!(
            (s, titles(&v)),
            (200, ACME_TASKS.map(String::from).to_vec()),
            "{name}: {v}"
        );
    }
    // A header named in Connection is dropped, so it cannot smuggle a context either.
    let (s, v) = app
        .get(
            "acme.localhost:3000",
            "/api/tasks",
            &[
                ("connection", "x-tenant-context"),
                ("x-tenant-context", &forged),
            ],
        )
        .await;
    assert_eq!((s, titles(&v).len()), (200, 2));
    // Writes with a forged context are the anonymous caller's: reads only.
    let (s, v) = app
        .request(
            "POST",
            "acme.localhost:3000",
            "/api/projects",
            &[("x-tenant-context", &forged)],
            Some(br#"{"name":"pwned"}"#.to_vec()),
        )
        .await;
    assert_eq!((s, code(&v)), (403, "forbidden".to_owned()), "{v}");
    assert_eq!(
        app.pg.psql(
            "postgres",
            "SELECT count(*) FROM app.projects WHERE name = 'pwned'"
        ) + &app.pg.psql(
            "postgres",
            "SELECT count(*) FROM tenant_globex.projects WHERE name = 'pwned'"
        ),
        "00"
    );
}

#[tokio::test]
async fn refusals_have_the_right_status_and_code() {
    let app = App::start().await;
    let unknown = app.get("nobody.localhost:3000", "/api/tasks", &[]).await;
    for (host, path, status, want) in [
        ("nobody.localhost:3000", "/api/tasks", 404, "unknown_tenant"),
        ("gone.localhost:3000", "/api/tasks", 404, "unknown_tenant"),
        (
            "unverified.globex.test",
            "/api/tasks",
            404,
            "unknown_tenant",
        ),
        ("www.localhost:3000", "/api/tasks", 404, "unknown_tenant"),
        ("a.acme.localhost:3000", "/api/tasks", 404, "unknown_tenant"),
        (
            "sleepy.localhost:3000",
            "/api/tasks",
            403,
            "tenant_suspended",
        ),
        ("localhost:3000", "/api/tasks", 401, "unauthenticated"),
        ("acme.localhost:3000", "/nowhere", 404, "not_found"),
        ("127.0.0.1:3000", "/api/tasks", 400, "invalid_host"),
        ("acme.localhost:8080", "/api/tasks", 400, "invalid_host"),
        (
            "user@acme.localhost:3000",
            "/api/tasks",
            400,
            "invalid_host",
        ),
    ] {
        let (s, v) = app.get(host, path, &[]).await;
        assert_eq!(
            (s, code(&v)),
            (status, want.to_owned()),
            "{host}{path}: {v}"
        );
        assert!(
            v["error"]["request_id"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{v}"
        );
        if want == "unknown_tenant" {
            // One uniform answer: nothing tells a deleted tenant from one that never was.
            assert_eq!(v["error"]["message"], unknown.1["error"]["message"]);
        }
    }
    // The allowed control on the same app.
    assert_eq!(
        app.get("acme.localhost:3000", "/api/tasks", &[]).await.0,
        200
    );

    // Sizes: a body over the cap is 413, a header block over the cap 431; nothing stored.
    let big = vec![b'x'; MAX_BODY + 1];
    let (s, v) = app
        .request(
            "POST",
            "acme.localhost:3000",
            "/api/projects",
            &[],
            Some(big),
        )
        .await;
    assert_eq!((s, code(&v)), (413, "payload_too_large".to_owned()), "{v}");
    let huge = "y".repeat(9000);
    let (s, v) = app
        .get("acme.localhost:3000", "/api/tasks", &[("x-padding", &huge)])
        .await;
    assert_eq!((s, code(&v)), (431, "headers_too_large".to_owned()), "{v}");
    // Anonymous callers have tasks.read only (the configured permissions).
    let (s, v) = app
        .request(
            "POST",
            "acme.localhost:3000",
            "/api/projects",
            &[],
            Some(br#"{"name":"x"}"#.to_vec()),
        )
        .await;
    assert_eq!((s, code(&v)), (403, "forbidden".to_owned()), "{v}");
    assert_eq!(
        app.pg.psql("postgres", "SELECT count(*) FROM app.projects"),
        "1"
    );
}

#[tokio::test]
async fn raw_targets_that_disagree_with_the_host_or_climb_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = App::start().await;
    let addr = app.host.base.trim_start_matches("http://").to_owned();
    for (target, host, want) in [
        (
            "http://globex.localhost:3000/api/tasks",
            "acme.localhost:3000",
            "400",
        ),
        (
            "http://acme.localhost:3000/api/tasks",
            "acme.localhost:3000",
            "200",
        ),
        // Dot segments never reach a route (a client library would have resolved them).
        ("/api/tasks/../admin", "acme.localhost:3000", "400"),
        ("/api/tasks/%2e%2e/admin", "acme.localhost:3000", "400"),
        ("/api/tasks", "acme.localhost:3000", "200"),
    ] {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(
            out.starts_with(&format!("HTTP/1.1 {want}")),
            "{target} with Host {host}: {out}"
        );
    }
}

/// Regression: the host repeats the path in `spin-full-url` and `spin-path-info`, after the
/// client's headers; a long path used to be refused (431) for bytes the client never sent.
#[tokio::test]
async fn a_long_path_is_judged_by_the_clients_own_bytes() {
    let app = App::start().await;
    // 2 x 5 KB of host-added spin-* headers, over the 8 KiB budget; the client sent little.
    let long = format!("/api/tasks/{}", "a".repeat(5_000));
    let (s, v) = app.get("acme.localhost:3000", &long, &[]).await;
    assert_eq!(
        (s, code(&v)),
        (404, "not_found".to_owned()),
        "reached tasks: {v}"
    );
    // Attack: the client's own copy of a host-added name still counts against the budget.
    let forged = format!("http://acme.localhost:3000{}", "b".repeat(9_000));
    let (s, v) = app
        .get(
            "acme.localhost:3000",
            "/api/tasks",
            &[("spin-full-url", &forged)],
        )
        .await;
    assert_eq!((s, code(&v)), (431, "headers_too_large".to_owned()), "{v}");
    // Control: a short path is served.
    let (s, v) = app.get("acme.localhost:3000", "/api/tasks", &[]).await;
    assert_eq!((s, titles(&v).len()), (200, 2), "{v}");
}
