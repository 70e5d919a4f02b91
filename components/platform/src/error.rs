//! Every refusal of the platform API, and the one place that turns it into a response.

use backend_api::DbFailure;
use spin_sdk::http::Response;
use tenant_contract::ErrorCode;
use tenant_db::DbError;

/// Why a request was not served.
#[derive(Debug)]
pub enum ApiError {
    /// Malformed input (400 `invalid_request`); the message says what (safe to show).
    BadRequest(String),
    /// The context names no platform admin.
    NotPlatformAdmin,
    /// No such item (tenant, grant).
    NotFound(&'static str),
    /// No route for this path.
    NoRoute,
    /// The path exists, the method does not; the methods it has.
    MethodNotAllowed(&'static str),
    /// A state change whose body is not JSON.
    UnsupportedMediaType,
    /// The export would hold more rows than [`crate::export::MAX_ROWS`].
    ExportTooLarge,
    /// A refusal of the platform functions (migration 0013): status, code and their
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
            ApiError::BadRequest(m) => (400, C::InvalidRequest, m.clone()),
            ApiError::NotPlatformAdmin => (
                403,
                C::PlatformAdminRequired,
                "this needs a platform admin".into(),
            ),
            ApiError::NotFound(what) => (404, C::NotFound, format!("{what} not found")),
            ApiError::NoRoute => (404, C::NotFound, "no such route".into()),
            ApiError::MethodNotAllowed(_) => {
                (405, C::MethodNotAllowed, "method not allowed here".into())
            }
            ApiError::UnsupportedMediaType => (
                415,
                C::UnsupportedMediaType,
                "send the body as application/json".into(),
            ),
            ApiError::ExportTooLarge => (
                413,
                C::ExportTooLarge,
                format!(
                    "this tenant has more than {} rows to export: run `tenantgate tenant export` instead",
                    crate::export::MAX_ROWS
                ),
            ),
            ApiError::Refused(status, code, text) => (*status, *code, text.clone()),
            ApiError::Db(e) => (e.status(), e.code(), e.public_message().into()),
        }
    }

    /// The docs/architecture.md §7 JSON error response.
    pub fn into_response(self, request_id: &str) -> Response {
        let (status, code, message) = self.parts();
        if let ApiError::Db(e) = &self {
            // The internal text goes to the log, never to the client.
            eprintln!("platform: request {request_id}: {e}");
        }
        let allow = match &self {
            ApiError::MethodNotAllowed(allow) => vec![("allow", *allow)],
            _ => Vec::new(),
        };
        backend_api::error_response(status, code, &message, request_id, &allow)
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
    fn refusals_of_the_platform_functions_keep_their_code_and_text() {
        for (state, message, status, code) in [
            (
                "TG409",
                "wrong_status|the tenant is not active",
                409,
                ErrorCode::WrongStatus,
            ),
            (
                "TG409",
                "grace_period_over|x",
                409,
                ErrorCode::GracePeriodOver,
            ),
            ("TG400", "reason_required|x", 400, ErrorCode::ReasonRequired),
            ("TG400", "invalid_minutes|x", 400, ErrorCode::InvalidMinutes),
            (
                "TG400",
                "invalid_grace_days|x",
                400,
                ErrorCode::InvalidGraceDays,
            ),
            ("TG400", "invalid_status|x", 400, ErrorCode::InvalidStatus),
            ("TG400", "tenant_required|x", 400, ErrorCode::TenantRequired),
            (
                "TG400",
                "invalid_request|too long",
                400,
                ErrorCode::InvalidRequest,
            ),
            ("TG400", "invalid_action|x", 400, ErrorCode::InvalidAction),
            (
                "TG403",
                "platform_admin_required|x",
                403,
                ErrorCode::PlatformAdminRequired,
            ),
            ("TG404", "not_found|no such grant", 404, ErrorCode::NotFound),
        ] {
            let (s, c, m) = ApiError::from(query(state, message)).parts();
            assert_eq!((s, c), (status, code), "{message}");
            assert_eq!(m, message.split_once('|').unwrap().1);
        }
    }

    #[test]
    fn unknown_codes_and_postgres_text_never_reach_the_client() {
        let (s, c, m) = ApiError::from(query("TG409", "made_up|secret")).parts();
        assert_eq!((s, c), (500, ErrorCode::InternalError));
        assert!(!m.contains("secret"));
        let (s, _, m) = ApiError::from(query("42501", "permission denied for table x")).parts();
        assert_eq!(s, 500);
        assert!(!m.contains("permission denied"));
        let (s, c, _) =
            ApiError::from(query("22P02", "invalid input syntax for type inet")).parts();
        assert_eq!((s, c), (400, ErrorCode::InvalidRequest));
    }

    #[test]
    fn the_body_has_the_documented_shape_and_405_names_the_methods() {
        let resp = ApiError::MethodNotAllowed("GET, HEAD").into_response("r-1");
        assert_eq!(*resp.status(), 405);
        assert_eq!(
            resp.header("allow").and_then(|v| v.as_str()),
            Some("GET, HEAD")
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
        assert_eq!(body["error"]["request_id"], "r-1");
        let resp = ApiError::ExportTooLarge.into_response("r-2");
        assert_eq!(*resp.status(), 413);
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(body["error"]["code"], "export_too_large");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tenantgate tenant export"));
    }
}
