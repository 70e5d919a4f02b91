//! The tenant context token as backends read it.

use base64::Engine as _;
use serde::Deserialize;

use crate::DbError;

/// The request header the gateway puts the signed context in.
pub const CONTEXT_HEADER: &str = "x-tenant-context";

/// Where a tenant's data lives (the routing table's `placement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacementKind {
    /// Schema `app` of the control-plane database, shared under RLS.
    Shared,
    /// A schema of its own, in a target database or the control-plane one.
    Schema,
    /// Schema `app` of a database of its own.
    Dedicated,
}

/// The claims of a context token (`v1.<kid>.<payload>.<sig>`, payload base64url JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// Tenant id (uuid).
    pub tid: String,
    /// Tenant slug.
    pub slug: String,
    /// Placement kind.
    pub plc: PlacementKind,
    /// Database target name (`schema` and `dedicated` placements), if any.
    #[serde(default)]
    pub db: Option<String>,
    /// Schema name (`schema` placement).
    #[serde(default)]
    pub sch: Option<String>,
    /// The authenticated user, if any.
    #[serde(default)]
    pub uid: Option<String>,
    /// Role names of the user in the tenant.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Permissions the roles grant (`tasks.read`, ...).
    #[serde(default)]
    pub perms: Vec<String>,
    /// Request id, for errors and audit.
    #[serde(default)]
    pub rid: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// True while the tenant is being moved between placements: writes are refused.
    #[serde(default)]
    pub ro: bool,
}

/// The request's tenant context: the raw token (bound in Postgres, which verifies it)
/// and its claims (read here, unverified, only to choose the database and answer early).
#[derive(Debug, Clone)]
pub struct TenantContext {
    token: String,
    claims: Claims,
}

impl TenantContext {
    /// Reads the context from a header value.
    ///
    /// Fails with [`DbError::NoContext`] for a missing or empty value and
    /// [`DbError::BadContext`] for one that is not `v1.<kid>.<payload>.<sig>` with a JSON
    /// payload of the expected shape. Passing here proves nothing about the signature:
    /// Postgres checks it on every statement, and a forged token sees no rows.
    pub fn parse(value: Option<&str>) -> Result<TenantContext, DbError> {
        let token = value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(DbError::NoContext)?;
        let parts: Vec<&str> = token.split('.').collect();
        let [version, kid, payload, sig] = parts.as_slice() else {
            return Err(DbError::BadContext);
        };
        if *version != "v1" || kid.is_empty() || sig.is_empty() {
            return Err(DbError::BadContext);
        }
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| DbError::BadContext)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| DbError::BadContext)?;
        Ok(TenantContext {
            token: token.to_owned(),
            claims,
        })
    }

    /// The claims (unverified).
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The raw token, as Postgres receives it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether the context grants `permission` (e.g. `tasks.write`).
    pub fn has_permission(&self, permission: &str) -> bool {
        self.claims.perms.iter().any(|p| p == permission)
    }

    /// The request id the gateway assigned (empty when absent).
    pub fn request_id(&self) -> &str {
        &self.claims.rid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(json: &str) -> String {
        format!(
            "v1.k1.{}.sig",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        )
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = encode(
            r#"{"tid":"a0000000-0000-4000-8000-000000000001","slug":"acme","plc":"schema","db":null,
               "sch":"tenant_acme","uid":null,"roles":["member"],"perms":["tasks.read"],"rid":"r","exp":9}"#,
        );
        let ctx = TenantContext::parse(Some(&t)).unwrap();
        assert_eq!(ctx.claims().plc, PlacementKind::Schema);
        assert_eq!(ctx.claims().sch.as_deref(), Some("tenant_acme"));
        assert!(ctx.has_permission("tasks.read"));
        assert!(!ctx.has_permission("tasks.write"));
        assert!(!ctx.claims().ro);
    }

    #[test]
    fn refuses_missing_and_malformed_tokens() {
        assert!(matches!(
            TenantContext::parse(None),
            Err(DbError::NoContext)
        ));
        assert!(matches!(
            TenantContext::parse(Some(" ")),
            Err(DbError::NoContext)
        ));
        for bad in [
            "v1.k1.e30",
            "v2.k1.e30.sig",
            "v1..e30.sig",
            "v1.k1.!!!.sig",
            "v1.k1.e30.sig.extra",
        ] {
            assert!(
                matches!(TenantContext::parse(Some(bad)), Err(DbError::BadContext)),
                "{bad}"
            );
        }
        // Well-formed envelope, payload missing required claims or naming no known placement.
        assert!(matches!(
            TenantContext::parse(Some(&encode(r#"{"tid":"x"}"#))),
            Err(DbError::BadContext)
        ));
        assert!(matches!(
            TenantContext::parse(Some(&encode(
                r#"{"tid":"x","slug":"s","plc":"elsewhere","exp":1}"#
            ))),
            Err(DbError::BadContext)
        ));
    }
}
