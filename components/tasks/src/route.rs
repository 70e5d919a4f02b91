//! Which operation a request names, and the permission it needs.

use spin_sdk::http::Method;
use tenant_db::TenantContext;

use crate::ApiError;

/// The collections this component serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/api/projects`
    Projects,
    /// `/api/tasks`
    Tasks,
}

/// An operation on a collection or on one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// GET the collection.
    List,
    /// POST to the collection.
    Create,
    /// GET an item.
    Get(String),
    /// PATCH an item.
    Update(String),
    /// DELETE an item.
    Delete(String),
}

/// A parsed route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The collection.
    pub resource: Resource,
    /// The operation; item ids are validated uuids (lower-case).
    pub op: Op,
}

impl Route {
    /// Parses method and path. Unknown paths are 404, a known path with another method
    /// 405, an item id that is not a uuid 404 (no such item can exist).
    pub fn parse(method: &Method, path: &str) -> Result<Route, ApiError> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let (resource, item) = match segments.as_slice() {
            ["api", "projects"] => (Resource::Projects, None),
            ["api", "tasks"] => (Resource::Tasks, None),
            ["api", "projects", id] => (Resource::Projects, Some(*id)),
            ["api", "tasks", id] => (Resource::Tasks, Some(*id)),
            _ => return Err(ApiError::NoRoute),
        };
        let op = match (method, item) {
            (Method::Get, None) => Op::List,
            (Method::Post, None) => Op::Create,
            (_, None) => return Err(ApiError::MethodNotAllowed),
            (m, Some(id)) => {
                let id = crate::wire::parse_uuid(id).ok_or(ApiError::NotFound(match resource {
                    Resource::Projects => "project",
                    Resource::Tasks => "task",
                }))?;
                match m {
                    Method::Get => Op::Get(id),
                    Method::Patch => Op::Update(id),
                    Method::Delete => Op::Delete(id),
                    _ => return Err(ApiError::MethodNotAllowed),
                }
            }
        };
        Ok(Route { resource, op })
    }

    /// The permission the operation needs.
    pub fn permission(&self) -> &'static str {
        match self.op {
            Op::List | Op::Get(_) => "tasks.read",
            Op::Create | Op::Update(_) | Op::Delete(_) => "tasks.write",
        }
    }

    /// Refuses the operation unless the context grants its permission. (The claims are
    /// read unverified; a forged context gets this far and then sees no rows, because
    /// Postgres verifies it.)
    pub fn authorise(&self, ctx: &TenantContext) -> Result<(), ApiError> {
        let needed = self.permission();
        if ctx.has_permission(needed) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(needed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "a2000000-0000-4000-8000-000000000001";

    #[test]
    fn routes_and_their_permissions() {
        let r = Route::parse(&Method::Get, "/api/tasks").unwrap();
        assert_eq!(
            (r.resource, r.op.clone(), r.permission()),
            (Resource::Tasks, Op::List, "tasks.read")
        );
        let r = Route::parse(&Method::Delete, &format!("/api/projects/{ID}/")).unwrap();
        assert_eq!(r.op, Op::Delete(ID.into()));
        assert_eq!(r.permission(), "tasks.write");
        let upper = ID.to_uppercase();
        assert_eq!(
            Route::parse(&Method::Patch, &format!("/api/tasks/{upper}"))
                .unwrap()
                .op,
            Op::Update(ID.into())
        );
    }

    #[test]
    fn unknown_paths_methods_and_ids() {
        for path in ["/", "/api", "/api/taskss", "/api/tasks/x/y", "/tasks"] {
            assert!(
                matches!(Route::parse(&Method::Get, path), Err(ApiError::NoRoute)),
                "{path}"
            );
        }
        assert!(matches!(
            Route::parse(&Method::Put, "/api/tasks"),
            Err(ApiError::MethodNotAllowed)
        ));
        assert!(matches!(
            Route::parse(&Method::Post, &format!("/api/tasks/{ID}")),
            Err(ApiError::MethodNotAllowed)
        ));
        assert!(matches!(
            Route::parse(&Method::Get, "/api/tasks/not-a-uuid"),
            Err(ApiError::NotFound("task"))
        ));
    }
}
