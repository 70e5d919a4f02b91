//! Key-value: labels enforced per component, three backends, atomics under load.

use serde_json::Value;
use tenantgate_tests::host::{client, AppBuilder, TestHost};
use tenantgate_tests::redis::RedisServer;

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "kv"

[[trigger.http]]
route = "/owner/..."
component = "owner"

[[trigger.http]]
route = "/stranger/..."
component = "stranger"

[component.owner]
source = "{probe}"
key_value_stores = ["default", "cache"]

[component.stranger]
source = "{probe}"
key_value_stores = ["default"]
"#;

async fn call(host: &TestHost, method: &str, path: &str, body: &str) -> Value {
    let c = client();
    let req = match method {
        "POST" => c.post(host.url(path)).body(body.to_owned()),
        _ => c.get(host.url(path)),
    };
    req.send().await.unwrap().json().await.unwrap()
}

async fn exercise_store(host: &TestHost) {
    assert_eq!(
        call(host, "POST", "/owner/kv/cache/set/greeting", "hi").await["ok"],
        true
    );
    assert_eq!(
        call(host, "GET", "/owner/kv/cache/get/greeting", "").await["value"],
        "hi"
    );
    assert_eq!(
        call(host, "GET", "/owner/kv/cache/exists/greeting", "").await["exists"],
        true
    );
    assert_eq!(
        call(host, "GET", "/owner/kv/cache/keys/x", "").await["keys"],
        serde_json::json!(["greeting"])
    );
    // The stranger may not open `cache`, though it exists, nor an undeclared label.
    let denied = call(host, "GET", "/stranger/kv/cache/get/greeting", "").await;
    assert!(
        denied["open_error"]
            .as_str()
            .unwrap()
            .contains("AccessDenied"),
        "{denied}"
    );
    let denied = call(host, "GET", "/stranger/wkv/cache/get/greeting", "").await;
    assert!(
        denied["open_error"]
            .as_str()
            .unwrap()
            .contains("AccessDenied"),
        "{denied}"
    );
    let unknown = call(host, "GET", "/owner/kv/nosuch/get/x", "").await;
    assert!(
        unknown["open_error"]
            .as_str()
            .unwrap()
            .contains("AccessDenied"),
        "{unknown}"
    );
    assert_eq!(
        call(host, "POST", "/owner/kv/cache/delete/greeting", "").await["ok"],
        true
    );
    assert_eq!(
        call(host, "GET", "/owner/kv/cache/get/greeting", "").await["value"],
        Value::Null
    );
}

