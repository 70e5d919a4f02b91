//! `scripts/spin-conformance.sh`, the checks a Spin user runs against a real `spin`
//! binary, run here against the project's own host with `--spin-compat 4.0`: the same
//! script, the same demo data and variables as `scripts/run.sh`, on a throwaway Postgres.

use std::process::Command;

use tenantgate_tests::fixtures::{component, host_binary, target_dir};
use tenantgate_tests::postgres::PgCluster;
use tenantgate_tests::workspace_root;

#[test]
fn the_conformance_script_passes_on_the_projects_own_host() {
    let pg = PgCluster::start();
    component("gateway");
    let tenantgate = host_binary();
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/spin-conformance.sh"))
        .current_dir(workspace_root())
        .env("SPIN", &tenantgate)
        .env("TENANTGATE", &tenantgate)
        .env("DATABASE_URL", pg.url("postgres"))
        // The compiled components the other tests already cached (a debug host compiles slowly).
        .env(
            "TENANTGATE_CACHE_DIR",
            target_dir().join("tenantgate-test-cache"),
        )
        .env_remove("SPIN_VARIABLE_ANONYMOUS_PERMISSIONS")
        .output()
        .expect("running scripts/spin-conformance.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the conformance script failed:\n{stdout}\n{stderr}"
    );
    // It ran its checks (it did not skip), on our host, and every one passed.
    assert!(stderr.contains("runtime: tenantgate"), "{stderr}");
    assert!(stderr.contains("all checks passed"), "{stderr}");
    let passed = stdout.lines().filter(|l| l.starts_with("  ok ")).count();
    assert!(passed >= 14, "only {passed} checks passed:\n{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn the_conformance_script_skips_clearly_without_spin() {
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/spin-conformance.sh"))
        .current_dir(workspace_root())
        .env("PATH", "/usr/bin:/bin")
        .env_remove("SPIN")
        .output()
        .expect("running scripts/spin-conformance.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("SKIPPED"), "{stderr}");
    assert!(!stderr.contains("checking"), "{stderr}");
}
