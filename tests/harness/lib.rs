//! Test harness: builds guest fixtures, starts real Postgres, Redis and DNS servers on
//! free loopback ports, and runs the host in-process on a free port. Everything a
//! test starts stops when its handle is dropped.

pub mod browser;
pub mod dataplane;
pub mod dns;
pub mod fixtures;
pub mod host;
pub mod idp;
pub mod postgres;
pub mod redis;
pub mod saml_idp;

use std::net::TcpListener;

/// A free TCP port on 127.0.0.1, bound and released: another process may take it before the
/// caller binds it, so the servers the harness starts on one (Postgres, Redis, DNS, the OIDC
/// IdP) notice that and retry with another.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts a server (`what`, for the panic) on a port `pick` chooses, and again on another when
/// `start` answers `None` because the port was taken before the server bound it; five tries.
pub fn on_a_free_port<T>(
    what: &str,
    pick: impl Fn() -> u16,
    mut start: impl FnMut(u16) -> Option<T>,
) -> T {
    (0..5)
        .find_map(|_| start(pick()))
        .unwrap_or_else(|| panic!("{what} did not start on any of five ports"))
}

/// The workspace root.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}
