//! The gateway's pure core: every decision the tenantgate gateway makes about a request,
//! with no Spin or WASI dependency. It builds natively (tests, criterion benches) and for
//! `wasm32-wasip2`; the gateway component implements its ports with Spin APIs.
//!
//! The life of a request is [`pipeline::handle`]:
//!
//! ```text
//! normalise host → resolve tenant → admit lifecycle → authenticate → authorise route
//!   → sign context → forwarding plan
//! Hostname → ResolvedTenant → ActiveTenant → Principal → Permit → Forward
//! ```
//!
//! Each stage has its own error enum; [`error::GatewayError::response`] is the one place
//! they become a status, a stable code and the JSON body of DESIGN §7.
//!
//! Ports (implemented by the component; in-memory fakes in [`fakes`]):
//! [`tenant::TenantDirectory`] (the control-plane lookups) and [`kv::KvCache`] (Spin
//! key-value). Time is passed in as [`kv::UnixMillis`]; the core never reads a clock.
//!
//! # Example
//!
//! ```
//! use gateway_core::prelude::*;
//! use gateway_core::fakes::{sample_tenant, MemoryDirectory, MemoryKv};
//!
//! let directory = MemoryDirectory::default();
//! directory.upsert(sample_tenant("acme"));
//! let ports = Ports { directory, kv: MemoryKv::default() };
//! let config = GatewayConfig {
//!     host: HostConfig::with_ports(&[3000]),
//!     resolver: ResolverConfig::new("app.localhost".parse().unwrap()),
//!     tenant_cache: TenantCacheConfig::default(),
//!     jwt: JwtVerifier::new([]),
//!     routes: RouteTable::parse("/api/tasks=tasks").unwrap(),
//!     limits: Limits::default(),
//!     context: ContextSigner::new("k1", &[7; 32]).unwrap(),
//!     anonymous_permissions: vec!["tasks.read".parse().unwrap()],
//! };
//! let req = RequestParts {
//!     method: "GET".into(),
//!     target: "http://acme.app.localhost:3000/api/tasks?page=2".into(),
//!     headers: vec![
//!         ("Host".into(), b"acme.app.localhost:3000".to_vec()),
//!         ("X-Tenant-Context".into(), b"forged".to_vec()),
//!     ],
//! };
//! let rid: RequestId = "req-1".parse().unwrap();
//! let forward = handle(&req, &config, &ports, UnixMillis(1_700_000_000_000), &rid).unwrap();
//! assert_eq!(forward.url(), "http://tasks.spin.internal/api/tasks?page=2");
//! let claims = gateway_core::context::decode_unverified(forward.context.as_str()).unwrap();
//! assert_eq!(claims.slug.as_str(), "acme");
//!
//! // Refusals map to one JSON shape.
//! let unknown = RequestParts { target: "/api/tasks".into(),
//!     headers: vec![("host".into(), b"nope.app.localhost".to_vec())], ..req };
//! let err = handle(&unknown, &config, &ports, UnixMillis(1_700_000_000_000), &rid).unwrap_err();
//! assert_eq!(err.response().status, 404);
//! assert_eq!(err.response().code, "unknown_tenant");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use tenant_contract::{context, host};

pub mod auth;
pub mod cache;
pub mod error;
pub mod fakes;
pub mod headers;
pub mod ids;
pub mod jwt;
mod jwt_config;
pub mod kv;
pub mod lifecycle;
pub mod pipeline;
pub mod resolve;
pub mod routes;
pub mod tenant;

/// The types a component needs to run the pipeline.
pub mod prelude {
    pub use crate::cache::TenantCacheConfig;
    pub use crate::context::ContextSigner;
    pub use crate::error::{BackendError, ErrorResponse, GatewayError};
    pub use crate::headers::{BodyCounter, Limits};
    pub use crate::host::HostConfig;
    pub use crate::ids::{ComponentId, Hostname, RequestId, TenantId, TenantSlug};
    pub use crate::jwt::{ClaimPath, IssuerConfig, JwtVerifier, OrgClaim};
    pub use crate::kv::{CacheUnavailable, KvCache, UnixMillis};
    pub use crate::pipeline::{handle, Forward, GatewayConfig, Ports, RequestParts};
    pub use crate::resolve::ResolverConfig;
    pub use crate::routes::RouteTable;
    pub use crate::tenant::{
        DirectoryUnavailable, Placement, TenantDirectory, TenantRecord, TenantStatus,
    };
}
