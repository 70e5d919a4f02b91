//! The loaded application: compiled components, their pre-instances and the shared
//! services they reach. [`AppRuntime::dispatch`] runs one request through one
//! component in a fresh instance; the HTTP server and service chaining both use it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::sync::oneshot;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpView};

use crate::allowed_hosts::AllowedHosts;
use crate::engine::{HostEngine, Limits};
use crate::manifest::App;
use crate::outbound_http::OutboundHttp;
use crate::runtime_config::RuntimeConfig;
use crate::services::Services;
use crate::state::HostState;
use crate::variables::ResolvedVariables;

/// Everything needed to load an app.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Path of `spin.toml`.
    pub manifest: PathBuf,
    /// `--runtime-config-file`, if given.
    pub runtime_config: Option<PathBuf>,
    /// Per-request limits.
    pub limits: Limits,
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Environment used for `SPIN_VARIABLE_*` lookups; `None` reads the process environment.
    pub env: Option<BTreeMap<String, String>>,
}

/// A component ready to serve: its pre-instance and resolved configuration.
pub struct LoadedComponent {
    /// The component id from the manifest.
    pub id: String,
    pub(crate) pre: ProxyPre<HostState>,
    pub(crate) variables: HashMap<String, String>,
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) allowed_hosts: AllowedHosts,
    pub(crate) kv_labels: HashSet<String>,
}

/// The running application.
pub struct AppRuntime {
    engine: HostEngine,
    app: App,
    components: HashMap<String, Arc<LoadedComponent>>,
    services: Arc<Services>,
    limits: Limits,
}

/// Why a dispatched request produced no response from the guest.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// No such component in the app.
    #[error("no component `{0}`")]
    NoSuchComponent(String),
    /// Every instance slot is in use.
    #[error("the host is at capacity")]
    AtCapacity,
    /// The request ran past its deadline.
    #[error("the request timed out")]
    Timeout,
    /// The guest trapped or instantiation failed.
    #[error("the component failed: {0:#}")]
    Trap(anyhow::Error),
    /// The guest returned without setting a response.
    #[error("the component returned no response")]
    NoResponse,
    /// The guest answered with a wasi:http error code instead of a response.
    #[error("the component responded with an error: {0:?}")]
    Guest(ErrorCode),
}

