//! Guest fixtures under `tests/fixtures/`, built once per test process for
//! `wasm32-wasip2` and run by name.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::workspace_root;

/// Every fixture crate under `tests/fixtures/` (directory names).
pub fn all_fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("tests/fixtures"))
        .expect("tests/fixtures exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Builds the components of the workspace packages `packages` (release, wasm32-wasip2)
/// and returns the target directory holding them.
pub fn build_wasm(packages: &[&str]) -> PathBuf {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd.status().expect("running cargo to build wasm fixtures");
    assert!(
        status.success(),
        "building {packages:?} for wasm32-wasip2 failed"
    );
    target_dir().join("wasm32-wasip2/release")
}

/// The cargo target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The `.wasm` of fixture `name` (e.g. `"probe"`), building all fixtures on first use.
pub fn fixture(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let pkgs: Vec<String> = all_fixture_names()
            .iter()
            .map(|n| format!("fixture-{n}"))
            .collect();
        let refs: Vec<&str> = pkgs.iter().map(String::as_str).collect();
        build_wasm(&refs)
    });
    let path = dir.join(format!("fixture_{}.wasm", name.replace('-', "_")));
    assert!(
        path.exists(),
        "fixture {name} was not built at {}",
        path.display()
    );
    path
}

/// The `.wasm` of the app's own component `name` (a package under `components/`),
/// built (release, wasm32-wasip2) on first use, all app components at once.
pub fn component(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| build_wasm(&["gateway", "tasks", "orgs", "platform"]));
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    assert!(
        path.exists(),
        "component {name} was not built at {}",
        path.display()
    );
    path
}

/// The `tenantgate` binary (debug), built on first use.
pub fn host_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .current_dir(workspace_root())
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "tenantgate",
                    "--bin",
                    "tenantgate",
                ])
                .status()
                .expect("running cargo to build the host");
            assert!(status.success(), "building the tenantgate binary failed");
            target_dir().join("debug/tenantgate")
        })
        .clone()
}
