//! Which endpoint a request names, and what the context must hold to reach it.

use spin_sdk::http::Method;
use tenant_db::TenantContext;

use crate::ApiError;

/// What a route needs from the context before any query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A context naming a user (any member; SQL narrows further).
    SignedIn,
    /// A context naming a user, with this permission.
    Permission(&'static str),
    /// A context naming a user; a member without `members.manage` may still remove
    /// themselves (SQL decides).
    ManageOrSelf,
}

/// The endpoints of `/api/org`. Item ids are validated (uuids lower-case, names by their
/// pattern) before they reach SQL; anything else is 404 like a missing item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Me,
    Permissions,
    Organisations,
    CreateOrganisation,
    Members,
    UpdateMember(String),
    RemoveMember(String),
    Invitations,
    CreateInvitation,
    ResendInvitation(String),
    RevokeInvitation(String),
    AcceptInvitation,
    Roles,
    CreateRole,
    UpdateRole(String),
    DeleteRole(String),
    Domains,
    AddDomain,
    RemoveDomain(String),
    Sso,
    UpdateSso,
    Usage,
    Audit,
    AuditExport,
}

impl Endpoint {
    /// Parses method and path. Unknown paths are 404 `not_found`, a known path with another
    /// method 405, an item name that cannot exist 404.
    pub fn parse(method: &Method, path: &str) -> Result<Endpoint, ApiError> {
        use Endpoint as E;
        use Method as M;
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let ["api", "org", rest @ ..] = segments.as_slice() else {
            return Err(ApiError::NoRoute);
        };
        let get = matches!(method, M::Get | M::Head);
        let uuid = |s: &str, what| crate::wire::parse_uuid(s).ok_or(ApiError::NotFound(what));
        let name = |s: &str, what| {
            crate::wire::parse_name(s)
                .map(str::to_owned)
                .ok_or(ApiError::NotFound(what))
        };
        let endpoint = match (rest, method) {
            (["me"], _) if get => E::Me,
            (["permissions"], _) if get => E::Permissions,
            (["organisations"], _) if get => E::Organisations,
            (["organisations"], M::Post) => E::CreateOrganisation,
            (["members"], _) if get => E::Members,
            (["members", id], M::Patch) => E::UpdateMember(uuid(id, "member")?),
            (["members", id], M::Delete) => E::RemoveMember(uuid(id, "member")?),
            (["invitations"], _) if get => E::Invitations,
            (["invitations"], M::Post) => E::CreateInvitation,
            (["invitations", "accept"], M::Post) => E::AcceptInvitation,
            (["invitations", id, "resend"], M::Post) => {
                E::ResendInvitation(uuid(id, "invitation")?)
            }
            (["invitations", id, "revoke"], M::Post) => {
                E::RevokeInvitation(uuid(id, "invitation")?)
            }
            (["roles"], _) if get => E::Roles,
            (["roles"], M::Post) => E::CreateRole,
            (["roles", n], M::Patch) => E::UpdateRole(name(n, "role")?),
            (["roles", n], M::Delete) => E::DeleteRole(name(n, "role")?),
            (["domains"], _) if get => E::Domains,
            (["domains"], M::Post) => E::AddDomain,
            (["domains", d], M::Delete) => E::RemoveDomain(name(d, "domain")?),
            (["sso"], _) if get => E::Sso,
            (["sso"], M::Patch) => E::UpdateSso,
            (["usage"], _) if get => E::Usage,
            (["audit"], _) if get => E::Audit,
            (["audit", "export"], _) if get => E::AuditExport,
            // The path exists with other methods: 405.
            (
                ["me"]
                | ["permissions"]
                | ["organisations"]
                | ["members"]
                | ["members", _]
                | ["invitations"]
                | ["invitations", "accept"]
                | ["invitations", _, "resend"]
                | ["invitations", _, "revoke"]
                | ["roles"]
                | ["roles", _]
                | ["domains"]
                | ["domains", _]
                | ["sso"]
                | ["usage"]
                | ["audit"]
                | ["audit", "export"],
                _,
            ) => return Err(ApiError::MethodNotAllowed),
            _ => return Err(ApiError::NoRoute),
        };
        Ok(endpoint)
    }

