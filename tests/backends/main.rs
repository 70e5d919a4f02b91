//! Backend components against real Postgres, through the host: the `tasks` API in every
//! placement, a hostile component running arbitrary SQL, the cross-tenant matrix, and a
//! dedicated database going away.
//!
//! Every forbidden request is paired with an allowed control, and the rows a forbidden
//! request aimed at are checked unchanged, so a gate that lets everything through, or
//! nothing, fails here.

mod api;
mod envelope;
mod hostile;
mod matrix;
mod outlive;
mod role_settings;
mod world;
