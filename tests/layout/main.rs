//! The layout's own rules, checked from the sources: no crate of the workspace has an import
//! circle (`modgraph.rs` says what counts) beyond the ones still listed to be broken, and the
//! README's "Layout" table names every crate and nothing that is not there.

mod modgraph;

use std::path::{Path, PathBuf};

use modgraph::{display, Graph};
use tenantgate_tests::workspace_root;

/// Every crate root of the workspace's packages (libraries, binaries, tests, benches): its
/// package's name, the target's name for reports, its root file, and the package's directory
/// relative to the workspace.
fn crate_roots() -> Vec<(String, String, PathBuf, PathBuf)> {
    let root = workspace_root();
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut roots = Vec::new();
    for package in meta["packages"].as_array().expect("packages") {
        let manifest = PathBuf::from(package["manifest_path"].as_str().expect("manifest"));
        let dir = manifest
            .parent()
            .expect("a manifest has a directory")
            .strip_prefix(&root)
            .expect("a member is inside the workspace")
            .to_path_buf();
        for target in package["targets"].as_array().expect("targets") {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .expect("kinds")
                .iter()
                .filter_map(|k| k.as_str())
                .collect();
            if kinds.contains(&"custom-build") {
                continue;
            }
            let package_name = package["name"].as_str().unwrap_or("?").to_owned();
            let name = format!(
                "{package_name} ({} {})",
                kinds.join(","),
                target["name"].as_str().unwrap_or("?")
            );
            let src = PathBuf::from(target["src_path"].as_str().expect("src_path"));
            roots.push((package_name, name, src, dir.clone()));
        }
    }
    roots.sort();
    roots.dedup_by(|a, b| a.2 == b.2);
    roots
}

/// The circles of the crate at `root` (target `name` of package `package`): each as its
/// summary, `package: members` (what [`KNOWN_CIRCLES`] lists), and its report, one line per
/// import that closes it.
fn report(package: &str, name: &str, root: &Path) -> Vec<(String, String)> {
    let graph = Graph::read(root).unwrap_or_else(|e| panic!("{name}: {e}"));
    let base = workspace_root();
    graph
        .circles()
        .into_iter()
        .map(|(members, edges)| {
            let members: Vec<String> = members.iter().map(display).collect();
            let edges: Vec<String> = edges
                .iter()
                .map(|e| {
                    format!(
                        "    {} -> {}  ({}:{})",
                        display(&e.from),
                        display(&e.to),
                        e.file.strip_prefix(&base).unwrap_or(&e.file).display(),
                        e.line
                    )
                })
                .collect();
            let members = members.join(", ");
            (
                format!("{package}: {members}"),
                format!("{name}: {members}\n{}", edges.join("\n")),
            )
        })
        .collect()
}

/// The circles still to be broken (issue 24), as `package: members`. The list may only
/// shrink: a circle not on it fails the test, and so does one on it that is gone (take it off).
const KNOWN_CIRCLES: &[&str] = &[
    "gateway: crate::saml, crate::sso, crate::switch",
    "gateway-core: crate::cache, crate::jwt, crate::jwt_config, crate::platform, crate::resolve, \
     crate::sso::session, crate::tenant",
];

#[test]
fn no_crate_has_an_import_circle() {
    let roots = crate_roots();
    assert!(
        roots.len() > 10,
        "found only {} crate roots: {roots:?}",
        roots.len()
    );
    let circles: Vec<(String, String)> = roots
        .iter()
        .flat_map(|(package, name, root, _)| report(package, name, root))
        .collect();
    let new: Vec<&str> = circles
        .iter()
        .filter(|(summary, _)| !KNOWN_CIRCLES.contains(&summary.as_str()))
        .map(|(_, text)| text.as_str())
        .collect();
    assert!(
        new.is_empty(),
        "import circles (module A imports B and B, directly or around a loop, imports A):\n{}",
        new.join("\n")
    );
    let found: Vec<&String> = circles.iter().map(|(summary, _)| summary).collect();
    for known in KNOWN_CIRCLES {
        assert!(
            found.iter().any(|f| f == known),
            "`{known}` is no longer a circle: take it off KNOWN_CIRCLES"
        );
    }
}

