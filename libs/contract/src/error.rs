//! The JSON error body every tenantgate component answers a refusal with (docs/architecture.md §7):
//!
//! ```text
//! {"error":{"code":"tenant_suspended","message":"...","request_id":"..."}}
//! ```
//!
//! [`ErrorCode`] lists every stable code any component returns (the README's error table
//! lists the same, and a test checks it); [`error_body`] builds the body. The message is
//! always a fixed, client-safe text chosen by the caller, never an internal error's text.

use std::fmt;

use serde::Serialize;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// A stable, machine-readable reason for a refusal.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the README table's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears in the body.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    /// 400: the request's `Host` (or absolute-form authority) is not acceptable.
    InvalidHost = "invalid_host",
    /// 400: the request is malformed (method, path, headers, body, parameters).
    BadRequest = "bad_request",
    /// 401: credentials are needed (on the apex, a token naming an organisation; at a
    /// backend, a request that did not come through the gateway).
    Unauthenticated = "unauthenticated",
    /// 401: the bearer token was refused.
    InvalidToken = "invalid_token",
    /// 401: the tenant context was refused by the database (forged, expired, unknown key).
    InvalidContext = "invalid_context",
    /// 401: the session cookie was refused (tampered, expired, revoked, another tenant's).
    SessionInvalid = "session_invalid",
    /// 400: a login callback's `state` is unknown, used, expired or not this browser's.
    SsoStateInvalid = "sso_state_invalid",
    /// 400 / 502: the identity provider's answer was refused (an error, a bad token or
    /// assertion, the wrong issuer).
    SsoFailed = "sso_failed",
    /// 400: an organisation-switch link that is unknown, used, expired or another
    /// organisation's.
    SwitchInvalid = "switch_invalid",
    /// 403: the tenant enforces SSO; sign in at its login page.
    SsoRequired = "sso_required",
    /// 403: the email the provider asserted is not verified.
    EmailNotVerified = "email_not_verified",
    /// 403: the email's domain is not one of the tenant's verified domains.
    EmailDomainNotAllowed = "email_domain_not_allowed",
    /// 403: the user is not a member and just-in-time membership is off.
    NotAMember = "not_a_member",
    /// 403: a state-changing request with a session cookie came from another origin.
    CsrfFailed = "csrf_failed",
    /// 403: the platform API needs a platform admin's token.
    PlatformAdminRequired = "platform_admin_required",
    /// 403: a platform admin on a tenant's host without an active break-glass grant there.
    BreakGlassRequired = "break_glass_required",
    /// 403: the tenant is suspended.
    TenantSuspended = "tenant_suspended",
    /// 403: the context lacks a permission.
    Forbidden = "forbidden",
    /// 404: no tenant is served at this host (the same for every way of not finding one).
    UnknownTenant = "unknown_tenant",
    /// 404: no such route or resource.
    NotFound = "not_found",
    /// 404: the tenant has no identity provider.
    SsoNotConfigured = "sso_not_configured",
    /// 404: the invitation is unknown, used, expired, revoked or for another email address.
    InvitationNotFound = "invitation_not_found",
    /// 405: the path exists, the method does not.
    MethodNotAllowed = "method_not_allowed",
    /// 409: the write conflicts with an existing row.
    Conflict = "conflict",
    /// 409: the change would leave the organisation without an owner.
    LastOwner = "last_owner",
    /// 409: a pending invitation for this email exists (resend it instead).
    InvitationExists = "invitation_exists",
    /// 409: the invited email is already a member.
    AlreadyMember = "already_member",
    /// 409: system roles (owner, admin, member) cannot be changed or deleted.
    RoleBuiltIn = "role_built_in",
    /// 409: members, pending invitations or the SSO settings use the role.
    RoleInUse = "role_in_use",
    /// 400: an organisation slug that is not a DNS label of 3 to 63 characters.
    SlugInvalid = "slug_invalid",
    /// 400: an organisation slug that is a reserved label.
    SlugReserved = "slug_reserved",
    /// 409: the slug belongs to an organisation (any status, deleted included).
    SlugTaken = "slug_taken",
    /// 409: the user owns the most organisations allowed.
    OrganisationLimit = "organisation_limit",
    /// 400: a platform API request whose body or parameters are malformed (bad JSON, a
    /// wrong type, an unknown field, a value out of range).
    InvalidRequest = "invalid_request",
    /// 400: a tenant search longer than 200 characters.
    InvalidQuery = "invalid_query",
    /// 400: a platform action that needs a tenant was called without one.
    TenantRequired = "tenant_required",
    /// 400: a tenant status filter that is not `active`, `suspended` or `deleted`.
    InvalidStatus = "invalid_status",
    /// 400: a lifecycle action that is not `suspend`, `reactivate`, `delete` or `restore`.
    InvalidAction = "invalid_action",
    /// 400: a deletion grace period outside 1 to 365 days.
    InvalidGraceDays = "invalid_grace_days",
    /// 400: break-glass access without a reason of 3 to 500 characters.
    ReasonRequired = "reason_required",
    /// 400: a break-glass duration outside 1 to 240 minutes.
    InvalidMinutes = "invalid_minutes",
    /// 409: the tenant's status does not allow the action (suspend a deleted tenant, ...).
    WrongStatus = "wrong_status",
    /// 409: the deleted tenant's grace period is over; it can no longer be restored.
    GracePeriodOver = "grace_period_over",
    /// 413: an export over HTTP would hold more rows than the cap; use the CLI.
    ExportTooLarge = "export_too_large",
    /// 415: a state change whose body is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// 413: the body is over the cap.
    PayloadTooLarge = "payload_too_large",
    /// 421: the token names another tenant than the host.
    TenantMismatch = "tenant_mismatch",
    /// 429: a rate limit of the tenant, user or client is spent (`Retry-After` says when to
    /// try again).
    RateLimited = "rate_limited",
    /// 429: the tenant's monthly request quota is spent.
    QuotaExceeded = "quota_exceeded",
    /// 431: the headers are over the cap.
    HeadersTooLarge = "headers_too_large",
    /// 500: a bug or an unexpected failure; details only in the logs.
    InternalError = "internal_error",
    /// 502 / 503: the backend behind the route did not answer, or failed.
    BackendUnavailable = "backend_unavailable",
    /// 503: a dependency the decision needs is down (directory, database, configuration).
    DependencyUnavailable = "dependency_unavailable",
    /// 503: the identity provider's keys are older than the bound and could not be
    /// refreshed; logins fail closed until they are.
    SsoKeysStale = "sso_keys_stale",
    /// 503: the tenant is moving between placements; writes wait.
    TenantReadOnly = "tenant_read_only",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// The body `{"error":{"code","message","request_id"}}`, as compact JSON.
pub fn error_body(code: ErrorCode, message: &str, request_id: &str) -> String {
    let inner = Inner {
        code: code.as_str(),
        message,
        request_id,
    };
    serde_json::to_string(&Body { error: inner }).expect("strings always serialise")
}

/// The media type of [`error_body`].
pub const ERROR_CONTENT_TYPE: &str = "application/json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_exactly_the_documented_shape() {
        let body = error_body(ErrorCode::NotFound, "task \"x\" not found", "r-1");
        assert_eq!(
            body,
            r#"{"error":{"code":"not_found","message":"task \"x\" not found","request_id":"r-1"}}"#
        );
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(c
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn the_readme_error_table_lists_every_code() {
        let readme = include_str!("../../../README.md");
        let table = readme
            .split("| status | code |")
            .nth(1)
            .expect("README has the error table");
        for c in ErrorCode::ALL {
            assert!(table.contains(&format!("`{c}`")), "README lacks `{c}`");
        }
    }
}
