//! Variables: `[variables]`, component templates, `SPIN_VARIABLE_*`, required values.

use serde_json::Value;
use tenantgate_tests::host::{client, AppBuilder};

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "vars"

[variables]
apex = { default = "localhost" }
region = { default = "eu" }
api_key = { required = true, secret = true }

[[trigger.http]]
route = "/a/..."
component = "a"

[[trigger.http]]
route = "/b/..."
component = "b"

[component.a]
source = "{probe}"
[component.a.variables]
base_url = "https://{{ region }}.{{apex}}/v1"
key = "{{ api_key }}"

[component.b]
source = "{probe}"
"#;

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn templates_defaults_and_environment() {
    let host = AppBuilder::new(APP)
        .env("SPIN_VARIABLE_API_KEY", "s3cret")
        .env("SPIN_VARIABLE_APEX", "app.example")
        .start()
        .await;
    let (s, v) = get(&host.base, "/a/var/base_url").await;
    assert_eq!(
        (s, v["value"].as_str()),
        (200, Some("https://eu.app.example/v1"))
    );
    let (_, v) = get(&host.base, "/a/var/key").await;
    assert_eq!(v["value"], "s3cret");
    let (_, v) = get(&host.base, "/a/config/base_url").await;
    assert_eq!(v["value"], "https://eu.app.example/v1");

    // Application variables are not component variables; other components see nothing.
    let (s, v) = get(&host.base, "/a/var/apex").await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("Undefined"), "{v}");
    let (s, v) = get(&host.base, "/b/var/key").await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("Undefined"), "{v}");
    let (_, v) = get(&host.base, "/b/config/key").await;
    assert_eq!(v["value"], Value::Null);
    let (s, v) = get(&host.base, "/a/var/Bad-Name").await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("InvalidName"), "{v}");
}

#[tokio::test]
async fn a_missing_required_variable_stops_start_up_with_its_name() {
    let err = match AppBuilder::new(APP).load().await {
        Ok(_) => panic!("must not load without api_key"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("api_key"), "{err}");
    assert!(err.contains("SPIN_VARIABLE_API_KEY"), "{err}");
}

#[tokio::test]
async fn templates_must_name_declared_variables() {
    let bad = APP.replace("{{ api_key }}", "{{ nope }}");
    let err = format!(
        "{:#}",
        AppBuilder::new(&bad)
            .env("SPIN_VARIABLE_API_KEY", "x")
            .load()
            .await
            .err()
            .unwrap()
    );
    assert!(err.contains("nope"), "{err}");
}
