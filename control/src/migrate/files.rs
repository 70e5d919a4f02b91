//! The migration files: `NNNN_name.sql` in one directory, each with a `-- tenantgate:scope` line
//! saying where it applies, read in version order with the sha256 that later runs compare against.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::report::Doing as _;

/// Where a file applies (its `-- tenantgate:scope` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every database: the control plane and each named target.
    Database,
    /// The control-plane database only.
    Control,
    /// Every tenant-data schema.
    Tenant,
}

impl Scope {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "database" => Some(Scope::Database),
            "control" => Some(Scope::Control),
            "tenant" => Some(Scope::Tenant),
            _ => None,
        }
    }
}

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    /// `NNNN`.
    pub version: String,
    /// The file name.
    pub name: String,
    /// Where it applies.
    pub scope: Scope,
    /// The SQL text.
    pub sql: String,
    /// sha256 of the file, lower-case hex.
    pub checksum: String,
}

/// Reads `NNNN_name.sql` files from `dir`, in version order.
pub fn load(dir: &Path) -> Result<Vec<Migration>> {
    let reading = || format!("reading migrations from {}", dir.display());
    let invalid = |why: String| Err(Error::InvalidMigrations(why));
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).doing(reading())?;
    for entry in entries {
        let path = entry.doing(reading())?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !name.ends_with(".sql") {
            continue;
        }
        let version = name.get(..4).unwrap_or_default();
        if !(version.len() == 4
            && version.bytes().all(|b| b.is_ascii_digit())
            && name.as_bytes().get(4) == Some(&b'_'))
        {
            return invalid(format!("{name}: migration files are named NNNN_name.sql"));
        }
        let sql =
            std::fs::read_to_string(&path).doing(format_args!("reading {}", path.display()))?;
        let Some(scope) = sql
            .lines()
            .find_map(|l| l.trim().strip_prefix("-- tenantgate:scope "))
        else {
            return invalid(format!(
                "{name}: no `-- tenantgate:scope <database|control|tenant>` line"
            ));
        };
        let Some(scope) = Scope::parse(scope.trim()) else {
            return invalid(format!("{name}: unknown scope {:?}", scope.trim()));
        };
        let checksum = hex(&Sha256::digest(sql.as_bytes()));
        out.push(Migration {
            version: version.to_string(),
            name,
            scope,
            sql,
            checksum,
        });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    for pair in out.windows(2) {
        if pair[0].version == pair[1].version {
            return invalid(format!(
                "{} and {} share version {}",
                pair[0].name, pair[1].name, pair[0].version
            ));
        }
    }
    if out.is_empty() {
        return invalid(format!("no migrations in {}", dir.display()));
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_migrations_load_with_their_scopes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let m = load(&dir).unwrap();
        assert_eq!(m[0].version, "0001");
        assert_eq!(m[0].scope, Scope::Database);
        assert!(m.iter().any(|m| m.scope == Scope::Control));
        assert!(m.iter().any(|m| m.scope == Scope::Tenant));
        assert!(m.iter().all(|m| m.checksum.len() == 64));
    }

    #[test]
    fn badly_named_or_unscoped_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("tg-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("01_x.sql"), "-- tenantgate:scope control\n").unwrap();
        assert!(load(&dir)
            .unwrap_err()
            .to_string()
            .contains("NNNN_name.sql"));
        std::fs::remove_file(dir.join("01_x.sql")).unwrap();
        std::fs::write(dir.join("0001_x.sql"), "SELECT 1;\n").unwrap();
        assert!(load(&dir)
            .unwrap_err()
            .to_string()
            .contains("tenantgate:scope"));
        std::fs::write(dir.join("0001_x.sql"), "-- tenantgate:scope galaxy\n").unwrap();
        assert!(load(&dir).unwrap_err().to_string().contains("galaxy"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
