//! Every fixture make_fixtures.py writes is used by a test, so a case minted but never checked fails here.

use std::fs;

#[test]
fn every_fixture_is_used_by_a_test() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut sources = String::new();
    for dir in [
        format!("{root}/tests"),
        format!("{root}/tests/common"),
        format!("{root}/benches"),
    ] {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs")
                && path.file_name() != Some("fixture_coverage.rs".as_ref())
            {
                sources.push_str(&fs::read_to_string(path).unwrap());
            }
        }
    }
    let fixtures: Vec<String> = fs::read_dir(format!("{root}/tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(fixtures.len() > 20, "fixtures missing: {fixtures:?}");
    let unused: Vec<_> = fixtures
        .iter()
        .filter(|name| !sources.contains(&format!("\"{name}\"")))
        .collect();
    assert!(unused.is_empty(), "fixtures without a test: {unused:?}");
}
