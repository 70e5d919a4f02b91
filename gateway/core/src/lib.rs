//! The gateway's pure core: every decision the tenantgate gateway makes about a request,
//! with no Spin or WASI dependency. It builds natively (tests, criterion benches) and for
//! `wasm32-wasip2`; the gateway component implements its ports with Spin APIs.
//!
//! The life of a request is [`pipeline::handle`], which returns a [`decision::Decision`]:
//! forward to a backend, or respond here (status, headers, body).
//!
//! ```text
//! check → host → credentials → resolve → admit → authenticate → bind → SSO policy
//!   → rate limit → authorise → sign → forward → Decision::Forward
//! Hostname → ResolvedTenant → ActiveTenant → Identity → Principal → Permit → Forward
//! ```
//!
//! Each stage has its own error enum; [`error::GatewayError::response`] is the one place
//! they become a status, a stable code, headers and the JSON body of docs/architecture.md §7 (the
//! contract's, `tenant-contract`), answered as a [`decision::Decision::Respond`].
//!
//! Ports, one per role ([`ports`]; implemented by the component with Spin APIs, in-memory
//! fakes in [`fakes`]): [`tenant::TenantDirectory`], [`kv::KvCache`],
//! [`ports::AtomicCounters`], [`ports::JwksSource`]; and the [`ports::Clock`] on its own,
//! read once per request.
//!
//! # Example
//!
//! ```
//! use gateway_core::prelude::*;
//! use gateway_core::fakes::{sample_tenant, MemoryCounters, MemoryDirectory, MemoryKv};
//!
//! let directory = MemoryDirectory::default();
//! directory.upsert(sample_tenant("acme"));
//! let ports = Ports {
//!     directory,
//!     cache: MemoryKv::default(),
//!     counters: MemoryCounters::default(),
//!     keys: JwtVerifier::new([]),
//! };
//! let config = GatewayConfig {
//!     host: HostConfig::with_ports(&[3000]),
//!     resolver: ResolverConfig::new("app.localhost".parse().unwrap()),
//!     tenant_cache: TenantCacheConfig::default(),
//!     routes: RouteTable::parse("/api/tasks=tasks").unwrap(),
//!     limits: Limits::default(),
//!     context: ContextSigner::new("k1", &[7; 32]).unwrap(),
//!     anonymous_permissions: vec!["tasks.read".parse().unwrap()],
//!     rate_limits: RateLimitConfig::default(),
//!     sessions: Default::default(), // no session key: no logins, cookies ignored
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
//! let now = UnixMillis(1_700_000_000_000); // a fixed instant is a clock
//! let Decision::Forward(forward) = handle(&req, &config, &ports, now, &rid) else {
//!     panic!("acme is served")
//! };
//! assert_eq!(forward.url(), "http://tasks.spin.internal/api/tasks?page=2");
//! let claims = gateway_core::context::decode_unverified(forward.context().as_str()).unwrap();
//! assert_eq!(claims.slug.as_str(), "acme");
//!
//! // Refusals are answered here, in one JSON shape.
//! let unknown = RequestParts { target: "/api/tasks".into(),
//!     headers: vec![("host".into(), b"nope.app.localhost".to_vec())], ..req };
//! let Decision::Respond(answer) = handle(&unknown, &config, &ports, now, &rid) else {
//!     panic!("nobody is served there")
//! };
//! assert_eq!(answer.status, 404);
//! assert_eq!(answer.header("content-type"), Some("application/json"));
//! assert!(String::from_utf8(answer.body).unwrap().contains(r#""code":"unknown_tenant""#));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use tenant_contract::{context, host, limits};

pub mod auth;
pub mod cache;
pub mod calendar;
pub mod decision;
pub mod error;
pub mod fakes;
pub mod gcra;
pub mod headers;
pub mod ids;
pub mod jwt;
mod jwt_config;
pub mod kv;
pub mod lifecycle;
pub mod metering;
pub mod pipeline;
pub mod platform;
pub mod ports;
pub mod ratelimit;
pub mod redis_scripts;
pub mod resolve;
pub mod routes;
pub mod sso;
pub mod tenant;

/// The types a component needs to run the pipeline.
pub mod prelude {
    pub use crate::cache::TenantCacheConfig;
    pub use crate::context::ContextSigner;
    pub use crate::decision::{Decision, Response};
    pub use crate::error::{BackendError, ErrorResponse, GatewayError};
    pub use crate::headers::{BodyCounter, Limits};
    pub use crate::host::HostConfig;
    pub use crate::ids::{ComponentId, Hostname, RequestId, TenantId, TenantSlug};
    pub use crate::jwt::{ClaimPath, IssuerConfig, JwtVerifier, OrgClaim};
    pub use crate::kv::{CacheUnavailable, KvCache, UnixMillis};
    pub use crate::limits::{LimitPolicy, Rate, RouteClass};
    pub use crate::metering::Meter;
    pub use crate::pipeline::{handle, handle_metered, Forward, GatewayConfig, RequestParts};
    pub use crate::ports::{AtomicCounters, Clock, JwksSource, Ports};
    pub use crate::ratelimit::{OnUnavailable, RateLimitConfig, RateLimitStore};
    pub use crate::resolve::ResolverConfig;
    pub use crate::routes::RouteTable;
    pub use crate::tenant::{
        DirectoryUnavailable, Placement, TenantDirectory, TenantRecord, TenantStatus,
    };
}
