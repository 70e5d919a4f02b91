//! Putting the data plane's schema into a test cluster, as `migrations/README.md` says.

use crate::postgres::PgCluster;
use crate::workspace_root;

/// Applies one migration file to database `postgres` of `pg`, with `search_path` for
/// tenant-data files (empty for the others).
pub fn apply(pg: &PgCluster, file: &str, search_path: &str) {
    let opts = if search_path.is_empty() {
        String::new()
    } else {
        format!("-c search_path={search_path}")
    };
    pg.apply_file(
        "postgres",
        &workspace_root().join("migrations").join(file),
        &opts,
    )
    .unwrap_or_else(|e| panic!("{file} ({search_path}): {e}"));
}

/// The control plane with the shared placement (`app`) and the given tenant schemas.
pub fn control_plane(pg: &PgCluster, tenant_schemas: &[&str]) {
    apply(pg, "0001_roles_and_keys.sql", "");
    apply(pg, "0002_control_plane.sql", "");
    apply(pg, "0003_tenant_data.sql", "app");
    for s in tenant_schemas {
        apply(pg, "0003_tenant_data.sql", s);
    }
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores the context key `kid` in the database's key table.
pub fn add_context_key(pg: &PgCluster, kid: &str, key: &[u8]) {
    pg.psql(
        "postgres",
        &format!(
            "INSERT INTO tenantgate_private.context_keys (kid, key) VALUES ('{kid}', '\\x{}')",
            hex(key)
        ),
    );
}
