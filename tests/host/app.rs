//! The project's own spin.toml loads on the host and serves.

use tenantgate_host::runtime::{AppRuntime, LoadOptions};
use tenantgate_host::server::Server;
use tenantgate_tests::fixtures::build_wasm;
use tenantgate_tests::host::client;
use tenantgate_tests::workspace_root;

#[tokio::test]
async fn the_project_manifest_serves_its_root() {
    build_wasm(&["welcome"]);
    let rt = AppRuntime::load(LoadOptions {
        manifest: workspace_root().join("spin.toml"),
        env: Some(Default::default()),
        ..Default::default()
    })
    .await
    .expect("spin.toml loads");
    let server = Server::bind(rt, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let r = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("tenantgate is running"));
    assert_eq!(
        client()
            .get(format!("{base}/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}
