//! The `tenantgate up` command as a user runs it: flags, start-up errors, the request
//! log, graceful shutdown on SIGTERM, and the on-disk compilation cache.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tenantgate_tests::fixtures::{fixture, host_binary};
use tenantgate_tests::free_port;

fn write_app(dir: &std::path::Path, extra_vars: &str) {
    let manifest = format!(
        r#"
spin_manifest_version = 2
[application]
name = "cli"
[variables]
greeting = {{ default = "hi" }}
{extra_vars}
[[trigger.http]]
route = "/hello"
component = "hello"
[component.hello]
source = "{}"
"#,
        fixture("hello").display()
    );
    std::fs::write(dir.join("spin.toml"), manifest).unwrap();
}

/// The compiled artifacts in a wasmtime cache directory, with their modification times.
/// An artifact is named by its hash alone; wasmtime's cache worker also writes, in the
/// background after a hit, `<hash>.stats` usage files through `<hash>.wip-atomic-write-stats`
/// temporaries (and dot-file cleanup markers). Those say nothing about recompiling, so only
/// names without a dot count.
fn cache_artifacts(dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    fn walk(d: &std::path::Path, out: &mut Vec<(std::path::PathBuf, std::time::SystemTime)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.filter_map(|e| e.ok()) {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(&path, out);
            } else if !name.contains('.') {
                let modified = e.metadata().and_then(|m| m.modified()).unwrap();
                out.push((path, modified));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

#[test]
fn missing_required_variable_fails_at_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "db_password = { required = true, secret = true }",
    );
    let out = Command::new(host_binary())
        .args([
            "up",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--from",
        ])
        .arg(dir.path())
        .env_remove("SPIN_VARIABLE_DB_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("db_password"), "{stderr}");
}

#[test]
fn serves_logs_each_request_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path(), "");
    let cache = dir.path().join("cache");
    let port = free_port();
    let start = |cache: &std::path::Path| {
        Command::new(host_binary())
            .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--from"])
            .arg(dir.path().join("spin.toml"))
            .arg("--cache-dir")
            .arg(cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = start(&cache);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains(&format!("http://127.0.0.1:{port}")), "{line}");

    let body = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let r = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .get(format!("http://127.0.0.1:{port}/hello"))
                .header("host", "acme.localhost")
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    })
    .join()
    .unwrap();
    assert_eq!(body, (200, "hello".to_owned()));

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "host did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful exit: {status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("GET acme.localhost /hello 200"), "{stderr}");

    // The compiled component was cached; a second start reuses it and adds nothing.
    let cached = cache_artifacts(&cache);
    assert!(!cached.is_empty(), "cache is empty");
    let mut again = start(&cache);
    let mut line = String::new();
    BufReader::new(again.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("Serving"), "{line}");
    again.kill().unwrap();
    again.wait().unwrap();
    assert_eq!(cache_artifacts(&cache), cached, "second start recompiled");
}
