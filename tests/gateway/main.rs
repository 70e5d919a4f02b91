//! The project's own `spin.toml` on the host: the gateway in front of `tasks`, against
//! real Postgres. Tenants by subdomain and custom domain, lifecycle, forged headers,
//! refusals in the one JSON shape, and failing closed when the control plane is down.
//! Every forbidden request is paired with an allowed one.

mod app;
mod attacks;
mod browser;
mod browser_home;
mod browser_orgs;
mod browser_platform;
mod bundle;
mod conformance;
mod lifecycle;
mod limits;
mod org_auth;
mod orgs;
mod platform_api;
mod saml;
mod sso;
mod tokens;
mod web;
