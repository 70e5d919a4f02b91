//! The connection every control-plane command takes: the control-plane database as the
//! migration superuser (`--database-url` or `DATABASE_URL`), the named database targets
//! (`--target name=url` or `TENANTGATE_TARGETS`) and the migrations directory.

use std::path::PathBuf;

use clap::Args;

use crate::{migrate, Targets};

#[derive(Args)]
pub struct Conn {
    /// Control-plane database, as a superuser (platform operations bypass RLS).
    #[arg(long = "database-url", env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// A named database target, `name=postgres://...` (repeatable); comma-separated in the variable.
    #[arg(
        long = "target",
        env = "TENANTGATE_TARGETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    targets: Vec<String>,
    /// The migrations directory.
    #[arg(long, default_value = "migrations")]
    migrations: PathBuf,
}

impl Conn {
    pub fn targets(&self) -> anyhow::Result<Targets> {
        Ok(Targets::new(&self.database_url, &self.targets)?)
    }

    pub(super) fn migrations(&self) -> anyhow::Result<Vec<migrate::Migration>> {
        Ok(migrate::load(&self.migrations)?)
    }
}
