//! The tenant context token as backends read it: the contract's claims, decoded without
//! verifying the signature (Postgres verifies it, and the expiry, on every statement).

use tenant_contract::context::{decode_unverified, ContextClaims};

use crate::DbError;

/// The request header the gateway puts the signed context in.
pub use tenant_contract::context::CONTEXT_HEADER;

/// The request's tenant context: the raw token (bound in Postgres, which verifies it)
/// and its claims (read here, unverified, only to choose the database and answer early).
#[derive(Debug, Clone)]
pub struct TenantContext {
    token: String,
    claims: ContextClaims,
}

impl TenantContext {
    /// Reads the context from a header value.
    ///
    /// Fails with [`DbError::NoContext`] for a missing or empty value and
    /// [`DbError::BadContext`] for one that is not `v2~<kid>~<fields>~<sig>` of the shape
    /// Postgres accepts, with claims of the contract's shape (valid ids, a known placement
    /// with its fields). Passing here proves nothing about the signature: Postgres checks
    /// it on every statement, and a forged token sees no rows.
    pub fn parse(value: Option<&str>) -> Result<TenantContext, DbError> {
        let token = value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(DbError::NoContext)?;
        let claims = decode_unverified(token).map_err(|_| DbError::BadContext)?;
        Ok(TenantContext {
            token: token.to_owned(),
            claims,
        })
    }

    /// The claims (unverified).
    pub fn claims(&self) -> &ContextClaims {
        &self.claims
    }

    /// The raw token, as Postgres receives it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether the context grants `permission` (e.g. `tasks.write`).
    pub fn has_permission(&self, permission: &str) -> bool {
        self.claims.has_permission(permission)
    }

    /// The request id the gateway assigned.
    pub fn request_id(&self) -> &str {
        self.claims.rid.as_str()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tenant_contract::context::{payload_from_json, ContextSigner};
    use tenant_contract::Placement;

    /// A token signed with a test key for claims given as JSON (the contract's serde shape).
    pub(crate) fn encode(json: &str) -> String {
        let claims: serde_json::Value = serde_json::from_str(json).unwrap();
        ContextSigner::new("k1", &[1; 32])
            .unwrap()
            .sign_payload(&payload_from_json(&claims))
            .into_string()
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = encode(
            r#"{"tid":"a0000000-0000-4000-8000-000000000001","slug":"acme","plc":"schema","db":null,
               "sch":"tenant_acme","uid":null,"roles":["member"],"perms":["tasks.read"],"rid":"r","exp":9}"#,
        );
        let ctx = TenantContext::parse(Some(&t)).unwrap();
        assert_eq!(ctx.claims().placement.kind(), "schema");
        assert_eq!(
            ctx.claims().placement.schema().map(|s| s.as_str()),
            Some("tenant_acme")
        );
        assert!(ctx.has_permission("tasks.read"));
        assert!(!ctx.has_permission("tasks.write"));
        assert!(!ctx.claims().ro);
        assert_eq!(ctx.request_id(), "r");
        assert!(matches!(ctx.claims().placement, Placement::Schema { .. }));
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
        let good = encode(
            r#"{"tid":"a0000000-0000-4000-8000-000000000001","slug":"acme","plc":"shared","rid":"r","exp":9}"#,
        );
        assert!(TenantContext::parse(Some(&good)).is_ok(), "control");
        let sig = "a".repeat(64);
        for bad in [
            "v1.k1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            good.replacen("v2~", "v1~", 1),
            good.replacen("~k1~", "~~", 1),
            format!("{good}~extra"),
            format!("{}~sig", &good[..good.len() - 65]),
            format!("v2~k1~9~~~~~~~~~~~{sig}"),
        ] {
            assert!(
                matches!(TenantContext::parse(Some(&bad)), Err(DbError::BadContext)),
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
