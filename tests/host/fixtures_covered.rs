//! Every guest fixture under tests/fixtures is run by at least one test.

use tenantgate_tests::fixtures::all_fixture_names;
use tenantgate_tests::workspace_root;

#[test]
fn every_fixture_has_a_test_that_runs_it() {
    let dir = workspace_root().join("tests/host");
    let mut sources = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != "fixtures_covered.rs") {
            sources.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    let names = all_fixture_names();
    assert!(names.len() >= 3, "fixtures found: {names:?}");
    for name in names {
        // Manifests name fixtures as `source = "{name}"`.
        let needle = format!("\"{{{name}}}\"");
        assert!(
            sources.contains(&needle),
            "fixture `{name}` has no test: no manifest in tests/host uses source = {needle}"
        );
    }
}
