//! Outbound Redis: `execute` (EVAL included) and the allow-list on open.

use serde_json::{json, Value};
use tenantgate_tests::host::{client, AppBuilder, TestHost};
use tenantgate_tests::redis::RedisServer;

fn app(port: u16) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "redis"

[[trigger.http]]
route = "/allowed/..."
component = "allowed"

[[trigger.http]]
route = "/denied/..."
component = "denied"

[component.allowed]
source = "{{probe}}"
allowed_outbound_hosts = ["redis://127.0.0.1:{port}"]

[component.denied]
source = "{{probe}}"
"#
    )
}

async fn exec(host: &TestHost, prefix: &str, address: &str, command: &str, args: Value) -> Value {
    client()
        .post(host.url(&format!("{prefix}/redis")))
        .body(json!({ "address": address, "command": command, "args": args }).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn execute_and_eval() {
    let redis = RedisServer::start();
    let host = AppBuilder::new(&app(redis.port())).start().await;
    let url = redis.url();
    assert_eq!(
        exec(&host, "/allowed", &url, "SET", json!(["k", "v"])).await["results"],
        json!([{ "status": "OK" }])
    );
    assert_eq!(
        exec(&host, "/allowed", &url, "GET", json!(["k"])).await["results"],
        json!(["v"])
    );
    assert_eq!(
        exec(&host, "/allowed", &url, "INCRBY", json!(["n", 5])).await["results"],
        json!([5])
    );
    assert_eq!(
        exec(&host, "/allowed", &url, "GET", json!(["missing"])).await["results"],
        json!([null])
    );
    let eval = exec(
        &host,
        "/allowed",
        &url,
        "EVAL",
        json!([
            "return {redis.call('INCRBY', KEYS[1], ARGV[1]), 'done'}",
            1,
            "n",
            2
        ]),
    )
    .await;
    assert_eq!(eval["results"], json!([7, "done"]));
    let err = exec(&host, "/allowed", &url, "NOSUCHCOMMAND", json!([])).await;
    assert!(err["error"].is_string(), "{err}");
}

#[tokio::test]
async fn open_checks_the_allow_list() {
    let redis = RedisServer::start();
    let host = AppBuilder::new(&app(redis.port())).start().await;
    let ok = exec(&host, "/allowed", &redis.url(), "PING", json!([])).await;
    assert_eq!(ok["results"], json!([{ "status": "PONG" }]), "control");
    let denied = exec(&host, "/denied", &redis.url(), "SET", json!(["k", "x"])).await;
    assert!(
        denied["open_error"]
            .as_str()
            .unwrap()
            .contains("InvalidAddress"),
        "{denied}"
    );
    let other = exec(
        &host,
        "/allowed",
        &format!("redis://localhost:{}", redis.port()),
        "PING",
        json!([]),
    )
    .await;
    assert!(other["open_error"].is_string(), "{other}");
    // Nothing was written by the denied component.
    let v = exec(&host, "/allowed", &redis.url(), "GET", json!(["k"])).await;
    assert_eq!(v["results"], json!([null]));
}

async fn incr(host: &TestHost, address: &str, key: &str) -> Value {
    client()
        .post(host.url("/allowed/redis"))
        .body(json!({ "address": address, "op": "incr", "key": key }).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn incr_of_text_is_other_as_in_spin_not_type_error() {
    let redis = RedisServer::start();
    let host = AppBuilder::new(&app(redis.port())).start().await;
    let url = redis.url();
    assert_eq!(incr(&host, &url, "n").await["value"], 1, "control");
    exec(&host, "/allowed", &url, "SET", json!(["t", "text"])).await;
    // Spin's `incr` maps every Redis failure to `other(..)`.
    let v = incr(&host, &url, "t").await;
    let e = v["error"].as_str().unwrap_or_default();
    assert!(
        e.starts_with("Error::Other(") && e.contains("not an integer"),
        "{v}"
    );
    let v = exec(&host, "/allowed", &url, "GET", json!(["t"])).await;
    assert_eq!(v["results"], json!(["text"]), "nothing changed");
}

#[tokio::test]
async fn a_scheme_without_a_spin_default_port_is_refused() {
    // Spin knows no default port for `rediss`: the entry does not start.
    let app = app(6379).replace("redis://127.0.0.1:6379", "rediss://127.0.0.1");
    let err = format!(
        "{:#}",
        AppBuilder::new(&app)
            .load()
            .await
            .err()
            .expect("must not start")
    );
    assert!(err.contains("no default port"), "{err}");
    assert!(
        AppBuilder::new(&app.replace("rediss://127.0.0.1", "rediss://127.0.0.1:6380"))
            .load()
            .await
            .is_ok(),
        "control: with a port"
    );
}