/// POSTs `body` to `path` `n` times at once; returns each response's `value`, sorted.
async fn concurrent_values(host: &TestHost, path: &str, body: &'static str, n: usize) -> Vec<i64> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let url = host.url(path);
        tasks.push(tokio::spawn(async move {
            let v: Value = client()
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["value"].as_i64().unwrap_or_else(|| panic!("{v}"))
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort();
    seen
}

async fn atomics_under_concurrency(host: &TestHost) {
    const N: usize = 40;
    let expected: Vec<i64> = (1..=N as i64).collect();
    let increments = concurrent_values(host, "/owner/wkv/cache/incr/hits", "1", N).await;
    assert_eq!(increments, expected, "each increment saw a distinct value");
    let swaps = concurrent_values(host, "/owner/wkv/cache/cas-add/counter", "", N).await;
    assert_eq!(swaps, expected, "no lost update under CAS");
}

#[tokio::test]
async fn memory_backend() {
    let host = AppBuilder::new(APP)
        .runtime_config("[key_value_store.cache]\ntype = \"spin\"\n")
        .start()
        .await;
    exercise_store(&host).await;
    atomics_under_concurrency(&host).await;
}

#[tokio::test]
async fn sqlite_backend_persists_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let rc = "[key_value_store.cache]\ntype = \"spin\"\npath = \"data/cache.db\"\n";
    let host = AppBuilder::new(APP)
        .runtime_config(rc)
        .in_dir(dir.path())
        .start()
        .await;
    exercise_store(&host).await;
    atomics_under_concurrency(&host).await;
    // `default` has no runtime config: Spin's default SQLite file beside spin.toml.
    assert_eq!(
        call(&host, "POST", "/stranger/kv/default/set/k", "v1").await["ok"],
        true
    );
    host.shutdown().await;
    assert!(dir.path().join("data/cache.db").exists());
    assert!(dir.path().join(".spin/sqlite_key_value.db").exists());

    let host = AppBuilder::new(APP)
        .runtime_config(rc)
        .in_dir(dir.path())
        .start()
        .await;
    assert_eq!(
        call(&host, "GET", "/owner/kv/default/get/k", "").await["value"],
        "v1"
    );
    let v = call(&host, "POST", "/owner/wkv/cache/incr/hits", "2").await;
    assert_eq!(v["value"], 42, "the counter survived the restart");
}

#[tokio::test]
async fn redis_backend() {
    let redis = RedisServer::start();
    let rc = format!(
        "[key_value_store.cache]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    let host = AppBuilder::new(APP).runtime_config(&rc).start().await;
    exercise_store(&host).await;
    atomics_under_concurrency(&host).await;
}

#[tokio::test]
async fn a_label_without_backend_fails_start_up() {
    let app = APP.replace(
        "[\"default\", \"cache\"]",
        "[\"default\", \"cache\", \"ghost\"]",
    );
    let err = format!(
        "{:#}",
        AppBuilder::new(&app)
            .runtime_config("[key_value_store.cache]\ntype = \"spin\"\n")
            .load()
            .await
            .err()
            .expect("must fail")
    );
    assert!(err.contains("ghost") && err.contains("owner"), "{err}");
}

#[tokio::test]
async fn redis_down_is_an_error_value_and_recovery_needs_no_restart() {
    let port = tenantgate_tests::free_port();
    let rc =
        format!("[key_value_store.cache]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\n");
    let host = AppBuilder::new(APP).runtime_config(&rc).start().await;
    // As in Spin (`KeyValueRedis::get` connects), `open` itself fails with `other`.
    let down = call(&host, "GET", "/owner/kv/cache/get/k", "").await;
    let e = down["open_error"].as_str().unwrap_or_default();
    assert!(
        e.starts_with("Error::Other(") && e.contains("unavailable"),
        "{down}"
    );
    let down = call(&host, "POST", "/owner/wkv/cache/incr/k", "1").await;
    let e = down["open_error"].as_str().unwrap_or_default();
    assert!(e.starts_with("Error::Other("), "{down}");
    let _redis = RedisServer::start_on(port);
    assert_eq!(
        call(&host, "POST", "/owner/kv/cache/set/k", "v").await["ok"],
        true
    );
    assert_eq!(
        call(&host, "GET", "/owner/kv/cache/get/k", "").await["value"],
        "v"
    );
}

/// POSTs `body` to `path`; the status and the JSON (or the host's error) answer.
async fn post_status(host: &TestHost, path: &str, body: &str) -> (u16, Value) {
    let r = client()
        .post(host.url(path))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn increment_of_a_value_that_is_not_a_counter_traps_as_spins_store_panics() {
    for rc in [
        "[key_value_store.cache]\ntype = \"spin\"\n",
        "[key_value_store.cache]\ntype = \"spin\"\npath = \"kv.db\"\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let host = AppBuilder::new(APP)
            .runtime_config(rc)
            .in_dir(dir.path())
            .start()
            .await;
        assert_eq!(
            call(&host, "POST", "/owner/kv/cache/set/text", "hello").await["ok"],
            true
        );
        // Spin's SQLite store `expect`s 8 bytes here: the request dies, no error value.
        let (status, body) = post_status(&host, "/owner/wkv/cache/incr/text", "1").await;
        assert_eq!(status, 500, "{rc}: {body}");
        assert_eq!(body["error"]["code"], "component_failed", "{rc}: {body}");
        // Nothing changed, and the store still serves (control).
        assert_eq!(
            call(&host, "GET", "/owner/kv/cache/get/text", "").await["value"],
            "hello"
        );
        let (status, body) = post_status(&host, "/owner/wkv/cache/incr/count", "2").await;
        assert_eq!(
            (status, &body["value"]),
            (200, &serde_json::json!(2)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn redis_increment_of_text_is_rediss_error_value() {
    let redis = RedisServer::start();
    let rc = format!(
        "[key_value_store.cache]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    let host = AppBuilder::new(APP).runtime_config(&rc).start().await;
    call(&host, "POST", "/owner/kv/cache/set/text", "hello").await;
    let v = call(&host, "POST", "/owner/wkv/cache/incr/text", "1").await;
    let e = v["error"].as_str().unwrap_or_default();
    assert!(
        e.starts_with("Error::Other(") && e.contains("not an integer"),
        "{v}"
    );
    assert_eq!(
        call(&host, "POST", "/owner/wkv/cache/incr/n", "3").await["value"],
        3,
        "control"
    );
}

/// The pairs of a `get-many` answer as a sorted list of `[key, value]`.
fn pairs(v: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = v["pairs"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn batch_get_many_leaves_absent_keys_out_as_spins_store() {
    for rc in [
        "[key_value_store.cache]\ntype = \"spin\"\n",
        "[key_value_store.cache]\ntype = \"spin\"\npath = \"kv.db\"\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let host = AppBuilder::new(APP)
            .runtime_config(rc)
            .in_dir(dir.path())
            .start()
            .await;
        let set = call(
            &host,
            "POST",
            "/owner/wkv/cache/set-many/_",
            r#"{"a":"1","b":"2"}"#,
        )
        .await;
        assert_eq!(set["ok"], true, "{set}");
        let got = call(
            &host,
            "POST",
            "/owner/wkv/cache/get-many/_",
            r#"["a","b","c"]"#,
        )
        .await;
        assert_eq!(
            pairs(&got),
            [("a".to_owned(), "1".into()), ("b".to_owned(), "2".into())],
            "`c` is absent, so it is not in the answer (Spin's SQLite store): {got}"
        );
        let none = call(&host, "POST", "/owner/wkv/cache/get-many/_", "[]").await;
        assert_eq!(none["pairs"], serde_json::json!([]));
        let del = call(
            &host,
            "POST",
            "/owner/wkv/cache/delete-many/_",
            r#"["a","c"]"#,
        )
        .await;
        assert_eq!(del["ok"], true, "{del}");
        let got = call(&host, "POST", "/owner/wkv/cache/get-many/_", r#"["a","b"]"#).await;
        assert_eq!(pairs(&got), [("b".to_owned(), "2".into())]);
    }
}

#[tokio::test]
async fn redis_batch_get_many_answers_as_spins_keys_call() {
    let redis = RedisServer::start();
    let rc = format!(
        "[key_value_store.cache]\ntype = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );
    let host = AppBuilder::new(APP).runtime_config(&rc).start().await;
    // set-many is `MSET` and delete-many `DEL`, as in Spin (controls).
    let set = call(
        &host,
        "POST",
        "/owner/wkv/cache/set-many/_",
        r#"{"a":"1","b":"2"}"#,
    )
    .await;
    assert_eq!(set["ok"], true, "{set}");
    assert_eq!(
        call(&host, "GET", "/owner/kv/cache/get/a", "").await["value"],
        "1"
    );
    // Spin sends `KEYS <keys...>` for get-many: two keys are Redis's arity error...
    let v = call(&host, "POST", "/owner/wkv/cache/get-many/_", r#"["a","b"]"#).await;
    let e = v["error"].as_str().unwrap_or_default();
    assert!(
        e.starts_with("Error::Other(") && e.contains("wrong number"),
        "{v}"
    );
    // ... one existing key makes redis-rs panic inside Spin's host call: the request dies.
    let (status, body) = post_status(&host, "/owner/wkv/cache/get-many/_", r#"["a"]"#).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "component_failed", "{body}");
    // ... and one absent key finds nothing.
    let v = call(&host, "POST", "/owner/wkv/cache/get-many/_", r#"["zzz"]"#).await;
    assert_eq!(v["pairs"], serde_json::json!([]), "{v}");
    let del = call(
        &host,
        "POST",
        "/owner/wkv/cache/delete-many/_",
        r#"["a","b"]"#,
    )
    .await;
    assert_eq!(del["ok"], true, "{del}");
    assert_eq!(
        call(&host, "GET", "/owner/kv/cache/get/a", "").await["value"],
        Value::Null
    );
}