impl AppRuntime {
    /// Loads the manifest, resolves variables, opens stores and compiles components.
    pub async fn load(opts: LoadOptions) -> anyhow::Result<Arc<AppRuntime>> {
        let app = App::load(&opts.manifest)?;
        let env = opts.env.clone();
        let vars = ResolvedVariables::resolve(&app.variables, |k| match &env {
            Some(map) => map.get(k).cloned(),
            None => std::env::var(k).ok(),
        })?;
        let runtime_config = match &opts.runtime_config {
            Some(path) => RuntimeConfig::load(path)?,
            None => RuntimeConfig::default(),
        };
        let services = Arc::new(Services::new(&app, &runtime_config, &opts.limits).await?);
        let engine = HostEngine::new(&opts.limits, opts.cache_dir.as_deref())?;
        let linker = build_linker(engine.engine())?;

        let mut components = HashMap::new();
        for (id, spec) in &app.components {
            let mut variables = HashMap::new();
            for (name, tmpl) in &spec.variables {
                let value = vars
                    .render(tmpl)
                    .map_err(|e| anyhow::anyhow!("component `{id}` variable `{name}`: {e}"))?;
                variables.insert(name.clone(), value);
            }
            let allowed_hosts =
                AllowedHosts::parse(&spec.allowed_outbound_hosts, &vars).map_err(|e| {
                    anyhow::anyhow!("component `{id}`: `allowed_outbound_hosts` is malformed: {e}")
                })?;
            let engine_ref = engine.engine().clone();
            let path = spec.source.clone();
            let component = tokio::task::spawn_blocking(move || {
                Component::from_file(&engine_ref, &path)
                    .map_err(anyhow::Error::from)
                    .with_context(|| format!("loading {}", path.display()))
            })
            .await??;
            let pre = linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component `{id}` imports something this host does not provide")
                })?;
            let pre = ProxyPre::new(pre)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component `{id}` does not export wasi:http/incoming-handler")
                })?;
            components.insert(
                id.clone(),
                Arc::new(LoadedComponent {
                    id: id.clone(),
                    pre,
                    variables,
                    environment: spec
                        .environment
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    allowed_hosts,
                    kv_labels: spec.key_value_stores.iter().cloned().collect(),
                }),
            );
        }
        Ok(Arc::new(AppRuntime {
            engine,
            app,
            components,
            services,
            limits: opts.limits,
        }))
    }

    /// The validated manifest.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Per-request limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A loaded component by id.
    pub fn component(&self, id: &str) -> Option<&Arc<LoadedComponent>> {
        self.components.get(id)
    }

    /// The engine (for benchmarks and tests).
    pub fn engine(&self) -> &HostEngine {
        &self.engine
    }

    fn new_store(
        self: &Arc<Self>,
        component: &Arc<LoadedComponent>,
        deadline: Instant,
    ) -> Store<HostState> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout()
            .inherit_stderr()
            .envs(&component.environment)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let state = HostState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound: OutboundHttp::new(self.clone(), component.clone(), deadline),
            component: component.clone(),
            services: self.services.clone(),
        };
        let mut store = Store::new(self.engine.engine(), state);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// Runs `req` through component `id` in a fresh instance. The returned response's
    /// body keeps streaming from the guest until it finishes or `deadline` passes.
    pub async fn dispatch(
        self: &Arc<Self>,
        id: &str,
        req: http::Request<WasiBody>,
        deadline: Instant,
    ) -> Result<http::Response<WasiBody>, DispatchError> {
        let component = self
            .components
            .get(id)
            .ok_or_else(|| DispatchError::NoSuchComponent(id.to_owned()))?
            .clone();
        let mut store = self.new_store(&component, deadline);
        let (tx, rx) = oneshot::channel();
        let mut http = store.data_mut().http();
        let request = http
            .new_incoming_request(Scheme::Http, req)
            .map_err(|e| DispatchError::Trap(e.into()))?;
        let outparam = http
            .new_response_outparam(tx)
            .map_err(|e| DispatchError::Trap(e.into()))?;
        let pre = component.pre.clone();
        let guest = async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await.map_err(|e| {
                    if e.is::<wasmtime::PoolConcurrencyLimitError>() {
                        DispatchError::AtCapacity
                    } else {
                        DispatchError::Trap(e.into())
                    }
                })?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, outparam)
                    .await
                    .map_err(|e| {
                        if Instant::now() >= deadline {
                            DispatchError::Timeout
                        } else {
                            DispatchError::Trap(e.into())
                        }
                    })
            };
            match tokio::time::timeout_at(deadline.into(), run).await {
                Ok(r) => r,
                Err(_) => Err(DispatchError::Timeout),
            }
        };
        // Run the guest on this task until it answers: most guests finish before
        // their response is read, and staying on one task saves a cross-thread
        // hand-off per request. A guest still streaming its body when the response
        // head is ready finishes on a task of its own.
        let mut guest = Box::pin(guest);
        let mut rx = rx;
        let finished = tokio::select! {
            biased;
            answered = &mut rx => {
                // Most guests finish writing their body right after answering: one
                // more poll here often completes them without a task of their own.
                if futures::FutureExt::now_or_never(guest.as_mut()).is_none() {
                    tokio::spawn(guest);
                }
                return match answered {
                    Ok(Ok(resp)) => Ok(resp),
                    Ok(Err(code)) => Err(DispatchError::Guest(code)),
                    Err(_) => Err(DispatchError::NoResponse),
                };
            }
            finished = &mut guest => finished,
        };
        match rx.try_recv() {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => Err(DispatchError::Guest(code)),
            Err(_) => Err(finished.err().unwrap_or(DispatchError::NoResponse)),
        }
    }
}

impl AppRuntime {
    /// Service chaining: runs a request a guest sent to `http://<id>.spin.internal/...`
    /// in component `id` (private routes included), with the headers Spin gives a
    /// chained request: no `Host`, the synthetic route `/...`, `spin-full-url` on
    /// `localhost`, client address `0.0.0.0:0`.
    pub async fn dispatch_chained(
        self: &Arc<Self>,
        id: &str,
        req: http::Request<WasiBody>,
        deadline: Instant,
    ) -> Result<http::Response<WasiBody>, DispatchError> {
        let (mut parts, body) = req.into_parts();
        parts.headers.remove(http::header::HOST);
        let path = parts.uri.path().to_owned();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        crate::server::append_spin_headers(
            &mut parts.headers,
            &crate::server::SpinHeaders {
                path_info: &path,
                full_url: format!("http://localhost{path_and_query}"),
                matched_route: "/...",
                raw_component_route: "/...",
                component_route: "",
                client_addr: "0.0.0.0:0".into(),
                params: &[],
            },
        );
        self.dispatch(id, http::Request::from_parts(parts, body), deadline)
            .await
    }
}

fn build_linker(engine: &wasmtime::Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::variables_host::add_to_linker(&mut linker)?;
    crate::kv::add_to_linker(&mut linker)?;
    crate::pg::add_to_linker(&mut linker)?;
    crate::redis_host::add_to_linker(&mut linker)?;
    Ok(linker)
}
