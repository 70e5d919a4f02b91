use super::*;
use crate::ids::RequestId;
use crate::tenant::DirectoryUnavailable;

#[test]
fn every_error_has_its_status_and_code() {
    let cases: Vec<(GatewayError, u16, &str)> = vec![
        (HostError::IpLiteral.into(), 400, "invalid_host"),
        (HostError::Duplicate.into(), 400, "invalid_host"),
        (BadRequest::Method.into(), 400, "bad_request"),
        (LimitError::BadContentLength.into(), 400, "bad_request"),
        (RouteError::BadPath.into(), 400, "bad_request"),
        (ResolveError::UnknownTenant.into(), 404, "unknown_tenant"),
        (
            LifecycleError::Unknown(crate::lifecycle::UnknownTenant).into(),
            404,
            "unknown_tenant",
        ),
        (RouteError::NotFound.into(), 404, "not_found"),
        (LifecycleError::Suspended.into(), 403, "tenant_suspended"),
        (AuthError::TenantMismatch.into(), 421, "tenant_mismatch"),
        (TokenError::TokenExpired.into(), 401, "invalid_token"),
        (TokenError::TokenSignature.into(), 401, "invalid_token"),
        (
            ResolveError::OrganisationRequired.into(),
            401,
            "unauthenticated",
        ),
        (LimitError::PayloadTooLarge.into(), 413, "payload_too_large"),
        (LimitError::HeadersTooLarge.into(), 431, "headers_too_large"),
        (
            ResolveError::Unavailable(DirectoryUnavailable("x".into())).into(),
            503,
            "dependency_unavailable",
        ),
        (
            RouteError::Misconfigured.into(),
            503,
            "dependency_unavailable",
        ),
        (BackendError::Unreachable.into(), 502, "backend_unavailable"),
        (BackendError::Unavailable.into(), 503, "backend_unavailable"),
    ];
    for (err, status, code) in cases {
        let r = err.response();
        assert_eq!((r.status, r.code.as_str()), (status, code), "{err:?}");
    }
}

#[test]
fn internal_text_never_reaches_the_body() {
    let rid: RequestId = "req-9".parse().unwrap();
    let secret = "password=hunter2 host=10.0.0.5";
    let err: GatewayError = ResolveError::Unavailable(DirectoryUnavailable(secret.into())).into();
    assert!(err.to_string().contains("hunter2"), "logs keep the detail");
    let body = err.response().body(&rid);
    assert!(!body.contains("hunter2") && !body.contains("10.0.0.5"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "dependency_unavailable");
    assert_eq!(v["error"]["request_id"], "req-9");
    assert_eq!(v.as_object().unwrap().len(), 1);
    assert_eq!(v["error"].as_object().unwrap().len(), 3);
}

#[test]
fn unknown_and_deleted_tenants_are_indistinguishable() {
    let rid: RequestId = "r".parse().unwrap();
    let unknown: GatewayError = ResolveError::UnknownTenant.into();
    let deleted: GatewayError = LifecycleError::Unknown(crate::lifecycle::UnknownTenant).into();
    assert_eq!(unknown.response(), deleted.response());
    assert_eq!(unknown.response().body(&rid), deleted.response().body(&rid));
}
