//! The loaded application: compiled components, their pre-instances and what each
//! may reach. [`AppRuntime::dispatch`] runs one request through one component in a
//! fresh instance; the HTTP trigger calls it for requests from outside and for
//! service chaining (it passes itself as the [`ServiceChain`]), so this module knows
//! nothing of HTTP routing or of the `spin-*` headers.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::sync::oneshot;
use wasmtime::component::Component;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiBody, WasiHttpView};

use crate::allowed_hosts::AllowedHosts;
use crate::engine::{HostEngine, Limits};
use crate::key_value::KeyValue;
use crate::manifest::App;
use crate::outbound_http::{OutboundHttp, ServiceChain};
use crate::outbound_pg::OutboundPg;
use crate::outbound_redis::OutboundRedis;
use crate::runtime_config::RuntimeConfig;
use crate::services::Services;
use crate::state::{Capabilities, HostState, LiveInstance};
use crate::variables::{ResolvedVariables, Variables};

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
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) allowed_hosts: Arc<AllowedHosts>,
    pub(crate) caps: Arc<Capabilities>,
}

/// The running application.
pub struct AppRuntime {
    engine: HostEngine,
    app: App,
    components: HashMap<String, Arc<LoadedComponent>>,
    limits: Limits,
    live_instances: Arc<AtomicUsize>,
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
    /// The guest trapped after its linear memory reached the cap
    /// ([`Limits::max_memory_bytes`]): it asked for more and was refused.
    #[error("the component ran out of memory: {0:#}")]
    MemoryLimit(anyhow::Error),
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
        let services = Services::new(&app, &runtime_config, &opts.limits)?;
        let engine = HostEngine::new(&opts.limits, opts.cache_dir.as_deref())?;
        let linker = crate::state::linker(engine.engine())?;

        let component_ids: Vec<String> = app.components.keys().cloned().collect();
        let mut components = HashMap::new();
        for (id, spec) in &app.components {
            let mut variables = HashMap::new();
            for (name, tmpl) in &spec.variables {
                let value = vars
                    .render(tmpl)
                    .map_err(|e| anyhow::anyhow!("component `{id}` variable `{name}`: {e}"))?;
                variables.insert(name.clone(), value);
            }
            let allowed_hosts = Arc::new(
                AllowedHosts::parse(&spec.allowed_outbound_hosts, &vars, &component_ids).map_err(
                    |e| {
                        anyhow::anyhow!(
                            "component `{id}`: `allowed_outbound_hosts` is malformed: {e}"
                        )
                    },
                )?,
            );
            if let Some(ghost) = allowed_hosts
                .unknown_chaining_targets(&component_ids)
                .first()
            {
                anyhow::bail!(
                    "component `{id}`: `allowed_outbound_hosts` allows chaining to `{ghost}.spin.internal`, \
                     but the app has no component `{ghost}` (Spin would trap the caller's request)"
                );
            }
            let caps = Arc::new(Capabilities {
                key_value: KeyValue::new(&spec.key_value_stores, &services.kv),
                postgres: OutboundPg::new(id, allowed_hosts.clone(), services.pg.clone()),
                redis: OutboundRedis::new(id, allowed_hosts.clone(), services.redis.clone()),
                variables: Variables::new(id, variables),
            });
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
                    environment: spec
                        .environment
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    allowed_hosts,
                    caps,
                }),
            );
        }
        Ok(Arc::new(AppRuntime {
            engine,
            app,
            components,
            limits: opts.limits,
            live_instances: Arc::new(AtomicUsize::new(0)),
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

    /// Guest instances alive now: pool slots held by requests in flight (a response
    /// body still streaming from its guest holds its slot).
    pub fn live_instances(&self) -> usize {
        self.live_instances.load(Ordering::SeqCst)
    }

    fn new_store(
        &self,
        component: &Arc<LoadedComponent>,
        chain: Arc<dyn ServiceChain>,
        deadline: Instant,
    ) -> Store<HostState> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout()
            .inherit_stderr()
            .envs(&component.environment)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let outbound = OutboundHttp::new(
            &component.id,
            component.allowed_hosts.clone(),
            chain,
            deadline,
        );
        let state = HostState::new(
            wasi.build(),
            component.caps.clone(),
            outbound,
            self.limits.max_memory_bytes,
        );
        let mut store = Store::new(self.engine.engine(), state);
        store.limiter(|s| &mut s.limiter);
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

    /// Runs `req` through component `id` in a fresh instance; the guest's requests to
    /// `*.spin.internal` go to `chain`. The returned response's body keeps streaming
    /// from the guest until it finishes or `deadline` passes.
    pub async fn dispatch(
        &self,
        id: &str,
        req: http::Request<WasiBody>,
        deadline: Instant,
        chain: Arc<dyn ServiceChain>,
    ) -> Result<http::Response<WasiBody>, DispatchError> {
        let component = self
            .components
            .get(id)
            .ok_or_else(|| DispatchError::NoSuchComponent(id.to_owned()))?
            .clone();
        let mut store = self.new_store(&component, chain, deadline);
        let live = self.live_instances.clone();
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
                store.data_mut().instance = Some(LiveInstance::new(live));
                let called = proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, outparam)
                    .await;
                called.map_err(|e| {
                    if Instant::now() >= deadline {
                        DispatchError::Timeout
                    } else if store.data().limiter.exhausted() {
                        DispatchError::MemoryLimit(e.into())
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
