//! The host, run in-process on a free loopback port.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tenantgate_host::engine::Limits;
use tenantgate_host::runtime::{AppRuntime, LoadOptions};
pub use tenantgate_host::spin_compat::SpinCompat;
use tenantgate_host::trigger::server::{Server, ServerOptions};
use tokio::sync::oneshot;

/// A running host serving one app.
pub struct TestHost {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The runtime (for direct inspection).
    pub rt: Arc<AppRuntime>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

/// Builder for a test app.
pub struct AppBuilder {
    manifest: String,
    runtime_config: Option<String>,
    env: BTreeMap<String, String>,
    limits: Limits,
    spin_compat: SpinCompat,
    server: ServerOptions,
    cache_dir: Option<PathBuf>,
    dir: Option<PathBuf>,
    port: u16,
}

impl AppBuilder {
    /// Serves on this loopback port instead of a free one (a browser test must know the port
    /// before the app starts, to register redirect URIs).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// An app from manifest text. `{probe}`, `{hello}`, `{rogue}` are replaced by fixture paths.
    pub fn new(manifest: &str) -> AppBuilder {
        let mut m = manifest.to_owned();
        for name in crate::fixtures::all_fixture_names() {
            let key = format!("{{{name}}}");
            if m.contains(&key) {
                m = m.replace(&key, &crate::fixtures::fixture(&name).display().to_string());
            }
        }
        AppBuilder {
            manifest: m,
            runtime_config: None,
            env: BTreeMap::new(),
            limits: Limits::default(),
            spin_compat: SpinCompat::V4_0,
            // Idle connections are kept long enough that no test's pooled client meets
            // a server closing one as it sends; the edge tests set their own timeouts.
            server: ServerOptions {
                header_read_timeout: std::time::Duration::from_secs(120),
                keep_alive_timeout: std::time::Duration::from_secs(120),
                ..ServerOptions::default()
            },
            // Shared across tests and runs: each component compiles once.
            cache_dir: Some(crate::fixtures::target_dir().join("tenantgate-test-cache")),
            dir: None,
            port: 0,
        }
    }

    /// Adds runtime-config.toml text.
    pub fn runtime_config(mut self, text: &str) -> Self {
        self.runtime_config = Some(text.to_owned());
        self
    }

    /// Sets an environment variable seen by variable resolution.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.to_owned(), v.to_owned());
        self
    }

    /// Replaces the limits.
    pub fn limits(mut self, l: Limits) -> Self {
        self.limits = l;
        self
    }

    /// Which statements components may send to Postgres (the host's default: backend
    /// statements only). The host's own Postgres capability tests send DDL and session
    /// statements, as Spin lets them: they turn the filter off.
    pub fn pg_statements(mut self, filter: tenantgate_host::outbound_pg::StatementFilter) -> Self {
        self.limits.pg_statements = filter;
        self
    }

    /// How pooled Postgres connections are cleaned between requests (the host's reset, or
    /// Spin's recycling, which rolls nothing back).
    pub fn pg_reset(mut self, reset: tenantgate_host::outbound_pg::PgReset) -> Self {
        self.limits.pg_reset = reset;
        self
    }

    /// Which Spin's known defects the host reproduces. The test suite runs with Spin 4.0's
    /// (a Postgres query with no row is refused, Spin #3671), so any component that would
    /// hang on Spin 4.0.0-4.0.2 fails its tests; only tests of the host's own Postgres
    /// capability on later Spins turn it off.
    pub fn spin_compat(mut self, compat: SpinCompat) -> Self {
        self.spin_compat = compat;
        self
    }

    /// Replaces the server's connection and head limits.
    pub fn server_options(mut self, o: ServerOptions) -> Self {
        self.server = o;
        self
    }

    /// Uses the compilation cache in `dir` (default: one shared by all tests).
    pub fn cache_dir(mut self, dir: &Path) -> Self {
        self.cache_dir = Some(dir.to_owned());
        self
    }

    /// Writes the app into `dir` instead of a fresh temporary directory.
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    fn options(&self, dir: &Path) -> LoadOptions {
        let manifest = dir.join("spin.toml");
        std::fs::write(&manifest, &self.manifest).expect("write spin.toml");
        let runtime_config = self.runtime_config.as_ref().map(|rc| {
            let p = dir.join("runtime-config.toml");
            std::fs::write(&p, rc).expect("write runtime config");
            p
        });
        LoadOptions {
            manifest,
            runtime_config,
            limits: Limits {
                spin_compat: self.spin_compat,
                ..self.limits.clone()
            },
            cache_dir: self.cache_dir.clone(),
            env: Some(self.env.clone()),
        }
    }

    /// Loads the app without serving it.
    pub async fn load(self) -> anyhow::Result<Arc<AppRuntime>> {
        let tmp = tempfile::tempdir()?;
        let dir = self.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
        AppRuntime::load(self.options(&dir)).await
    }

    /// Loads and serves the app on a free loopback port.
    pub async fn start(self) -> TestHost {
        let (dir, tmp) = match &self.dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::tempdir().expect("tempdir");
                (t.path().to_owned(), Some(t))
            }
        };
        let rt = AppRuntime::load(self.options(&dir))
            .await
            .expect("app loads");
        let server = Server::bind(
            rt.clone(),
            std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
            self.server.clone(),
        )
        .await
        .expect("bind");
        let base = format!("http://{}", server.local_addr());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        TestHost {
            base,
            rt,
            stop: Some(tx),
            task: Some(task),
            _dir: tmp,
        }
    }
}

impl TestHost {
    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops serving and waits for requests in flight.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A reqwest client that never uses a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
}

/// The values of header `name` in a probe's `/info` report, in order.
pub fn header_values<'a>(info: &'a serde_json::Value, name: &str) -> Vec<&'a str> {
    info["headers"]
        .as_array()
        .expect("an /info report")
        .iter()
        .filter(|h| h[0] == name)
        .filter_map(|h| h[1].as_str())
        .collect()
}
