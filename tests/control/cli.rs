//! Running the binary and the world it runs against.

use std::path::{Path, PathBuf};
use std::process::Command;

use tenantgate_tests::fixtures::host_binary;
use tenantgate_tests::postgres::PgCluster;
use tenantgate_tests::workspace_root;

/// What one command did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with the output unless the command succeeded.
    pub fn ok(self) -> Out {
        assert_eq!(
            self.code, 0,
            "command failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Two servers: `control` (control plane, shared placement, schemas) and `eu` (a dedicated target).
pub struct World {
    pub control: PgCluster,
    pub eu: PgCluster,
    pub migrations: PathBuf,
}

impl World {
    pub fn start() -> World {
        World {
            control: PgCluster::start(),
            eu: PgCluster::start(),
            migrations: workspace_root().join("migrations"),
        }
    }

    /// `tenantgate <args>` with the world's connection settings.
    pub fn tg(&self, args: &[&str]) -> Out {
        self.tg_with(&self.migrations, args)
    }

    /// Same, with another migrations directory.
    pub fn tg_with(&self, migrations: &Path, args: &[&str]) -> Out {
        self.run(migrations, &[], args)
    }

    /// Same, with environment overrides.
    pub fn tg_env(&self, env: &[(&str, &str)], args: &[&str]) -> Out {
        self.run(&self.migrations, env, args)
    }

    fn run(&self, migrations: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
        let mut cmd = Command::new(host_binary());
        cmd.args(args)
            .args(["--migrations", &migrations.display().to_string()])
            .env("DATABASE_URL", self.control.url("postgres"))
            .env(
                "TENANTGATE_TARGETS",
                format!("eu={}", self.eu.url("postgres")),
            )
            .env("TENANTGATE_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("running tenantgate");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// One value from the control plane (superuser).
    pub fn control_sql(&self, sql: &str) -> String {
        self.control.psql("postgres", sql).trim().to_string()
    }
}

/// A copy of the project's migrations plus `extra` files, in a fresh directory.
pub fn migrations_with(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(workspace_root().join("migrations")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    for (name, text) in extra {
        let version = &name[..4];
        let clash = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(version));
        assert!(
            clash.is_none(),
            "test migration {name} shares its version with the project's {clash:?}: pick another"
        );
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}
