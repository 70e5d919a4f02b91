//! A tenant's rows in its placement: which tables hold them, how many there are, their checksums,
//! deleting them, and the lock a move or a purge holds on them.
//!
//! Every table of a placement schema with a `tenant_id` column holds tenant rows; the order of
//! [`tenant_tables`] puts parents before children, so copies go in that order and deletions in the
//! reverse. A checksum is the md5 over the sorted md5s of each row's text: equal on two databases
//! exactly when the rows are (sessions run in UTC, `db::connect`).

use std::collections::BTreeMap;

use tokio_postgres::{Client, GenericClient};
use uuid::Uuid;

use crate::db::ident;
use crate::error::{Error, Result};
use crate::placement::Placement;
use crate::report::Doing as _;
use crate::tenant::Tenant;

/// The tables of `schema` with a `tenant_id` column, parents before children (foreign keys).
pub async fn tenant_tables(client: &Client, schema: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT c.relname, coalesce(array_agg(DISTINCT f.relname) FILTER (WHERE f.relname IS NOT NULL \
                    AND f.relname <> c.relname), '{}') \
               FROM pg_class AS c \
               JOIN pg_namespace AS n ON n.oid = c.relnamespace \
               JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
               LEFT JOIN pg_constraint AS k ON k.conrelid = c.oid AND k.contype = 'f' \
               LEFT JOIN pg_class AS f ON f.oid = k.confrelid AND f.relnamespace = c.relnamespace \
              WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') \
              GROUP BY c.relname ORDER BY c.relname",
            &[&schema],
        )
        .await
        .doing(format_args!("listing tables of {schema}"))?;
    let mut pending: Vec<(String, Vec<String>)> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut ordered: Vec<String> = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut i = 0;
        while i < pending.len() {
            if pending[i].1.iter().all(|p| ordered.contains(p)) {
                ordered.push(pending.remove(i).0);
            } else {
                i += 1;
            }
        }
        if pending.len() == before {
            return Err(Error::Inconsistent(format!(
                "foreign keys in {schema} form a cycle: {pending:?}"
            )));
        }
    }
    Ok(ordered)
}

/// Rows of `tenant` in each of `tables` of its placement.
pub(crate) async fn count_rows(
    client: &Client,
    at: &Placement,
    tables: &[String],
    tenant: Uuid,
) -> Result<BTreeMap<String, i64>> {
    let mut rows = BTreeMap::new();
    for t in tables {
        let n: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.{} WHERE tenant_id = $1",
                    ident(at.search_path()),
                    ident(t)
                ),
                &[&tenant],
            )
            .await
            .doing(format_args!("counting {t} in {at}"))?
            .get(0);
        rows.insert(t.clone(), n);
    }
    Ok(rows)
}

/// Takes the lock a move or a purge holds on a tenant's data for its whole run (a session-level
/// advisory lock, released when the connection closes); refused while another command has it.
pub(crate) async fn lock_data(client: &impl GenericClient, tenant: &Tenant) -> Result<()> {
    let locked: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('tenantgate move'), hashtext($1))",
            &[&tenant.id.to_string()],
        )
        .await
        .doing(format_args!("locking tenant {:?}", tenant.slug))?
        .get(0);
    if !locked {
        return Err(Error::TenantBusy {
            slug: tenant.slug.clone(),
        });
    }
    Ok(())
}

/// (name, type) of each copyable column, in table order.
pub(crate) async fn columns(
    client: &Client,
    schema: &str,
    table: &str,
) -> Result<Vec<(String, String)>> {
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a \
               JOIN pg_class AS c ON c.oid = a.attrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace \
              WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
                AND a.attgenerated = '' ORDER BY a.attnum",
            &[&schema, &table],
        )
        .await
        .doing(format_args!("reading the columns of {schema}.{table}"))?;
    if rows.is_empty() {
        return Err(Error::Inconsistent(format!(
            "table {schema}.{table} does not exist"
        )));
    }
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// (rows, md5 over the sorted md5s of each row's text) of the tenant's rows in one table.
pub(crate) async fn checksum(
    client: &Client,
    schema: &str,
    table: &str,
    tenant: Uuid,
) -> Result<(i64, String)> {
    let cols = columns(client, schema, table).await?;
    let row_expr = cols
        .iter()
        .map(|(c, _)| format!("x.{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let row = client
        .query_one(
            &format!(
                "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') \
                   FROM (SELECT md5(ROW({row_expr})::text) AS h FROM {}.{} AS x WHERE x.tenant_id = $1) AS s",
                ident(schema),
                ident(table)
            ),
            &[&tenant],
        )
        .await
        .doing(format_args!("checksum of {schema}.{table}"))?;
    Ok((row.get(0), row.get(1)))
}

/// Deletes the tenant's rows from `tables` of a placement, children first, in the transaction the
/// caller has open on `client`.
pub(crate) async fn delete_in_transaction(
    client: &Client,
    at: &Placement,
    tables: &[String],
    tenant: Uuid,
) -> Result<()> {
    for t in tables.iter().rev() {
        client
            .execute(
                &format!(
                    "DELETE FROM {}.{} WHERE tenant_id = $1",
                    ident(at.search_path()),
                    ident(t)
                ),
                &[&tenant],
            )
            .await
            .doing(format_args!("deleting {t} in {at}"))?;
    }
    Ok(())
}

/// Deletes the tenant's rows from a placement, children first; with `drop_empty_schema`, drops a tenant
/// schema left empty and says so.
pub(crate) async fn delete_rows(
    client: &Client,
    at: &Placement,
    tables: &[String],
    tenant: Uuid,
    drop_empty_schema: bool,
) -> Result<bool> {
    client
        .batch_execute("BEGIN")
        .await
        .doing("starting a transaction")?;
    let result = async {
        delete_in_transaction(client, at, tables, tenant).await?;
        let mut dropped = false;
        if let (Placement::Schema { schema, .. }, true) = (at, drop_empty_schema) {
            let mut empty = true;
            for t in tables {
                let any: bool = client
                    .query_one(
                        &format!(
                            "SELECT EXISTS (SELECT 1 FROM {}.{})",
                            ident(schema.as_str()),
                            ident(t)
                        ),
                        &[],
                    )
                    .await
                    .doing(format_args!("reading {schema}.{t}"))?
                    .get(0);
                empty &= !any;
            }
            if empty {
                client
                    .batch_execute(&format!("DROP SCHEMA {} CASCADE", ident(schema.as_str())))
                    .await
                    .doing(format_args!("dropping schema {schema}"))?;
                dropped = true;
            }
        }
        Ok::<_, Error>(dropped)
    }
    .await;
    match result {
        Ok(dropped) => {
            client
                .batch_execute("COMMIT")
                .await
                .doing(format_args!("committing the deletion in {at}"))?;
            Ok(dropped)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}
