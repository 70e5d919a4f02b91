//! Every guest fixture under tests/fixtures is loaded by at least one test.
//!
//! The test sources of `tests/host` and `tests/backends` are parsed (with `syn`, so
//! comments do not count), and a fixture counts as loaded only from code a test
//! reaches: a `#[test]` / `#[tokio::test]` function, or a function, constant or static
//! such a function names (transitively). Loading is either a manifest string with
//! `source = "{name}"` (written `"{{name}}"` inside a `format!` string), which the
//! harness's `AppBuilder` replaces by the fixture's path, or a call `fixture("name")`.

use std::collections::{BTreeMap, BTreeSet};

use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use tenantgate_tests::fixtures::all_fixture_names;
use tenantgate_tests::workspace_root;

/// What one named item (function, constant, static) does.
#[derive(Default)]
struct Item {
    is_test: bool,
    /// Names it refers to.
    refs: BTreeSet<String>,
    /// Fixtures it loads directly.
    loads: BTreeSet<String>,
}

/// Collects, per item, the names it refers to and the fixtures it loads.
struct Scan<'a> {
    fixtures: &'a [String],
    items: BTreeMap<String, Item>,
    current: Option<String>,
}

impl Scan<'_> {
    fn item(&mut self) -> Option<&mut Item> {
        let name = self.current.clone()?;
        Some(self.items.entry(name).or_default())
    }

    fn enter(&mut self, name: String, is_test: bool, f: impl FnOnce(&mut Self)) {
        let outer = self.current.replace(name.clone());
        self.items.entry(name).or_default().is_test |= is_test;
        f(self);
        self.current = outer;
    }

    fn load(&mut self, name: String) {
        if let Some(item) = self.item() {
            item.loads.insert(name);
        }
    }
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "test"))
}

impl<'ast> Visit<'ast> for Scan<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.enter(f.sig.ident.to_string(), is_test(&f.attrs), |s| {
            visit::visit_item_fn(s, f)
        });
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.enter(f.sig.ident.to_string(), is_test(&f.attrs), |s| {
            visit::visit_impl_item_fn(s, f)
        });
    }

    fn visit_item_const(&mut self, c: &'ast syn::ItemConst) {
        self.enter(c.ident.to_string(), false, |s| {
            visit::visit_item_const(s, c)
        });
    }

    fn visit_item_static(&mut self, c: &'ast syn::ItemStatic) {
        self.enter(c.ident.to_string(), false, |s| {
            visit::visit_item_static(s, c)
        });
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if let (Some(last), Some(item)) = (p.segments.last(), self.item()) {
            item.refs.insert(last.ident.to_string());
        }
        visit::visit_path(self, p);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let (syn::Expr::Path(f), [syn::Expr::Lit(arg)]) =
            (&*call.func, call.args.iter().collect::<Vec<_>>().as_slice())
        {
            if let (Some(last), syn::Lit::Str(name)) = (f.path.segments.last(), &arg.lit) {
                if last.ident == "fixture" {
                    self.load(name.value());
                }
            }
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        let text = lit.value();
        for name in self.fixtures {
            let plain = format!("source = \"{{{name}}}\"");
            let in_format = format!("source = \"{{{{{name}}}}}\"");
            if text.contains(&plain) || text.contains(&in_format) {
                self.load(name.clone());
            }
        }
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // `format!`, `assert!`, `vec!`...: arguments that parse as expressions are code.
        if let Ok(args) =
            m.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
        {
            for e in &args {
                self.visit_expr(e);
            }
        }
    }
}

/// The fixtures loaded by code a test reaches, in `sources`.
fn loaded_by_tests(sources: &[String], fixtures: &[String]) -> BTreeSet<String> {
    let mut scan = Scan {
        fixtures,
        items: BTreeMap::new(),
        current: None,
    };
    for src in sources {
        let file = syn::parse_file(src).expect("test sources parse");
        scan.visit_file(&file);
    }
    let mut reached: BTreeSet<&str> = scan
        .items
        .iter()
        .filter(|(_, i)| i.is_test)
        .map(|(n, _)| n.as_str())
        .collect();
    let mut todo: Vec<&str> = reached.iter().copied().collect();
    while let Some(name) = todo.pop() {
        for r in &scan.items[name].refs {
            if let Some((n, _)) = scan.items.get_key_value(r.as_str()) {
                if reached.insert(n.as_str()) {
                    todo.push(n.as_str());
                }
            }
        }
    }
    reached
        .iter()
        .flat_map(|n| scan.items[*n].loads.iter().cloned())
        .collect()
}

#[test]
fn every_fixture_has_a_test_that_runs_it() {
    let mut sources = Vec::new();
    for suite in ["tests/host", "tests/backends"] {
        for entry in std::fs::read_dir(workspace_root().join(suite)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                sources.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let names = all_fixture_names();
    assert!(names.len() >= 3, "fixtures found: {names:?}");
    let loaded = loaded_by_tests(&sources, &names);
    for name in &names {
        assert!(
            loaded.contains(name),
            "fixture `{name}` has no test: no test in tests/host or tests/backends loads it \
             (a manifest with source = \"{{{name}}}\" or a call fixture(\"{name}\"))"
        );
    }
}

#[test]
fn a_mention_is_not_a_load() {
    let fixtures = vec!["rogue".to_owned()];
    let loads = |src: &str| loaded_by_tests(&[src.to_owned()], &fixtures);
    let manifest = r##"const APP: &str = r#"source = "{rogue}""#;"##;
    // Attacks: a comment, a constant no test uses, a helper no test calls.
    for src in [
        "// source = \"{rogue}\"\n#[test]\nfn t() {}",
        &format!("{manifest}\n#[test]\nfn t() {{}}"),
        "fn helper() { fixture(\"rogue\"); }\n#[test]\nfn t() {}",
    ] {
        assert!(loads(src).is_empty(), "counted as loaded:\n{src}");
    }
    // Controls: the same, reached from a test.
    for src in [
        &format!("{manifest}\n#[tokio::test]\nasync fn t() {{ start(APP); }}"),
        "fn helper() { fixture(\"rogue\"); }\n#[test]\nfn t() { helper(); }",
        "#[test]\nfn t() { let m = format!(\"source = \\\"{}\\\"\", fixture(\"rogue\").display()); }",
        "#[test]\nfn t() { let m = format!(\"source = \\\"{{rogue}}\\\"\"); }",
    ] {
        assert_eq!(loads(src), ["rogue".to_owned()].into(), "not counted:\n{src}");
    }
}