/// The checker itself: a two-module circle, a longer one through an ancestor, and trees
/// (a parent naming its children, children naming each other one way) that are not circles.
#[test]
fn the_checker_finds_circles_and_passes_trees() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "lib.rs",
        "mod a; mod b; mod tree; pub use a::A; #[cfg(test)] mod tests;",
    );
    write(
        "a.rs",
        "pub struct A; pub fn f() -> crate::b::B { crate::b::B }",
    );
    write("b.rs", "use super::a::A; pub struct B; pub fn g(_: A) {}");
    // tree/mod.rs names its children; c names d; d names its ancestor's item: c -> d -> tree,
    // and tree -> c is a parent naming a child, so no circle.
    write(
        "tree/mod.rs",
        "mod c; mod d; pub use c::C; pub struct T; #[cfg(test)] fn t() { crate::a::f(); }",
    );
    write("tree/c.rs", "pub struct C(pub super::d::D);");
    write("tree/d.rs", "pub struct D(pub super::T);");
    write("tests.rs", "use crate::b::B; use crate::a::A;");
    let graph = Graph::read(&dir.path().join("lib.rs")).expect("reads");
    let circles = graph.circles();
    let names: Vec<Vec<String>> = circles
        .iter()
        .map(|(m, _)| m.iter().map(display).collect())
        .collect();
    assert_eq!(names, [["crate::a", "crate::b"]]);
    let lines: Vec<(String, String, usize)> = circles[0]
        .1
        .iter()
        .map(|e| (display(&e.from), display(&e.to), e.line))
        .collect();
    assert!(lines.contains(&("crate::a".into(), "crate::b".into(), 1)));
    assert!(lines.contains(&("crate::b".into(), "crate::a".into(), 1)));

    // Closing the tree's loop: the parent naming a grandchild's item through a sibling is
    // still a parent naming a descendant; a child naming its parent, which names the child's
    // sibling that names it back, is a circle.
    write(
        "tree/d.rs",
        "pub struct D(pub super::T); pub fn k() { crate::tree::c::h() }",
    );
    write(
        "tree/c.rs",
        "pub struct C(pub super::d::D); pub fn h() { super::d::k() }",
    );
    let graph = Graph::read(&dir.path().join("lib.rs")).expect("reads");
    let names: Vec<Vec<String>> = graph
        .circles()
        .iter()
        .map(|(m, _)| m.iter().map(display).collect())
        .collect();
    assert_eq!(
        names,
        vec![
            vec!["crate::a", "crate::b"],
            vec!["crate::tree::c", "crate::tree::d"]
        ]
    );

    // Breaking the first circle leaves the second.
    write("b.rs", "pub struct B;");
    let graph = Graph::read(&dir.path().join("lib.rs")).expect("reads");
    assert_eq!(graph.circles().len(), 1);
}

/// The README's "Layout" table: every path in it exists, and every package of the workspace
/// is in it, as a row of its own or named in its parent directory's row.
#[test]
fn the_readme_layout_table_names_every_crate() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let section = readme
        .split("\n## Layout\n")
        .nth(1)
        .expect("README has a Layout section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let rows: Vec<(String, String)> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let mut cells = l.trim_matches('|').splitn(2, '|');
            let path = cells.next()?.trim().trim_matches('`').to_owned();
            Some((path, cells.next()?.to_owned()))
        })
        .collect();
    assert!(rows.len() >= 8, "the Layout table has rows: {rows:?}");
    for (path, _) in &rows {
        assert!(
            root.join(path.trim_end_matches('/')).exists(),
            "the README's Layout table names `{path}`, which does not exist"
        );
    }
    let mut packages: Vec<PathBuf> = crate_roots()
        .into_iter()
        .map(|(_, _, _, dir)| dir)
        .collect();
    packages.sort();
    packages.dedup();
    for dir in packages {
        if dir.as_os_str().is_empty() || dir.starts_with("tests/fixtures") {
            continue;
        }
        let own = format!("{}/", dir.display());
        let parent = dir.parent().map(|p| format!("{}/", p.display()));
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let covered = rows.iter().any(|(path, text)| {
            *path == own
                || (Some(path) == parent.as_ref()
                    && (text.contains(&format!("`{name}`"))
                        || text.contains(&format!("`{name}/`"))))
        });
        assert!(
            covered,
            "the README's Layout table does not name the package in `{own}`"
        );
    }
}
