//! Per-request cost on the host, in process (no sockets): a fresh instance of the
//! `hello` component handling one request, and the same through one service-chaining
//! hop (`relay` -> `hello`), and `relay` alone (its outbound request denied, so it
//! answers without a callee: what the caller's side of a chain costs). Engine,
//! compilation and pre-instantiation happen outside the measured loop.
//!
//! Run: `cargo bench -p tenantgate-tests --bench host`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Empty};
use tenantgate_host::trigger::HttpTrigger;
use tenantgate_tests::host::AppBuilder;

const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/hello"
component = "hello"
[[trigger.http]]
route = "/relay"
component = "relay"
[component.hello]
source = "{hello}"
[component.relay]
source = "{relay}"
allowed_outbound_hosts = ["http://hello.spin.internal"]
[[trigger.http]]
route = "/denied"
component = "denied"
[component.denied]
source = "{relay}"
"#;

fn request() -> http::Request<wasmtime_wasi_http::WasiBody> {
    http::Request::builder()
        .uri("http://bench.localhost/")
        .body(Empty::new().map_err(|never| match never {}).boxed_unsync())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    // The server's runtime is multi-threaded; `TG_BENCH_RUNTIME=current` measures on one
    // thread, which shows what cross-thread hand-offs cost.
    let rt = match std::env::var("TG_BENCH_RUNTIME").as_deref() {
        Ok("current") => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()
    .unwrap();
    let app = HttpTrigger::new(
        rt.block_on(AppBuilder::new(APP).load())
            .expect("bench app loads"),
    );
    let mut group = c.benchmark_group("host");
    for (id, component) in [
        ("hello/dispatch", "hello"),
        ("chain/dispatch", "relay"),
        ("relay-alone/dispatch", "denied"),
    ] {
        group.bench_function(id, |b| {
            b.to_async(&rt).iter(|| async {
                let deadline = Instant::now() + Duration::from_secs(10);
                let resp = app.dispatch(component, request(), deadline).await.unwrap();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                if component != "denied" {
                    assert_eq!(&body[..], b"hello");
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
