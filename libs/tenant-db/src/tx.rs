//! One transaction per unit of work, with the tenant bound.

use spin_sdk::pg4::{Connection, ParameterValue, RowSet};

use crate::context::{TenantContext, CONTEXT_HEADER};
use crate::placement::{Databases, Target};
use crate::DbError;

/// Whether a unit of work may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `BEGIN READ ONLY`: Postgres itself refuses writes.
    Read,
    /// A read-write transaction; refused while the tenant moves between placements.
    Write,
    /// `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`: read-only, and every statement sees
    /// the same snapshot (an export read in several statements is consistent).
    Snapshot,
}

/// A backend's handle on its tenant's database: the request's context and where its
/// data lives. The only way to a [`Tx`].
#[derive(Debug, Clone)]
pub struct TenantDb {
    context: TenantContext,
    target: Target,
    /// The control-plane database rather than the tenant's placement.
    control: bool,
}

impl TenantDb {
    /// Builds the handle from the request's `x-tenant-context` header and the
    /// configuration. The gateway sends exactly one (spin-sdk's `Request` keeps one
    /// value per header name, so a duplicate cannot be told apart here).
    pub fn from_request(
        req: &spin_sdk::http::Request,
        dbs: &Databases,
    ) -> Result<TenantDb, DbError> {
        let value = match req.header(CONTEXT_HEADER) {
            Some(v) => Some(v.as_str().ok_or(DbError::BadContext)?),
            None => None,
        };
        TenantDb::new(TenantContext::parse(value)?, dbs)
    }

    /// Builds the handle from a parsed context.
    pub fn new(context: TenantContext, dbs: &Databases) -> Result<TenantDb, DbError> {
        let target = dbs.target(context.claims())?;
        Ok(TenantDb {
            context,
            target,
            control: false,
        })
    }

    /// Builds a handle on the **control-plane** database (schema `tenantgate`: members, roles,
    /// invitations, audit) for the request's context, whatever the tenant's placement: the
    /// same transaction discipline, the context bound and verified, `search_path` =
    /// [`crate::placement::CONTROL_SEARCH_PATH`] (statements name `tenantgate.*`). Writes are
    /// not refused while the tenant's data moves between placements (the control plane does
    /// not move). Fails like [`TenantDb::from_request`] on a missing or malformed context.
    pub fn control_plane(
        req: &spin_sdk::http::Request,
        dbs: &Databases,
    ) -> Result<TenantDb, DbError> {
        let value = match req.header(CONTEXT_HEADER) {
            Some(v) => Some(v.as_str().ok_or(DbError::BadContext)?),
            None => None,
        };
        Ok(TenantDb::control_plane_for(
            TenantContext::parse(value)?,
            dbs,
        ))
    }

    /// [`TenantDb::control_plane`] from a parsed context.
    pub fn control_plane_for(context: TenantContext, dbs: &Databases) -> TenantDb {
        TenantDb {
            context,
            target: dbs.control_plane(),
            control: true,
        }
    }

    /// The request's context.
    pub fn context(&self) -> &TenantContext {
        &self.context
    }

    /// Where this tenant's statements run.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Runs `work` in a read-only transaction bound to the tenant.
    pub fn read<T, E: From<DbError>>(
        &self,
        work: impl FnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(Access::Read, work)
    }

    /// Runs `work` in a read-only transaction whose statements all see one snapshot
    /// ([`Access::Snapshot`]).
    pub fn snapshot<T, E: From<DbError>>(
        &self,
        work: impl FnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(Access::Snapshot, work)
    }

    /// Runs `work` in a read-write transaction bound to the tenant. Refused with
    /// [`DbError::ReadOnly`] while the tenant is being moved.
    pub fn write<T, E: From<DbError>>(
        &self,
        work: impl FnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(Access::Write, work)
    }

    /// Opens the connection and runs `work` between `BEGIN` and `COMMIT`; any error from
    /// `work` or from `COMMIT` rolls back.
    pub fn run<T, E: From<DbError>>(
        &self,
        access: Access,
        work: impl FnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        if access == Access::Write && self.context.claims().ro && !self.control {
            return Err(DbError::ReadOnly.into());
        }
        let conn = Connection::open(&self.target.address).map_err(DbError::from)?;
        let tx = Tx { conn: &conn };
        tx.begin(
            access,
            &self.target.schema,
            self.context.token(),
            &self.context.claims().tid,
        )?;
        match work(&tx) {
            Ok(value) => match tx.execute("COMMIT", &[]) {
                Ok(_) => Ok(value),
                Err(e) => {
                    tx.rollback();
                    Err(e.into())
                }
            },
            Err(e) => {
                tx.rollback();
                Err(e)
            }
        }
    }
}

/// An open transaction with the tenant's context bound and its schema alone on the
/// `search_path`. Statements go through [`Tx::query`] and [`Tx::execute`].
pub struct Tx<'c> {
    conn: &'c Connection,
}

