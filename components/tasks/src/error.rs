//! Every refusal, and the one place that turns it into a response.

use spin_sdk::http::Response;
use tenant_contract::{error_body, ErrorCode};
use tenant_db::DbError;

/// Why a request was not served.
#[derive(Debug)]
pub enum ApiError {
    /// Malformed input; the message says what (safe to show).
    BadRequest(String),
    /// The context lacks the permission named.
    Forbidden(&'static str),
    /// No such resource in this tenant (also: another tenant's).
    NotFound(&'static str),
    /// No route for this path.
    NoRoute,
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// The write conflicts with an existing row.
    Conflict(&'static str),
    /// The database said no, or is unavailable.
    Db(DbError),
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        // Constraint violations are the client's input; the rest stays a database error.
        match e.sqlstate() {
            Some("23514") | Some("22001") | Some("22P02") | Some("22007") | Some("22008")
            | Some("22021") | Some("22P05") => {
                ApiError::BadRequest("a field is out of range or malformed".into())
            }
            Some("23503") => ApiError::NotFound("project"),
            Some("23505") => ApiError::Conflict("a row with this id already exists"),
            _ => ApiError::Db(e),
        }
    }
}

impl ApiError {
    /// Status, stable code and client-safe message.
    pub fn parts(&self) -> (u16, ErrorCode, String) {
        use ErrorCode as C;
        match self {
            ApiError::BadRequest(m) => (400, C::BadRequest, m.clone()),
            ApiError::Forbidden(p) => (403, C::Forbidden, format!("this needs the {p} permission")),
            ApiError::NotFound(what) => (404, C::NotFound, format!("{what} not found")),
            ApiError::NoRoute => (404, C::NotFound, "no such route".into()),
            ApiError::MethodNotAllowed => {
                (405, C::MethodNotAllowed, "method not allowed here".into())
            }
            ApiError::Conflict(m) => (409, C::Conflict, (*m).into()),
            ApiError::Db(e) => (e.status(), e.code(), e.public_message().into()),
        }
    }

    /// The docs/architecture.md §7 JSON error response.
    pub fn into_response(self, request_id: &str) -> Response {
        let (status, code, message) = self.parts();
        if let ApiError::Db(e) = &self {
            // The internal text goes to the log, never to the client.
            eprintln!("tasks: request {request_id}: {e}");
        }
        let mut resp = Response::builder();
        resp.status(status)
            .header("content-type", tenant_contract::error::ERROR_CONTENT_TYPE);
        if status == 503 {
            resp.header("retry-after", "5");
        }
        resp.body(error_body(code, &message, request_id)).build()
    }
}
