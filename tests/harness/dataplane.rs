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

/// The project's migration files of one `-- tenantgate:scope`, in order.
pub fn files_of_scope(scope: &str) -> Vec<String> {
    let dir = workspace_root().join("migrations");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .filter(|name| {
            std::fs::read_to_string(dir.join(name))
                .unwrap()
                .lines()
                .any(|l| l.trim() == format!("-- tenantgate:scope {scope}"))
        })
        .collect();
    files.sort();
    files
}

/// The control plane with the shared placement (`app`) and the given tenant schemas: every
/// `database` and `control` file, then the `tenant` files in each schema.
pub fn control_plane(pg: &PgCluster, tenant_schemas: &[&str]) {
    for file in files_of_scope("database")
        .into_iter()
        .chain(files_of_scope("control"))
    {
        apply(pg, &file, "");
    }
    for schema in std::iter::once(&"app").chain(tenant_schemas) {
        for file in files_of_scope("tenant") {
            apply(pg, &file, schema);
        }
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

/// `v2~<kid>~<payload>~<sig>` with `payload` taken as is (even if it is not eleven valid
/// fields) and a valid HMAC-SHA256 signature under `key`, by the contract's signer (which
/// checks neither kid nor key here: attack tests need tokens the database must refuse).
pub fn sign_payload(kid: &str, key: &[u8], payload: &str) -> String {
    tenant_contract::context::sign_unchecked(kid, key, payload)
}

/// A context token for `claims` (any JSON in the contract's claims shape, so tests can send
/// claims the contract's type would not build: each claim is written as given), signed as
/// the gateway signs it.
pub fn sign_context(kid: &str, key: &[u8], claims: &serde_json::Value) -> String {
    sign_payload(
        kid,
        key,
        &tenant_contract::context::payload_from_json(claims),
    )
}

/// Unix time in seconds, for `exp` claims.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}
