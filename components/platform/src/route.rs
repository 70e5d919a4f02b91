//! Which endpoint of `/api/platform` a request names, and the check every one of them needs.

use spin_sdk::http::Method;
use tenant_db::TenantContext;

use crate::ApiError;

/// The permission of a platform admin's context (the gateway grants it only to a token of a
/// platform issuer with the `platform_admin` role).
pub const PLATFORM_ADMIN: &str = "platform.admin";

/// A tenant's lifecycle action (`tenantgate.platform_lifecycle`'s `p_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Reactivate,
    Delete,
    Restore,
}

impl Action {
    /// The name SQL takes (and the path's last segment).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Reactivate => "reactivate",
            Action::Delete => "delete",
            Action::Restore => "restore",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        [
            Action::Suspend,
            Action::Reactivate,
            Action::Delete,
            Action::Restore,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// The endpoints of `/api/platform`. A slug that is not a DNS label, or a grant id that is not
/// a uuid, cannot exist: 404 before any query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /me`
    Me,
    /// `GET /tenants`
    Tenants,
    /// `GET /tenants/{slug}`
    Tenant(String),
    /// `POST /tenants/{slug}/{suspend|reactivate|delete|restore}`
    Lifecycle(String, Action),
    /// `GET /tenants/{slug}/export`
    Export(String),
    /// `GET /tenants/{slug}/break-glass`
    Grants(String),
    /// `POST /tenants/{slug}/break-glass`
    Grant(String),
    /// `DELETE /tenants/{slug}/break-glass/{id}`
    Revoke(String, String),
}

impl Endpoint {
    /// Parses method and path. Unknown paths are 404 `not_found`; a known path with another
    /// method 405 (with its `allow`); an item that cannot exist 404.
    pub fn parse(method: &Method, path: &str) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        use Method as M;
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let ["api", "platform", rest @ ..] = segments.as_slice() else {
            return Err(ApiError::NoRoute);
        };
        let get = matches!(method, M::Get | M::Head);
        let slug = |s: &str| {
            tenant_contract::ids::is_dns_label(s)
                .then(|| s.to_owned())
                .ok_or(ApiError::NotFound("tenant"))
        };
        const READ: &str = "GET, HEAD";
        let endpoint = match rest {
            ["me"] if get => E::Me,
            ["me"] => return Err(ApiError::MethodNotAllowed(READ)),
            ["tenants"] if get => E::Tenants,
            ["tenants"] => return Err(ApiError::MethodNotAllowed(READ)),
            ["tenants", s] if get => E::Tenant(slug(s)?),
            ["tenants", _] => return Err(ApiError::MethodNotAllowed(READ)),
            // GET only: an export writes its audit row, so HEAD is not a free look.
            ["tenants", s, "export"] if *method == M::Get => E::Export(slug(s)?),
            ["tenants", _, "export"] => return Err(ApiError::MethodNotAllowed("GET")),
            ["tenants", s, "break-glass"] if get => E::Grants(slug(s)?),
            ["tenants", s, "break-glass"] if *method == M::Post => E::Grant(slug(s)?),
            ["tenants", _, "break-glass"] => {
                return Err(ApiError::MethodNotAllowed("GET, HEAD, POST"))
            }
            ["tenants", s, "break-glass", id] if *method == M::Delete => {
                let id = crate::wire::parse_uuid(id).ok_or(ApiError::NotFound("grant"))?;
                E::Revoke(slug(s)?, id)
            }
            ["tenants", _, "break-glass", _] => return Err(ApiError::MethodNotAllowed("DELETE")),
            ["tenants", s, action] => match Action::parse(action) {
                Some(a) if *method == M::Post => E::Lifecycle(slug(s)?, a),
                Some(_) => return Err(ApiError::MethodNotAllowed("POST")),
                None => return Err(ApiError::NoRoute),
            },
            _ => return Err(ApiError::NoRoute),
        };
        Ok(endpoint)
    }

