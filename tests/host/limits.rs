//! Per-request isolation and limits: a misbehaving guest fails its own request only.

use std::time::Duration;

use tenantgate_host::engine::Limits;
use tenantgate_tests::host::{client, AppBuilder, TestHost};

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "limits"

[[trigger.http]]
route = "/..."
component = "rogue"

[component.rogue]
source = "{rogue}"
"#;

async fn start(limits: Limits) -> TestHost {
    AppBuilder::new(APP).limits(limits).start().await
}

fn tight() -> Limits {
    Limits {
        max_memory_bytes: 32 << 20,
        request_timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

async fn status(host: &TestHost, path: &str) -> u16 {
    client()
        .get(host.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Status and the host's error code (`-` when the body is not the host's JSON error).
async fn refusal(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or("-").to_owned();
    (status, code)
}

async fn get(host: &TestHost, path: &str) -> (u16, String) {
    refusal(client().get(host.url(path)).send().await.unwrap()).await
}

/// Waits until `n` guest instances are alive (a pool slot is held by each).
async fn until_live_instances(host: &TestHost, n: usize) {
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while host.rt.live_instances() != n {
        assert!(
            std::time::Instant::now() < give_up,
            "never reached {n} live instances"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn traps_runaway_loops_sleepers_and_hoarders_fail_alone() {
    let host = start(tight()).await;
    assert_eq!(status(&host, "/ok").await, 200, "control");
    assert_eq!(
        get(&host, "/trap").await,
        (500, "component_failed".into()),
        "a plain trap is not reported as a memory limit"
    );
    assert_eq!(
        status(&host, "/ok").await,
        200,
        "a trap does not take the host down"
    );
    assert_eq!(
        get(&host, "/loop").await,
        (503, "timeout".into()),
        "a CPU loop is interrupted at the deadline"
    );
    assert_eq!(status(&host, "/ok").await, 200);
    assert_eq!(
        get(&host, "/sleep").await,
        (503, "timeout".into()),
        "a guest blocked past the deadline"
    );
    assert_eq!(
        get(&host, "/oom").await,
        (500, "memory_limit".into()),
        "memory growth stops at the cap, and the trap that follows says so"
    );
    assert_eq!(status(&host, "/ok").await, 200);
}

#[tokio::test]
async fn a_body_larger_than_guest_memory_fails_that_request() {
    let host = start(tight()).await;
    let c = client();
    let small = c
        .post(host.url("/body"))
        .body(vec![7u8; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
    assert_eq!(small.text().await.unwrap(), (1 << 20).to_string());
    let big = c
        .post(host.url("/body"))
        .body(vec![7u8; 64 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(big).await,
        (500, "memory_limit".into()),
        "the body did not fit the guest's memory cap"
    );
    assert_eq!(status(&host, "/ok").await, 200);
}

#[tokio::test]
async fn beyond_max_instances_requests_get_503_not_a_queue() {
    let host = start(Limits {
        max_instances: 1,
        request_timeout: Duration::from_secs(3),
        ..Limits::default()
    })
    .await;
    assert_eq!(host.rt.live_instances(), 0);
    let url = host.url("/sleep");
    let sleeper =
        tokio::spawn(async move { refusal(client().get(url).send().await.unwrap()).await });
    // The sleeper's instance holds the only slot.
    until_live_instances(&host, 1).await;
    assert_eq!(get(&host, "/ok").await, (503, "at_capacity".into()));
    assert!(
        !sleeper.is_finished(),
        "the refusal came while the slot was held"
    );
    assert_eq!(
        sleeper.await.unwrap(),
        (503, "timeout".into()),
        "the sleeper itself times out"
    );
    until_live_instances(&host, 0).await;
    assert_eq!(status(&host, "/ok").await, 200, "the slot is free again");
}