impl Tx<'_> {
    fn begin(
        &self,
        access: Access,
        schema: &str,
        token: &str,
        expected_tid: &str,
    ) -> Result<(), DbError> {
        // A pooled connection may come back inside a transaction someone dropped.
        self.conn.execute("ROLLBACK", &[]).map_err(DbError::from)?;
        // The access mode is always named: a session-level `default_transaction_read_only`
        // left on a pooled connection (Spin's pool resets nothing) cannot turn a write into a
        // read-only transaction.
        self.execute(
            match access {
                Access::Read => "BEGIN READ ONLY",
                Access::Write => "BEGIN READ WRITE",
                Access::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            },
            &[],
        )?;
        // One round trip binds the schema and the context and has Postgres verify the
        // context (signature, expiry, key) at once. `OFFSET 0` keeps the inner SELECT a
        // separate step, so both settings are in place before the outer one reads them.
        // Both are transaction-local, so they override whatever session-level value an
        // earlier request left on the connection. `pg_advisory_unlock_all()` releases the
        // session-level advisory locks an earlier request may have left there (this request
        // has taken none yet). The statement always returns exactly one row (no WHERE over a
        // one-row sub-query), so it needs no one-row envelope (Spin #3671) and skips its
        // planning cost.
        let bound = self
            .conn
            .query(
                "SELECT tenantgate.current_tenant_id()::text AS tid FROM \
                 (SELECT set_config('search_path', $1, true), \
                         set_config('tenantgate.context', $2, true), \
                         pg_advisory_unlock_all() OFFSET 0) AS bind",
                &[
                    ParameterValue::Str(schema.to_owned()),
                    ParameterValue::Str(token.to_owned()),
                ],
            )
            .map_err(DbError::from)
            .and_then(|rows| {
                let verified = rows.rows().next().and_then(|r| r.get::<String>("tid"));
                if verified.is_some_and(|tid| tid.eq_ignore_ascii_case(expected_tid)) {
                    Ok(())
                } else {
                    Err(DbError::ContextRejected)
                }
            });
        if bound.is_err() {
            self.rollback();
        }
        bound
    }

    fn rollback(&self) {
        // Best effort: if even this fails, the host discards the connection rather than
        // pool it inside a transaction.
        let _ = self.conn.execute("ROLLBACK", &[]);
    }

    /// Runs a statement that returns rows (`SELECT`, `VALUES`, `WITH …`, or a data change
    /// with `RETURNING`) and returns them, none when nothing matched. The statement goes to
    /// Postgres in the one-row [`crate::envelope`], so it gets an answer on Spin 4.0.0–4.0.2
    /// too (Spin #3671); statements that return no rows belong in [`Tx::execute`].
    ///
    /// A text parameter holding a NUL character is [`DbError::NulInText`] (a 400), never
    /// sent: Postgres takes no NUL in text. The components refuse one where they parse it,
    /// naming the field (`backend-api`); this is the backstop for any path that does not.
    pub fn query(&self, sql: &str, params: &[ParameterValue]) -> Result<RowSet, DbError> {
        refuse_nul(params)?;
        crate::envelope::query(self.conn, sql, params)
    }

    /// Runs a statement and returns the number of rows it affected ([`DbError::NulInText`]
    /// as [`Tx::query`]).
    pub fn execute(&self, sql: &str, params: &[ParameterValue]) -> Result<u64, DbError> {
        refuse_nul(params)?;
        self.conn.execute(sql, params).map_err(DbError::from)
    }
}

/// [`DbError::NulInText`] when a text parameter holds a NUL: a `Str`, `Uuid` or `Decimal`
/// containing `\0`, an `ArrayStr` element containing one, a `Jsonb` document spelling one
/// (`\u0000`, which jsonb refuses) or holding a raw NUL byte.
pub fn refuse_nul(params: &[ParameterValue]) -> Result<(), DbError> {
    let nul = params.iter().any(|p| match p {
        ParameterValue::Str(s) | ParameterValue::Uuid(s) | ParameterValue::Decimal(s) => {
            s.contains('\0')
        }
        ParameterValue::ArrayStr(items) | ParameterValue::ArrayDecimal(items) => items
            .iter()
            .any(|s| s.as_deref().is_some_and(|s| s.contains('\0'))),
        ParameterValue::Jsonb(bytes) => json_has_nul(bytes),
        _ => false,
    });
    if nul {
        Err(DbError::NulInText)
    } else {
        Ok(())
    }
}

/// Whether JSON text holds a NUL: a raw 0 byte, or the escape `\u0000` (an escaped
/// backslash followed by `u0000` is not one). Linear.
fn json_has_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0 => return true,
            b'\\' => {
                if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000") {
                    return true;
                }
                // Skip the escaped character (`\\`, `\"`, `\u`...).
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod nul_tests {
    use super::*;

    #[test]
    fn text_parameters_holding_a_nul_are_refused_before_postgres() {
        let refused = |p: ParameterValue| matches!(refuse_nul(&[p]), Err(DbError::NulInText));
        assert!(refused(ParameterValue::Str("globex\0".into())));
        assert!(refused(ParameterValue::ArrayStr(vec![
            Some("a".into()),
            None,
            Some("b\0".into())
        ])));
        assert!(refused(ParameterValue::Jsonb(
            br#"{"a":"x\u0000"}"#.to_vec()
        )));
        assert!(refused(ParameterValue::Jsonb(b"\"\0\"".to_vec())));
        assert!(refused(ParameterValue::Uuid("\0".into())));
        // Controls: text without one, an escaped backslash before `u0000`, other kinds.
        for ok in [
            ParameterValue::Str("globex".into()),
            ParameterValue::ArrayStr(vec![Some("a".into()), None]),
            ParameterValue::Jsonb(br#"{"a":"\\u0000"}"#.to_vec()),
            ParameterValue::Jsonb(br#"{"a":"\u0001"}"#.to_vec()),
            ParameterValue::Binary(vec![0, 0]),
            ParameterValue::Int64(0),
        ] {
            assert!(refuse_nul(&[ok]).is_ok());
        }
    }
}
