//! Services shared by all requests and all components, opened once at start-up:
//! key-value stores, Postgres pools, Redis clients. Each component reaches them only
//! through its own [`Capabilities`](crate::state::Capabilities).

use std::sync::Arc;

use crate::key_value::{self, Stores};
use crate::manifest::App;
use crate::outbound_pg::PgPools;
use crate::outbound_redis::RedisClients;
use crate::runtime_config::RuntimeConfig;

/// Shared services.
pub struct Services {
    /// Key-value stores by label (only the labels some component uses).
    pub kv: Stores,
    /// Postgres connection pools, one per connection string.
    pub pg: Arc<PgPools>,
    /// Redis clients, one per address.
    pub redis: Arc<RedisClients>,
}

impl Services {
    /// Opens every key-value store a component names ([`key_value::open_stores`]) and
    /// prepares empty Postgres pools of `limits.pg_pool_size` connections each, with
    /// `limits.spin_compat`'s Postgres defects reproduced.
    pub fn new(
        app: &App,
        rc: &RuntimeConfig,
        limits: &crate::engine::Limits,
    ) -> anyhow::Result<Services> {
        Ok(Services {
            kv: key_value::open_stores(app, rc)?,
            pg: Arc::new(
                PgPools::new(limits.pg_pool_size)
                    .with_spin_compat(limits.spin_compat)
                    .with_statement_filter(limits.pg_statements)
                    .with_reset(limits.pg_reset),
            ),
            redis: Arc::new(RedisClients::default()),
        })
    }
}
