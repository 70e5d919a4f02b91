//! The app's components import nothing Spin 3.6 does not provide: every interface each
//! built component (gateway, tasks, orgs, platform) imports, and every function and
//! resource it uses of it, is in Spin v3.6.3's `spin:up/platform@3.6.0` world — the
//! oldest Spin this README supports (SpinKube's shim v0.24.0 embeds 3.6.3).
//!
//! The world's contents are `data/spin-up-3.6.0-platform.txt`, generated from Spin
//! v3.6.3's `wit/` by `data/spin_world.py` (`@unstable` items left out). An import
//! matches an interface of the same package and name whose version wasmtime's linker
//! (Spin's) links for it: the same version, or one of the same semver track (`0.x.*`
//! for `0.x`, `N.*` from 1.0; any patch, older ones included: a component built against
//! WASI 0.2.12 links to Spin's 0.2.6). Since patch releases may add functions, every
//! function and resource the component uses must then be in Spin's version.

use std::collections::{BTreeMap, BTreeSet};

use tenantgate_tests::fixtures::component;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

const WORLD: &str = include_str!("data/spin-up-3.6.0-platform.txt");

/// `ns:pkg/iface` -> version -> the functions and resources it provides.
type World = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn world() -> World {
    let mut w = World::new();
    for line in WORLD
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (iface, items) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("not `interface: items`: {line}"));
        let (name, version) = iface.split_once('@').expect("a version");
        w.entry(name.to_owned()).or_default().insert(
            version.to_owned(),
            items.split_whitespace().map(str::to_owned).collect(),
        );
    }
    w
}

/// Whether wasmtime's linker links an import of `want` to a definition of `have`.
fn version_links(want: &str, have: &str) -> bool {
    if want == have {
        return true;
    }
    let parse = |v: &str| -> Option<(u64, u64, u64, bool)> {
        let (core, pre) = v.split_once('-').map_or((v, false), |(c, _)| (c, true));
        let mut it = core.split('.').map(|n| n.parse::<u64>().ok());
        Some((it.next()??, it.next()??, it.next()??, pre))
    };
    let (Some(w), Some(h)) = (parse(want), parse(have)) else {
        return false;
    };
    // Pre-releases link only to themselves.
    if w.3 || h.3 {
        return false;
    }
    if w.0 == 0 {
        h.0 == 0 && h.1 == w.1
    } else {
        h.0 == w.0
    }
}

/// What `ns:pkg/iface@version` of `world` provides, if the version links.
fn provided<'w>(world: &'w World, import: &str) -> Option<&'w BTreeSet<String>> {
    let (name, version) = import.split_once('@')?;
    let versions = world.get(name)?;
    versions.get(version).or_else(|| {
        versions
            .iter()
            .filter(|(have, _)| version_links(version, have))
            .map(|(_, items)| items)
            .next_back()
    })
}

#[test]
fn version_matching_follows_the_linker() {
    assert!(version_links("0.2.0", "0.2.6"));
    assert!(version_links("0.2.6", "0.2.6"));
    assert!(
        version_links("0.2.12", "0.2.6"),
        "the same track, functions checked"
    );
    assert!(!version_links("0.3.0", "0.2.6"));
    assert!(version_links("2.0.0", "2.0.0"));
    assert!(!version_links("3.0.0", "2.0.0"));
    assert!(version_links("0.2.0-draft2", "0.2.0-draft2"));
    assert!(!version_links("0.2.0-draft", "0.2.0-draft2"));
    let w = world();
    assert!(provided(&w, "spin:postgres/postgres@4.0.0").is_some());
    let kv = provided(&w, "fermyon:spin/key-value@2.0.0").unwrap();
    assert!(kv.contains("[static]store.open") && kv.contains("[method]store.get-keys"));
    assert!(
        !kv.contains("[method]store.get-many"),
        "functions are Spin's own"
    );
    assert!(
        provided(&w, "spin:key-value/key-value@3.0.0").is_none(),
        "Spin 4.x's key-value is not in 3.6"
    );
}

#[test]
fn every_import_of_the_apps_components_is_in_spin_3_6s_world() {
    let world = world();
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.cranelift_opt_level(wasmtime::OptLevel::None);
    let engine = Engine::new(&config).unwrap();
    let mut missing = Vec::new();
    for name in ["gateway", "tasks", "orgs", "platform"] {
        let path = component(name);
        let c = Component::from_file(&engine, &path).unwrap();
        let mut seen = 0;
        for (import, item) in c.component_type().imports(&engine) {
            seen += 1;
            let Some(items) = provided(&world, import) else {
                missing.push(format!("{name}: interface {import}"));
                continue;
            };
            let ComponentItem::ComponentInstance(inst) = item.ty else {
                missing.push(format!("{name}: {import} is not an instance import"));
                continue;
            };
            for (export, item) in inst.exports(&engine) {
                let used = matches!(
                    item.ty,
                    ComponentItem::ComponentFunc(_) | ComponentItem::Resource(_)
                );
                if used && !items.contains(export) {
                    missing.push(format!("{name}: {import} {export}"));
                }
            }
        }
        assert!(seen > 0, "{name} imports nothing?");
    }
    assert!(
        missing.is_empty(),
        "imports Spin 3.6 does not provide:\n{}",
        missing.join("\n")
    );
}
