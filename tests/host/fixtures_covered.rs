//! Every guest fixture under tests/fixtures is run by at least one test.

use tenantgate_tests::fixtures::all_fixture_names;
use tenantgate_tests::workspace_root;

#[test]
fn every_fixture_has_a_test_that_runs_it() {
    let mut sources = String::new();
    for suite in ["tests/host", "tests/backends"] {
        for entry in std::fs::read_dir(workspace_root().join(suite)).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n != "fixtures_covered.rs") {
                sources.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let names = all_fixture_names();
    assert!(names.len() >= 3, "fixtures found: {names:?}");
    for name in names {
        // Manifests name fixtures as `source = "{name}"`, written `"{{name}}"` inside a
        // `format!` string.
        let needle = format!("\"{{{name}}}\"");
        let in_format = format!("\"{{{{{name}}}}}\"");
        assert!(
            sources.contains(&needle) || sources.contains(&in_format),
            "fixture `{name}` has no test: no manifest in tests/host or tests/backends uses source = {needle}"
        );
    }
}