    /// What the context must hold.
    pub fn needs(&self) -> Needs {
        use Endpoint as E;
        match self {
            E::Me
            | E::Permissions
            | E::Organisations
            | E::CreateOrganisation
            | E::AcceptInvitation => Needs::SignedIn,
            E::Members | E::Invitations | E::Roles => Needs::Permission("members.read"),
            E::UpdateMember(_)
            | E::CreateInvitation
            | E::ResendInvitation(_)
            | E::RevokeInvitation(_) => Needs::Permission("members.manage"),
            E::RemoveMember(_) => Needs::ManageOrSelf,
            E::CreateRole | E::UpdateRole(_) | E::DeleteRole(_) => {
                Needs::Permission("roles.manage")
            }
            E::Domains | E::AddDomain | E::RemoveDomain(_) => Needs::Permission("domains.manage"),
            E::Sso | E::UpdateSso => Needs::Permission("sso.manage"),
            E::Usage => Needs::Permission("usage.read"),
            E::Audit | E::AuditExport => Needs::Permission("audit.read"),
        }
    }

    /// Refuses the request unless the context names a user (401) and holds the permission
    /// (403, naming it). The claims are read unverified here; Postgres verifies the context on
    /// every statement and the functions check again.
    pub fn authorise(&self, ctx: &TenantContext) -> Result<(), ApiError> {
        let Some(uid) = ctx.claims().uid.as_ref() else {
            return Err(ApiError::Unauthenticated);
        };
        match self.needs() {
            Needs::SignedIn => Ok(()),
            Needs::Permission(p) if ctx.has_permission(p) => Ok(()),
            Needs::Permission(p) => Err(ApiError::Forbidden(p)),
            Needs::ManageOrSelf => match self {
                Endpoint::RemoveMember(id)
                    if ctx.has_permission("members.manage")
                        || id.eq_ignore_ascii_case(&uid.to_string()) =>
                {
                    Ok(())
                }
                _ => Err(ApiError::Forbidden("members.manage")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "a2000000-0000-4000-8000-000000000001";

    #[test]
    fn endpoints_and_what_they_need() {
        let e = Endpoint::parse(
            &Method::Patch,
            &format!("/api/org/members/{}", ID.to_uppercase()),
        )
        .unwrap();
        assert_eq!(e, Endpoint::UpdateMember(ID.into()));
        assert_eq!(e.needs(), Needs::Permission("members.manage"));
        let e =
            Endpoint::parse(&Method::Post, &format!("/api/org/invitations/{ID}/resend/")).unwrap();
        assert_eq!(e, Endpoint::ResendInvitation(ID.into()));
        assert_eq!(
            Endpoint::parse(&Method::Post, "/api/org/invitations/accept").unwrap(),
            Endpoint::AcceptInvitation
        );
        assert_eq!(
            Endpoint::parse(&Method::Delete, "/api/org/domains/portal.acme.test").unwrap(),
            Endpoint::RemoveDomain("portal.acme.test".into())
        );
        assert_eq!(
            Endpoint::parse(&Method::Get, "/api/org/audit/export")
                .unwrap()
                .needs(),
            Needs::Permission("audit.read")
        );
        assert_eq!(
            Endpoint::parse(&Method::Delete, &format!("/api/org/members/{ID}"))
                .unwrap()
                .needs(),
            Needs::ManageOrSelf
        );
    }

    #[test]
    fn unknown_paths_methods_and_items() {
        for path in [
            "/",
            "/api",
            "/api/org",
            "/api/org/memberz",
            "/api/orgs/me",
            "/api/org/me/x",
        ] {
            assert!(
                matches!(Endpoint::parse(&Method::Get, path), Err(ApiError::NoRoute)),
                "{path}"
            );
        }
        for (m, path) in [
            (Method::Put, "/api/org/members"),
            (Method::Post, "/api/org/me"),
            (Method::Get, "/api/org/invitations/accept"),
            (Method::Delete, "/api/org/sso"),
        ] {
            assert!(
                matches!(Endpoint::parse(&m, path), Err(ApiError::MethodNotAllowed)),
                "{path}"
            );
        }
        for path in [
            "/api/org/members/not-a-uuid",
            "/api/org/roles/Bad%20Name",
            "/api/org/roles/a'b",
        ] {
            let m = if path.contains("roles") {
                Method::Delete
            } else {
                Method::Patch
            };
            assert!(
                matches!(Endpoint::parse(&m, path), Err(ApiError::NotFound(_))),
                "{path}"
            );
        }
    }
}
