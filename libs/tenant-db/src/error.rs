//! What can go wrong between a backend and its tenant's database.

use spin_sdk::pg4::{PgError, QueryError};
use tenant_contract::ErrorCode;

/// A failure of [`crate::TenantDb`]; [`DbError::status`] and [`DbError::code`] give the
/// response docs/architecture.md §7 prescribes, and [`DbError::public_message`] a text safe
/// to show clients (never the database's own).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The request carries no `x-tenant-context`: it did not come through the gateway.
    #[error("no tenant context")]
    NoContext,
    /// The context is not a token of the expected shape.
    #[error("malformed tenant context")]
    BadContext,
    /// Postgres did not accept the context: bad signature, unknown or retired key,
    /// expired, or claims that differ from what was read here.
    #[error("tenant context rejected by the database")]
    ContextRejected,
    /// The component's database configuration is invalid, or names no target the
    /// context's placement needs (never answered by falling back to another database).
    #[error("database configuration: {0}")]
    Config(String),
    /// The tenant's database cannot be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The tenant is being moved between placements; writes wait until it is done.
    #[error("tenant is read-only while it moves")]
    ReadOnly,
    /// A statement failed. `sqlstate` is Postgres' five-character code when it gave one.
    #[error("query failed ({sqlstate:?}): {message}")]
    Query {
        /// SQLSTATE, e.g. `23505` for a unique violation.
        sqlstate: Option<String>,
        /// The server's message (for logs only).
        message: String,
    },
    /// A value came back in a type the caller did not expect.
    #[error("decoding a value: {0}")]
    Decode(String),
    /// A text parameter (`Str`, `ArrayStr`, `Jsonb`, ...) holds a NUL character, which
    /// Postgres takes in no text: refused before the statement is sent
    /// ([`crate::Tx::query`], [`crate::Tx::execute`]). The caller's input: a 400.
    #[error("a text parameter holds a NUL character")]
    NulInText,
}

impl DbError {
    /// The HTTP status this failure answers with.
    pub fn status(&self) -> u16 {
        match self {
            DbError::NoContext | DbError::ContextRejected => 401,
            DbError::BadContext | DbError::NulInText => 400,
            DbError::Config(_) | DbError::Unavailable(_) | DbError::ReadOnly => 503,
            DbError::Query { sqlstate, .. } => match sqlstate.as_deref() {
                // Connection-class and server-shutdown errors: the dependency is down.
                Some(s) if s.starts_with("08") || s.starts_with("57P") => 503,
                _ => 500,
            },
            DbError::Decode(_) => 500,
        }
    }

    /// The stable reason code for the JSON error body.
    pub fn code(&self) -> ErrorCode {
        match self {
            DbError::NoContext => ErrorCode::Unauthenticated,
            DbError::BadContext | DbError::NulInText => ErrorCode::BadRequest,
            DbError::ContextRejected => ErrorCode::InvalidContext,
            DbError::ReadOnly => ErrorCode::TenantReadOnly,
            DbError::Config(_) | DbError::Unavailable(_) => ErrorCode::DependencyUnavailable,
            e if e.status() == 503 => ErrorCode::DependencyUnavailable,
            _ => ErrorCode::InternalError,
        }
    }

    /// A message safe to show a client.
    pub fn public_message(&self) -> &'static str {
        if let DbError::NulInText = self {
            return "a text value contains a NUL character, which text may not hold";
        }
        match self.code() {
            ErrorCode::Unauthenticated => "this route is only reachable through the gateway",
            ErrorCode::BadRequest => "malformed tenant context",
            ErrorCode::InvalidContext => "the tenant context is invalid or expired",
            ErrorCode::TenantReadOnly => "the tenant is being moved; try again shortly",
            ErrorCode::DependencyUnavailable => "the tenant's database is unavailable",
            _ => "internal error",
        }
    }

    /// The docs/architecture.md §7 JSON body for this failure (the contract's shape), with
    /// the client-safe message.
    pub fn body(&self, request_id: &str) -> String {
        tenant_contract::error_body(self.code(), self.public_message(), request_id)
    }

    /// A refusal raised by the project's own SQL functions (migration 0010): SQLSTATE `TG` +
    /// the HTTP status (`TG400`, `TG403`, `TG404`, `TG409`) and the message
    /// `<code>|<client-safe text>`. Returns `(status, code, text)`; `None` for any other
    /// failure, whose message never reaches a client.
    pub fn refusal(&self) -> Option<(u16, &str, &str)> {
        let DbError::Query {
            sqlstate: Some(state),
            message,
        } = self
        else {
            return None;
        };
        let status = match state.as_str() {
            "TG400" => 400,
            "TG403" => 403,
            "TG404" => 404,
            "TG409" => 409,
            _ => return None,
        };
        let (code, text) = message.split_once('|')?;
        let code_ok = !code.is_empty()
            && code.len() <= 40
            && code.bytes().all(|c| c.is_ascii_lowercase() || c == b'_');
        code_ok.then_some((status, code, text))
    }

    /// The SQLSTATE of a failed statement, if any.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            DbError::Query { sqlstate, .. } => sqlstate.as_deref(),
            _ => None,
        }
    }
}

impl From<PgError> for DbError {
    fn from(e: PgError) -> DbError {
        match e {
            PgError::ConnectionFailed(m) => DbError::Unavailable(m),
            PgError::QueryFailed(QueryError::DbError(d)) => DbError::Query {
                sqlstate: Some(d.code),
                message: d.message,
            },
            PgError::QueryFailed(QueryError::Text(m)) => DbError::Query {
                sqlstate: None,
                message: m,
            },
            PgError::BadParameter(m) | PgError::ValueConversionFailed(m) | PgError::Other(m) => {
                DbError::Query {
                    sqlstate: None,
                    message: m,
                }
            }
        }
    }
}

impl From<spin_sdk::pg4::Error> for DbError {
    fn from(e: spin_sdk::pg4::Error) -> DbError {
        match e {
            spin_sdk::pg4::Error::Decode(m) => DbError::Decode(m),
            spin_sdk::pg4::Error::PgError(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(state: &str, message: &str) -> DbError {
        DbError::Query {
            sqlstate: Some(state.into()),
            message: message.into(),
        }
    }

    #[test]
    fn only_the_projects_own_refusals_are_read() {
        assert_eq!(
            query("TG409", "last_owner|the last owner stays").refusal(),
            Some((409, "last_owner", "the last owner stays"))
        );
        assert_eq!(
            query("TG403", "forbidden|needs x").refusal(),
            Some((403, "forbidden", "needs x"))
        );
        // Postgres' own errors (and anything malformed) stay internal.
        for (state, message) in [
            ("23505", "duplicate key|x"),
            ("P0001", "last_owner|x"),
            ("TG500", "x|y"),
            ("TG409", "no separator"),
            ("TG409", "Bad Code|x"),
        ] {
            assert_eq!(query(state, message).refusal(), None, "{state} {message}");
        }
        assert_eq!(DbError::NoContext.refusal(), None);
    }

    #[test]
    fn a_nul_in_text_is_the_callers_400() {
        let e = DbError::NulInText;
        assert_eq!((e.status(), e.code()), (400, ErrorCode::BadRequest));
        assert!(e.public_message().contains("NUL"));
    }
}
