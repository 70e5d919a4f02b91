//! A throwaway PostgreSQL cluster on a free loopback port, stopped on drop. Every test starts
//! its own: `DATABASE_URL` is not read here, so a developer's own server (the one `run.sh` may
//! be pointed at) is never touched by the tests' migrations and drops.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::free_port;

/// The roles whose connection strings carry the pinned settings (`control/connection-options.conf`).
pub const APP_ROLES: [&str; 2] = ["tenantgate_app", "tenantgate_directory"];

/// A running cluster; stopped (immediately) on drop.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    url_base: String,
}

/// Where the PostgreSQL server binaries are (`PG_BIN`, else the newest under
/// `/usr/lib/postgresql`).
pub fn pg_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PG_BIN") {
        return PathBuf::from(p);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions
        .pop()
        .expect("PostgreSQL server binaries (run scripts/setup.sh)")
}

fn is_root() -> bool {
    // SAFETY-free: read our uid from /proc rather than linking libc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root.
fn pg_command(bin: &Path, tool: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

impl PgCluster {
    /// Starts a fresh cluster (superuser `postgres`, trust auth on loopback only).
    pub fn start() -> PgCluster {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("tg-pg-")
            .tempdir()
            .expect("tempdir");
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(st.success());
        }
        let data = dir.path().join("data");
        let out = pg_command(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A port taken between free_port() and the server's bind is retried with another.
        let port = crate::on_a_free_port("postgres", free_port, |port| {
            match start_server(&bin, dir.path(), port) {
                Ok(()) => Some(port),
                Err(log) if log.contains("could not bind") => {
                    eprintln!("postgres: port {port} taken, trying another: {log}");
                    None
                }
                Err(log) => panic!("pg_ctl start failed: {log}"),
            }
        });
        PgCluster {
            dir,
            bin,
            port,
            url_base: format!("postgres://postgres@127.0.0.1:{port}"),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("{}/{database}", self.url_base)
    }

    /// Runs SQL as the superuser with `psql` semantics (multi-statement), panicking on error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin_or_path("psql"))
            .arg(self.url(database))
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Applies a SQL file in one transaction as the superuser (`psql -1`), with extra
    /// server options (e.g. `-c search_path=app`); returns psql's stderr on failure.
    pub fn apply_file(&self, database: &str, file: &Path, pgoptions: &str) -> Result<(), String> {
        let out = Command::new(self.bin_or_path("psql"))
            .arg(self.url(database))
            .args(["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(file)
            .env("PGOPTIONS", pgoptions)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A connection URL for `database` as `user` (trust authentication on loopback). For the
    /// application roles (`tenantgate_app`, `tenantgate_directory`) it is the URL as the deployment
    /// makes it: with the pinned settings as its `options`
    /// ([`tenantgate_control::connection::pin_url`]), so every test connects as the demo does and a
    /// role-level setting a backend persisted changes none of them. [`PgCluster::url_unpinned`] is
    /// the bare URL, for tests that show what the pinning prevents.
    pub fn url_as(&self, user: &str, database: &str) -> String {
        let url = self.url_unpinned(user, database);
        if APP_ROLES.contains(&user) {
            tenantgate_control::connection::pin_url(&url)
        } else {
            url
        }
    }

    /// A connection URL for `database` as `user` without any `options`.
    pub fn url_unpinned(&self, user: &str, database: &str) -> String {
        let rest = self
            .url_base
            .split_once('@')
            .map(|(_, r)| r)
            .unwrap_or(&self.url_base);
        format!("postgres://{user}@{rest}/{database}")
    }

    fn bin_or_path(&self, tool: &str) -> PathBuf {
        let p = self.bin.join(tool);
        if p.exists() {
            p
        } else {
            PathBuf::from(tool)
        }
    }

    /// Starts the stopped server again, same data and port (for recovery tests).
    pub fn restart(&self) {
        if let Err(log) = start_server(&self.bin, self.dir.path(), self.port) {
            panic!("pg_ctl restart failed: {log}");
        }
    }

    /// Stops the server now (fast shutdown: clients are cut off, committed data kept), for
    /// fail-closed tests; [`PgCluster::restart`] brings it back.
    pub fn stop(&self) {
        let _ = pg_command(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .output();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `pg_ctl start` of the cluster in `dir` on `port` (loopback only, durability off: test data);
/// the output and server log on failure.
fn start_server(bin: &Path, dir: &Path, port: u16) -> Result<(), String> {
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        dir.display()
    );
    let out = pg_command(bin, "pg_ctl")
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-o", &opts, "-w", "-l"])
        .arg(dir.join("server.log"))
        .arg("start")
        .output()
        .expect("pg_ctl start");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        ))
    }
}
