//! The wasmtime engine: one per host, configured once.
//!
//! - the pooling allocator, sized by [`Limits`], so instantiation per request is a
//!   slot reuse rather than an mmap;
//! - epoch interruption with one ticker thread per engine, so a guest that never
//!   yields can still be timed out;
//! - wasmtime's compilation cache in a directory of ours, so `tenantgate up` compiles
//!   each component once and later runs load the compiled artifact from disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

/// How often the epoch advances. Guests yield to the scheduler at each tick, and a
/// request timeout is checked at this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits applied to every request.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest linear memory one guest instance may grow to (bytes).
    pub max_memory_bytes: usize,
    /// Wall-clock limit for one request, including chained requests it makes.
    pub request_timeout: Duration,
    /// Component instances that may be alive at once across all requests; beyond
    /// this, requests are refused with 503 rather than queued without bound.
    pub max_instances: u32,
    /// Connections per Postgres connection string.
    pub pg_pool_size: usize,
    /// Which released Spin's known defects to reproduce (default: none).
    pub spin_compat: crate::spin_compat::SpinCompat,
    /// Which statements components may send to Postgres (default: what a backend needs).
    pub pg_statements: crate::outbound_pg::StatementFilter,
    /// How pooled Postgres connections are cleaned between requests (default: the host's reset).
    pub pg_reset: crate::outbound_pg::PgReset,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory_bytes: 128 << 20,
            request_timeout: Duration::from_secs(30),
            max_instances: 1000,
            pg_pool_size: crate::outbound_pg::DEFAULT_POOL_SIZE,
            spin_compat: crate::spin_compat::SpinCompat::Latest,
            pg_statements: crate::outbound_pg::StatementFilter::Backend,
            pg_reset: crate::outbound_pg::PgReset::Host,
        }
    }
}

/// An engine plus the ticker thread that advances its epoch.
pub struct HostEngine {
    engine: Engine,
    stop: Arc<AtomicBool>,
    cache_dir: Option<PathBuf>,
}

impl HostEngine {
    /// Builds the engine. `cache_dir` enables the on-disk compilation cache.
    pub fn new(limits: &Limits, cache_dir: Option<&Path>) -> anyhow::Result<HostEngine> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.parallel_compilation(true);

        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(limits.max_instances);
        // A spin-sdk component has one core memory; allow a second for adapters.
        pool.total_memories(limits.max_instances.saturating_mul(2));
        pool.total_tables(limits.max_instances.saturating_mul(4));
        pool.total_core_instances(limits.max_instances.saturating_mul(4));
        pool.total_stacks(limits.max_instances);
        pool.max_memory_size(limits.max_memory_bytes);
        pool.max_memories_per_component(2);
        pool.max_tables_per_component(8);
        pool.max_core_instances_per_component(8);
        // Reset reused slots in place rather than unmapping them: with PAGEMAP_SCAN
        // (Linux 6.7+, used when available) only the pages a guest dirtied are reset,
        // so a reused slot neither page-faults nor flushes TLBs on every request.
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        pool.linear_memory_keep_resident(2 << 20);
        pool.table_keep_resident(64 << 10);
        pool.max_unused_warm_slots(64);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // Reserve only what the cap allows, plus guard pages; with many slots a 4 GiB
        // reservation each would waste address space for nothing.
        config.memory_reservation(limits.max_memory_bytes as u64);
        config.memory_guard_size(64 << 10);
        config.memory_reservation_for_growth(0);

        // `TENANTGATE_PERFMAP=1` writes /tmp/perf-<pid>.map so that `perf` names guest
        // functions (profiling only).
        if std::env::var_os("TENANTGATE_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating compilation cache {}", dir.display()))?;
            let mut cc = CacheConfig::new();
            cc.with_directory(dir);
            config.cache(Some(Cache::new(cc)?));
        }

        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("configuring wasmtime")?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match ticker.upgrade() {
                        Some(e) => e.increment_epoch(),
                        None => break,
                    }
                }
            })
            .context("starting the epoch ticker")?;
        Ok(HostEngine {
            engine,
            stop,
            cache_dir: cache_dir.map(Path::to_path_buf),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Where compiled components are cached, if anywhere.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }
}

impl Drop for HostEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
