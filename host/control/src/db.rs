//! Connections to the control-plane database and to the named database targets.
//!
//! Every operation here is a platform operation: it connects as a role that owns the schema and bypasses
//! RLS (the migration superuser, `migrations/README.md`), never as the application role.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Context as _};
use tokio_postgres::{Client, NoTls};

/// Where a placement's database is: the control-plane database or a named target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Database {
    /// The control-plane database (also home of the shared placement).
    Control,
    /// A target named in `tenant_placements.database_target`.
    Named(String),
}

impl Database {
    /// `database_target` as stored: NULL for the control-plane database.
    pub fn from_target(target: Option<String>) -> Self {
        match target {
            Some(name) => Database::Named(name),
            None => Database::Control,
        }
    }

    /// The column value for `tenant_placements.database_target`.
    pub fn target(&self) -> Option<&str> {
        match self {
            Database::Control => None,
            Database::Named(n) => Some(n),
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Control => f.write_str("control"),
            Database::Named(n) => f.write_str(n),
        }
    }
}

/// Connection strings: the control-plane database and each named target.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    control: String,
    named: BTreeMap<String, String>,
}

impl Targets {
    /// The control-plane database URL and `name=url` pairs for the named targets.
    pub fn new(control: impl Into<String>, named: &[String]) -> anyhow::Result<Self> {
        let mut map = BTreeMap::new();
        for pair in named {
            let (name, url) = parse_target(pair)?;
            if map.insert(name.clone(), url).is_some() {
                bail!("database target {name:?} is given twice");
            }
        }
        Ok(Targets {
            control: control.into(),
            named: map,
        })
    }

    /// The URL for `db`, or an error naming the missing target.
    pub fn url(&self, db: &Database) -> anyhow::Result<&str> {
        match db {
            Database::Control => Ok(&self.control),
            Database::Named(n) => self.named.get(n).map(String::as_str).with_context(|| {
                format!("database target {n:?} has no connection string (pass --target {n}=postgres://...)")
            }),
        }
    }

    /// Opens a connection to `db`.
    pub async fn connect(&self, db: &Database) -> anyhow::Result<Client> {
        connect(self.url(db)?)
            .await
            .with_context(|| format!("connecting to database {db}"))
    }
}

/// `name=postgres://...`, with the name in the routing table's format.
pub fn parse_target(pair: &str) -> anyhow::Result<(String, String)> {
    let Some((name, url)) = pair.split_once('=') else {
        bail!("a database target is name=postgres://..., got {pair:?}");
    };
    let name = name.trim();
    if !valid_target_name(name) {
        bail!("database target name {name:?} must match ^[a-z0-9][a-z0-9_-]{{0,62}}$");
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("database target {name:?}: {url:?} is not a postgres:// URL");
    }
    Ok((name.to_string(), url.to_string()))
}

/// `^[a-z0-9][a-z0-9_-]{0,62}$`, as `tenant_placements.database_target` requires.
pub fn valid_target_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// `^tenant_[a-z0-9_]{1,56}$`, as `tenant_placements.schema_name` requires.
pub fn valid_schema_name(name: &str) -> bool {
    name.strip_prefix("tenant_").is_some_and(|rest| {
        (1..=56).contains(&rest.len())
            && rest
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    })
}

/// Opens a connection (no TLS: targets are reached over a trusted network or loopback) and drives it on
/// the current runtime. Sessions run in UTC so that row texts (checksums) agree across databases.
pub async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres connection closed: {e}");
        }
    });
    client
        .batch_execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'",
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    Ok(client)
}

/// A Postgres error with its server message, detail and hint when there is one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = db.message().to_string();
            if let Some(d) = db.detail() {
                s.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!(" hint: {h}"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(&format!(": {inner}"));
                src = inner.source();
            }
            s
        }
    }
}

/// A double-quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Copies the control plane's context keys into `target` (every database holds a copy, DESIGN §5; the
/// platform writes them, migrations never do). Keys retired in the control plane are retired there too.
pub async fn sync_context_keys(control: &Client, target: &Client) -> anyhow::Result<usize> {
    let rows = control
        .query(
            "SELECT kid, key, retired_at::text FROM tenantgate_private.context_keys",
            &[],
        )
        .await
        .map_err(|e| anyhow::anyhow!("reading context keys: {}", describe(&e)))?;
    for row in &rows {
        let kid: String = row.get(0);
        let key: Vec<u8> = row.get(1);
        target
            .execute(
                "INSERT INTO tenantgate_private.context_keys (kid, key, retired_at) VALUES ($1, $2, \
                 $3::text::timestamptz) ON CONFLICT (kid) DO UPDATE SET key = EXCLUDED.key, \
                 retired_at = EXCLUDED.retired_at",
                &[&kid, &key, &row.get::<_, Option<String>>(2)],
            )
            .await
            .map_err(|e| anyhow::anyhow!("writing context key {kid:?}: {}", describe(&e)))?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_pairs_are_checked() {
        assert_eq!(
            parse_target("eu-1=postgres://u@127.0.0.1:5/db").unwrap(),
            ("eu-1".into(), "postgres://u@127.0.0.1:5/db".into())
        );
        for bad in [
            "eu-1",
            "EU=postgres://x",
            "=postgres://x",
            "a=mysql://x",
            "-a=postgres://x",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
        let t = Targets::new("postgres://c", &["a=postgres://a".into()]).unwrap();
        assert_eq!(t.url(&Database::Control).unwrap(), "postgres://c");
        assert_eq!(t.url(&Database::Named("a".into())).unwrap(), "postgres://a");
        let e = t.url(&Database::Named("b".into())).unwrap_err().to_string();
        assert!(e.contains("--target b="), "{e}");
        assert!(Targets::new("c", &["a=postgres://1".into(), "a=postgres://2".into()]).is_err());
    }

    #[test]
    fn schema_names_follow_the_routing_table() {
        assert!(valid_schema_name("tenant_acme"));
        assert!(valid_schema_name("tenant_a_b9"));
        for bad in [
            "tenant_",
            "acme",
            "tenant_Acme",
            "tenant_a-b",
            &format!("tenant_{}", "a".repeat(57)),
        ] {
            assert!(!valid_schema_name(bad), "{bad}");
        }
    }
}