    /// The tenant the endpoint is about, if any.
    pub fn slug(&self) -> Option<&str> {
        use Endpoint as E;
        match self {
            E::Me | E::Tenants => None,
            E::Tenant(s)
            | E::Lifecycle(s, _)
            | E::Export(s)
            | E::Grants(s)
            | E::Grant(s)
            | E::Revoke(s, _) => Some(s),
        }
    }

    /// Whether the endpoint changes state (a `POST` whose body must be JSON).
    pub fn takes_body(&self) -> bool {
        matches!(self, Endpoint::Lifecycle(..) | Endpoint::Grant(_))
    }

    /// Refuses the request unless the context is a platform admin's (a user holding
    /// [`PLATFORM_ADMIN`]) and, for a tenant's endpoints, names that tenant: the gateway puts
    /// the path's tenant in the context, so any other is a request that did not come from it
    /// (404, as for a tenant that does not exist). The claims are read unverified here; Postgres
    /// verifies the context on every statement and every platform function checks the
    /// permission again.
    pub fn authorise(&self, ctx: &TenantContext) -> Result<(), ApiError> {
        let claims = ctx.claims();
        if claims.uid.is_none() || !ctx.has_permission(PLATFORM_ADMIN) {
            return Err(ApiError::NotPlatformAdmin);
        }
        match self.slug() {
            Some(slug) if claims.slug.as_str() != slug || claims.tid.uuid().is_nil() => {
                Err(ApiError::NotFound("tenant"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "a2000000-0000-4000-8000-000000000001";

    fn parse(m: Method, path: &str) -> Result<Endpoint, ApiError> {
        Endpoint::parse(&m, path)
    }

    #[test]
    fn endpoints() {
        use Endpoint as E;
        assert_eq!(parse(Method::Get, "/api/platform/me").unwrap(), E::Me);
        assert_eq!(
            parse(Method::Head, "/api/platform/tenants/").unwrap(),
            E::Tenants
        );
        assert_eq!(
            parse(Method::Get, "/api/platform/tenants/acme").unwrap(),
            E::Tenant("acme".into())
        );
        for a in ["suspend", "reactivate", "delete", "restore"] {
            let e = parse(Method::Post, &format!("/api/platform/tenants/globex/{a}")).unwrap();
            assert_eq!(e, E::Lifecycle("globex".into(), Action::parse(a).unwrap()));
            assert_eq!(Action::parse(a).unwrap().as_str(), a);
            assert!(e.takes_body());
        }
        assert_eq!(
            parse(Method::Get, "/api/platform/tenants/acme/export").unwrap(),
            E::Export("acme".into())
        );
        let e = parse(Method::Post, "/api/platform/tenants/acme/break-glass").unwrap();
        assert_eq!(e, E::Grant("acme".into()));
        assert!(e.takes_body());
        assert_eq!(
            parse(Method::Get, "/api/platform/tenants/acme/break-glass").unwrap(),
            E::Grants("acme".into())
        );
        let e = parse(
            Method::Delete,
            &format!(
                "/api/platform/tenants/acme/break-glass/{}",
                ID.to_uppercase()
            ),
        )
        .unwrap();
        assert_eq!(e, E::Revoke("acme".into(), ID.into()));
        assert!(!e.takes_body());
        assert_eq!(e.slug(), Some("acme"));
        assert_eq!(E::Me.slug(), None);
    }

    #[test]
    fn unknown_paths_methods_and_items() {
        for path in [
            "/",
            "/api",
            "/api/platform",
            "/api/platformx/me",
            "/api/org/me",
            "/api/platform/me/x",
            "/api/platform/tenants/acme/frobnicate",
            "/api/platform/tenants/acme/break-glass/x/y",
            "/platform/tenants",
        ] {
            assert!(
                matches!(parse(Method::Get, path), Err(ApiError::NoRoute)),
                "{path}"
            );
        }
        for (m, path, allow) in [
            (Method::Post, "/api/platform/me", "GET, HEAD"),
            (Method::Delete, "/api/platform/tenants", "GET, HEAD"),
            (Method::Post, "/api/platform/tenants/acme", "GET, HEAD"),
            (Method::Get, "/api/platform/tenants/acme/suspend", "POST"),
            (Method::Delete, "/api/platform/tenants/acme/export", "GET"),
            (Method::Head, "/api/platform/tenants/acme/export", "GET"),
            (
                Method::Put,
                "/api/platform/tenants/acme/break-glass",
                "GET, HEAD, POST",
            ),
            (
                Method::Get,
                &format!("/api/platform/tenants/acme/break-glass/{ID}"),
                "DELETE",
            ),
        ] {
            match parse(m, path) {
                Err(ApiError::MethodNotAllowed(a)) => assert_eq!(a, allow, "{path}"),
                other => panic!("{path}: {other:?}"),
            }
        }
        for (m, path) in [
            (Method::Get, "/api/platform/tenants/Acme"),
            (Method::Get, "/api/platform/tenants/a'b"),
            (Method::Get, "/api/platform/tenants/-acme"),
            (Method::Post, "/api/platform/tenants/a%20b/suspend"),
            (
                Method::Delete,
                "/api/platform/tenants/acme/break-glass/not-a-uuid",
            ),
        ] {
            assert!(
                matches!(parse(m, path), Err(ApiError::NotFound(_))),
                "{path}"
            );
        }
    }

    /// A context for `claims` (JSON), signed with a test key.
    fn context(claims: serde_json::Value) -> TenantContext {
        let mut all = serde_json::json!({
            "tid": "a0000000-0000-4000-8000-00000000000a", "slug": "acme", "plc": "shared",
            "uid": "c0000000-0000-4000-8000-000000000001", "roles": ["platform_admin"],
            "perms": ["platform.admin"], "rid": "r", "exp": 9,
        });
        for (k, v) in claims.as_object().unwrap() {
            all[k] = v.clone();
        }
        let token = tenant_contract::ContextSigner::new("k1", &[1; 32])
            .unwrap()
            .sign_payload(&tenant_contract::context::payload_from_json(&all))
            .into_string();
        TenantContext::parse(Some(&token)).unwrap()
    }

    #[test]
    fn only_a_platform_admins_context_for_the_paths_tenant_passes() {
        let nil = serde_json::json!({
            "tid": "00000000-0000-0000-0000-000000000000", "slug": "platform"
        });
        let acme = Endpoint::Tenant("acme".into());
        // The controls: an admin, on the platform context and on acme's.
        assert!(Endpoint::Tenants.authorise(&context(nil.clone())).is_ok());
        assert!(Endpoint::Me
            .authorise(&context(serde_json::json!({})))
            .is_ok());
        assert!(acme.authorise(&context(serde_json::json!({}))).is_ok());
        // No permission, another permission, no user: 403.
        for claims in [
            serde_json::json!({ "perms": [] }),
            serde_json::json!({ "perms": ["members.manage", "platform.reader"] }),
            serde_json::json!({ "uid": null }),
        ] {
            for e in [&Endpoint::Tenants, &acme] {
                assert!(
                    matches!(
                        e.authorise(&context(claims.clone())),
                        Err(ApiError::NotPlatformAdmin)
                    ),
                    "{claims} {e:?}"
                );
            }
        }
        // A tenant's endpoint with another tenant's context, or the platform context: 404.
        assert!(matches!(
            Endpoint::Grant("globex".into()).authorise(&context(serde_json::json!({}))),
            Err(ApiError::NotFound("tenant"))
        ));
        let platform_named = serde_json::json!({
            "tid": "00000000-0000-0000-0000-000000000000", "slug": "acme"
        });
        assert!(matches!(
            acme.authorise(&context(platform_named)),
            Err(ApiError::NotFound("tenant"))
        ));
        assert!(matches!(
            acme.authorise(&context(nil)),
            Err(ApiError::NotFound("tenant"))
        ));
    }
}
