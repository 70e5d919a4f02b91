//! Runs the Node.js browser scripts in `tests/browser/` (Playwright driving Debian's headless
//! Chromium) and reads the JSON they print.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::workspace_root;

/// How long one browser script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The directory of the browser scripts, `tests/browser`.
pub fn scripts_dir() -> std::path::PathBuf {
    workspace_root().join("tests/browser")
}

/// Runs `node <script> <args…>` from `tests/browser` and returns the JSON object on the last
/// non-empty line of its stdout (e.g. `oidc_login.mjs` prints `{"url","status","body_text"}`).
///
/// Async so that servers running on the test's own runtime keep answering the browser. Panics,
/// with the script's stderr, when node or the npm packages are missing (run
/// `scripts/setup.sh`), when the script exits non-zero or prints no JSON, or after 120 s.
pub async fn run_node_script(script: &Path, args: &[&str]) -> Value {
    let dir = scripts_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "{}/node_modules is missing: run scripts/setup.sh",
        dir.display()
    );
    let child = tokio::process::Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node (run scripts/setup.sh)");
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} ran over {SCRIPT_TIMEOUT:?}", script.display()))
        .expect("wait for node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed ({}):\n{stderr}\n{stdout}",
        script.display(),
        output.status
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}):\n{stdout}\n{stderr}",
            script.display()
        )
    })
}

/// Runs `tests/browser/<name>` with `args` ([`run_node_script`]).
pub async fn run_script(name: &str, args: &[&str]) -> Value {
    run_node_script(&scripts_dir().join(name), args).await
}

/// `target/screenshots/<dir>`, as the browser scripts take it.
pub fn screenshots(dir: &str) -> String {
    workspace_root()
        .join("target/screenshots")
        .join(dir)
        .display()
        .to_string()
}

/// A JSON list of strings, as the scripts report them (panics on anything else).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_owned())
        .collect()
}
