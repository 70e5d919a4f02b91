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

#[tokio::test]
async fn traps_runaway_loops_sleepers_and_hoarders_fail_alone() {
    let host = start(tight()).await;
    assert_eq!(status(&host, "/ok").await, 200, "control");
    assert_eq!(status(&host, "/trap").await, 500);
    assert_eq!(
        status(&host, "/ok").await,
        200,
        "a trap does not take the host down"
    );
    assert_eq!(
        status(&host, "/loop").await,
        503,
        "a CPU loop is interrupted at the deadline"
    );
    assert_eq!(status(&host, "/ok").await, 200);
    assert_eq!(
        status(&host, "/sleep").await,
        503,
        "a guest blocked past the deadline"
    );
    assert_eq!(
        status(&host, "/oom").await,
        500,
        "memory growth stops at the cap"
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
    assert_eq!(big.status(), 500);
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
    let url = host.url("/sleep");
    let sleeper = tokio::spawn(async move { client().get(url).send().await.unwrap().status() });
    // Wait until the sleeper holds the only slot.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&host, "/ok").await, 503);
    assert!(
        !sleeper.is_finished(),
        "the refusal came while the slot was held"
    );
    assert_eq!(sleeper.await.unwrap(), 503, "the sleeper itself times out");
    assert_eq!(status(&host, "/ok").await, 200, "the slot is free again");
}
