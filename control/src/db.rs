//! Connections to the control-plane database and to the named database targets.
//!
//! Every operation here is a platform operation: it connects as a role that owns the schema and bypasses
//! RLS (the migration superuser, `migrations/README.md`), never as the application role.

use std::collections::BTreeMap;
use std::fmt;

use tokio_postgres::{Client, NoTls};

use crate::contract::valid_target_name;
use crate::error::{Error, Result};
use crate::report::Doing as _;

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
    pub fn new(control: impl Into<String>, named: &[String]) -> Result<Self> {
        let mut map = BTreeMap::new();
        for pair in named {
            let (name, url) = parse_target(pair)?;
            if map.insert(name.clone(), url).is_some() {
                return Err(Error::InvalidTarget(format!(
                    "database target {name:?} is given twice"
                )));
            }
        }
        Ok(Targets {
            control: control.into(),
            named: map,
        })
    }

    /// The URL for `db`, or an error naming the missing target.
    pub fn url(&self, db: &Database) -> Result<&str> {
        match db {
            Database::Control => Ok(&self.control),
            Database::Named(n) => self
                .named
                .get(n)
                .map(String::as_str)
                .ok_or_else(|| Error::UnknownTarget(n.clone())),
        }
    }

    /// Opens a connection to `db` (see [`connect`]).
    pub async fn connect(&self, db: &Database) -> Result<Client> {
        connect(self.url(db)?)
            .await
            .map_err(|source| Error::Connect {
                database: db.to_string(),
                source,
            })
    }
}

/// `name=postgres://...`, with the name in the routing table's format.
pub fn parse_target(pair: &str) -> Result<(String, String)> {
    let invalid = |why: String| Err(Error::InvalidTarget(why));
    let Some((name, url)) = pair.split_once('=') else {
        return invalid(format!(
            "a database target is name=postgres://..., got {pair:?}"
        ));
    };
    let name = name.trim();
    if !valid_target_name(name) {
        return invalid(format!(
            "database target name {name:?} must match ^[a-z0-9][a-z0-9_-]{{0,62}}$"
        ));
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return invalid(format!(
            "database target {name:?}: {url:?} is not a postgres:// URL"
        ));
    }
    Ok((name.to_string(), url.to_string()))
}

/// Opens a connection (no TLS: targets are reached over a trusted network or loopback) and drives it on
/// the current runtime. Sessions run in UTC so that row texts (checksums) agree across databases.
pub async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("postgres connection closed: {e}");
        }
    });
    client
        .batch_execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'",
        )
        .await?;
    Ok(client)
}

/// A double-quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Copies the control plane's context keys into `target` (every database holds a copy, docs/architecture.md §5; the
/// platform writes them, migrations never do). Keys retired in the control plane are retired there too.
pub async fn sync_context_keys(control: &Client, target: &Client) -> Result<usize> {
    let rows = control
        .query(
            "SELECT kid, key, retired_at::text FROM tenantgate_private.context_keys",
            &[],
        )
        .await
        .doing("reading context keys")?;
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
            .doing(format_args!("writing context key {kid:?}"))?;
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
}
