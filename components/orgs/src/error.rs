//! Every refusal, and the one place that turns it into a response.

use backend_api::DbFailure;
use spin_sdk::http::Response;
use tenant_contract::ErrorCode;
use tenant_db::DbError;

/// Why a request was not served.
#[derive(Debug)]
pub enum ApiError {
    /// Malformed input; the message says what (safe to show).
    BadRequest(String),
    /// The context names no user.
    Unauthenticated,
    /// The context lacks the permission named.
    Forbidden(&'static str),
    /// No such item in this tenant (another tenant's too).
    NotFound(&'static str),
    /// No route for this path.
    NoRoute,
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// A refusal of the organisation functions (migration 0010): status, code and their
    /// client-safe text.
    Refused(u16, ErrorCode, String),
    /// The database failed, or is unavailable.
    Db(DbError),
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        match backend_api::classify(e) {
            DbFailure::Refused(status, code, text) => ApiError::Refused(status, code, text),
            DbFailure::BadValue => {
                ApiError::BadRequest("a field is out of range or malformed".into())
            }
            DbFailure::NulInText => ApiError::BadRequest(
                "a text value contains a NUL character, which text may not hold".into(),
            ),
            DbFailure::Other(e) => ApiError::Db(e),
        }
    }
}

impl From<backend_api::BadInput> for ApiError {
    fn from(e: backend_api::BadInput) -> ApiError {
        ApiError::BadRequest(e.0)
    }
}

impl ApiError {
    /// Status, stable code and client-safe message.
    pub fn parts(&self) -> (u16, ErrorCode, String) {
        use ErrorCode as C;
        match self {
            ApiError::BadRequest(m) => (400, C::BadRequest, m.clone()),
            ApiError::Unauthenticated => (
                401,
                C::Unauthenticated,
                "sign in first: this needs a user".into(),
            ),
            ApiError::Forbidden(p) => (403, C::Forbidden, format!("this needs the {p} permission")),
            ApiError::NotFound(what) => (404, C::NotFound, format!("{what} not found")),
            ApiError::NoRoute => (404, C::NotFound, "no such route".into()),
            ApiError::MethodNotAllowed => {
                (405, C::MethodNotAllowed, "method not allowed here".into())
            }
            ApiError::Refused(status, code, text) => (*status, *code, text.clone()),
            ApiError::Db(e) => (e.status(), e.code(), e.public_message().into()),
        }
    }

    /// The docs/architecture.md §7 JSON error response.
    pub fn into_response(self, request_id: &str) -> Response {
        let (status, code, message) = self.parts();
        if let ApiError::Db(e) = &self {
            // The internal text goes to the log, never to the client.
            eprintln!("orgs: request {request_id}: {e}");
        }
        backend_api::error_response(status, code, &message, request_id, &[])
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
    fn refusals_of_the_functions_keep_their_code_and_text() {
        let (s, c, m) = ApiError::from(query("TG409", "last_owner|keep one")).parts();
        assert_eq!((s, c, m.as_str()), (409, ErrorCode::LastOwner, "keep one"));
        let (s, c, _) = ApiError::from(query("TG404", "invitation_not_found|x")).parts();
        assert_eq!((s, c), (404, ErrorCode::InvitationNotFound));
        // An unknown code, or Postgres' own error text, never reaches the client.
        let (s, c, m) = ApiError::from(query("TG409", "made_up|secret")).parts();
        assert_eq!((s, c), (500, ErrorCode::InternalError));
        assert!(!m.contains("secret"));
        let (s, _, m) = ApiError::from(query("42501", "permission denied for table x")).parts();
        assert_eq!(s, 500);
        assert!(!m.contains("permission denied"));
    }
}
