//! `tenant-contract`: what every part of tenantgate agrees on about a tenant, defined once.
//!
//! - [`ids`]: identities as validated newtypes — [`TenantId`], [`TenantSlug`] (with the
//!   [reserved labels](ids::RESERVED_LABELS)), [`RoleName`], [`Permission`],
//!   [`RequestId`], [`SchemaName`], [`DatabaseTarget`];
//! - [`host`]: the one host normaliser ([`Hostname`]: lower case, trailing dot, IDNA
//!   UTS-46, port), for request hosts and custom domains alike;
//! - [`placement`]: the one [`Placement`] type (shared, schema, dedicated), converted to and
//!   from the routing table's columns;
//! - [`context`]: the signed tenant context (`x-tenant-context`, `v2~<kid>~<fields>~<sig>`,
//!   byte-compatible with what Postgres verifies): claims, signing, verification;
//! - [`error`]: the JSON error body and every stable [`ErrorCode`];
//! - [`headers`]: the contract's header names and the hop-by-hop list.
//!
//! No Spin or WASI dependency and no token (JWT) machinery: the gateway, the backends'
//! `tenant-db`, the control plane and the tests all use it, natively and in wasm.
//!
//! # Example
//!
//! ```
//! use tenant_contract::context::{decode_unverified, verify, ContextClaims, ContextSigner};
//! use tenant_contract::host::{normalise_host, HostConfig, RequestTarget};
//! use tenant_contract::{error_body, ErrorCode, Placement, UnixMillis};
//!
//! // A request's host, normalised once.
//! let target = RequestTarget::parse("/api/tasks").unwrap();
//! let host = normalise_host(&[b"ACME.App.Example.:443"], &target, &HostConfig::default()).unwrap();
//! assert_eq!(host.as_str(), "acme.app.example");
//!
//! // The context the gateway signs and Postgres verifies.
//! let signer = ContextSigner::new("k1", &[7; 32]).unwrap();
//! let now = UnixMillis(1_700_000_000_000);
//! let claims = ContextClaims {
//!     tid: "0b3a6f2e-51b7-4c9d-8e1f-0123456789ab".parse().unwrap(),
//!     slug: "acme".parse().unwrap(),
//!     placement: Placement::from_columns("schema", None, Some("tenant_acme")).unwrap(),
//!     uid: None,
//!     roles: vec!["member".parse().unwrap()],
//!     perms: vec!["tasks.read".parse().unwrap()],
//!     rid: "req-1".parse().unwrap(),
//!     exp: signer.expiry(now),
//!     ro: false,
//! };
//! let token = signer.sign(&claims);
//! assert!(token.as_str().starts_with("v2~k1~1700000030~0b3a6f2e-"));
//! assert_eq!(verify(token.as_str(), &[("k1", &[7; 32])], now), Ok(claims.clone()));
//! assert_eq!(decode_unverified(token.as_str()).unwrap().placement.search_path(), "tenant_acme");
//!
//! // Every refusal's body.
//! assert_eq!(
//!     error_body(ErrorCode::TenantSuspended, "This tenant is suspended.", "req-1"),
//!     r#"{"error":{"code":"tenant_suspended","message":"This tenant is suspended.","request_id":"req-1"}}"#
//! );
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod context;
pub mod error;
pub mod headers;
pub mod host;
pub mod ids;
pub mod limits;
pub mod placement;
mod time;

pub use context::{ContextClaims, ContextError, ContextSigner, SignedContext};
pub use error::{error_body, ErrorCode};
pub use host::{HostConfig, HostError};
pub use ids::{
    DatabaseTarget, Hostname, InvalidId, Permission, RequestId, RoleName, SchemaName, TenantId,
    TenantSlug,
};
pub use placement::{InvalidPlacement, Placement};
pub use time::UnixMillis;
