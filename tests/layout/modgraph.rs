//! The module graph of one crate, read from its sources with `syn`, and its import circles.
//!
//! A module *imports* another when a `use` path or a path in its code (an expression, a type,
//! a pattern, a macro's name) names that module or an item inside it. Paths are resolved from
//! `crate::`, `self::`, `super::` and the names of the module's own children; anything else
//! (another crate, a prelude name) is not a module of this crate. Naming one's own descendants
//! is not an import (a parent declares and re-exports its children); naming an ancestor's items
//! is. Code under `#[cfg(test)]` is not read: test modules may reach anywhere.
//!
//! A circle is a strongly connected set of two or more modules: each reaches every other by
//! following imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

/// A module's path from the crate root: `[]` is the root, `["sso", "session"]` is
/// `crate::sso::session`.
pub type ModPath = Vec<String>;

/// One module: where it is and what it names.
#[derive(Debug)]
pub struct Module {
    /// The file that holds it (an inline module's is its parent's file).
    pub file: PathBuf,
    /// Its children's names.
    pub children: BTreeSet<String>,
    /// The paths its code names, with the line of each: written as in the source
    /// (`crate::a::b`, `super::x`, `child::y`).
    pub paths: Vec<(Vec<String>, usize)>,
}

/// The modules of one crate, by path.
#[derive(Debug, Default)]
pub struct Graph {
    pub modules: BTreeMap<ModPath, Module>,
}

/// One import that keeps a circle closed, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: ModPath,
    pub to: ModPath,
    pub file: PathBuf,
    pub line: usize,
}

impl Graph {
    /// Reads the crate whose root file is `root` (`lib.rs`, `main.rs` or a test's `main.rs`).
    pub fn read(root: &Path) -> Result<Self, String> {
        let mut graph = Graph::default();
        let dir = root.parent().unwrap_or(Path::new("")).to_path_buf();
        graph.read_file(root, Vec::new(), dir)?;
        Ok(graph)
    }

    fn read_file(&mut self, file: &Path, path: ModPath, child_dir: PathBuf) -> Result<(), String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed = syn::parse_file(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        self.read_items(file, &parsed.items, path, child_dir)
    }

    fn read_items(
        &mut self,
        file: &Path,
        items: &[syn::Item],
        path: ModPath,
        child_dir: PathBuf,
    ) -> Result<(), String> {
        let mut names = Names::default();
        let mut children = Vec::new();
        for item in items {
            match item {
                syn::Item::Mod(m) if is_cfg_test(&m.attrs) => {}
                syn::Item::Mod(m) => children.push(m),
                item if is_cfg_test(item_attrs(item)) => {}
                item => names.visit_item(item),
            }
        }
        self.modules.insert(
            path.clone(),
            Module {
                file: file.to_path_buf(),
                children: children.iter().map(|m| m.ident.to_string()).collect(),
                paths: names.paths,
            },
        );
        for m in children {
            let mut child = path.clone();
            child.push(m.ident.to_string());
            let name = m.ident.to_string();
            match (&m.content, path_attr(&m.attrs)) {
                (Some((_, items)), _) => {
                    self.read_items(file, items, child, child_dir.join(&name))?
                }
                (None, Some(rel)) => {
                    let base = file.parent().unwrap_or(Path::new(""));
                    let target = base.join(rel);
                    let dir = target.parent().unwrap_or(Path::new("")).to_path_buf();
                    self.read_file(&target, child, dir)?
                }
                (None, None) => {
                    let flat = child_dir.join(format!("{name}.rs"));
                    let (target, dir) = if flat.exists() {
                        (flat, child_dir.join(&name))
                    } else {
                        (child_dir.join(&name).join("mod.rs"), child_dir.join(&name))
                    };
                    self.read_file(&target, child, dir)?
                }
            }
        }
        Ok(())
    }

    /// The module a path written in `from` names (the deepest module along it), or `None`
    /// when it names nothing of this crate.
    pub fn resolve(&self, from: &ModPath, written: &[String]) -> Option<ModPath> {
        let mut segments = written.iter().peekable();
        let mut at: ModPath = match segments.peek().map(|s| s.as_str()) {
            Some("crate") => {
                segments.next();
                Vec::new()
            }
            Some("self") => {
                segments.next();
                from.clone()
            }
            Some("super") => {
                let mut at = from.clone();
                while segments.peek().map(|s| s.as_str()) == Some("super") {
                    segments.next();
                    at.pop()?;
                }
                at
            }
            Some(first) if self.modules.get(from)?.children.contains(first) => from.clone(),
            _ => return None,
        };
        for segment in segments {
            match self.modules.get(&at) {
                Some(m) if m.children.contains(segment) => at.push(segment.clone()),
                _ => break,
            }
        }
        Some(at)
    }

    /// Every import: `from` names `to`, neither the same module nor one of its descendants.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        for (from, module) in &self.modules {
            for (written, line) in &module.paths {
                let Some(to) = self.resolve(from, written) else {
                    continue;
                };
                if to.starts_with(from) {
                    continue;
                }
                edges.push(Edge {
                    from: from.clone(),
                    to,
                    file: module.file.clone(),
                    line: *line,
                });
            }
        }
        // `use a::{b, c}` names `a` twice on one line: one import.
        edges.dedup();
        edges
    }

    /// The circles: each strongly connected set of two or more modules, its members sorted,
    /// with the imports between them.
    pub fn circles(&self) -> Vec<(Vec<ModPath>, Vec<Edge>)> {
        let edges = self.edges();
        let mut next: BTreeMap<&ModPath, BTreeSet<&ModPath>> = BTreeMap::new();
        for e in &edges {
            next.entry(&e.from).or_default().insert(&e.to);
        }
        let reach = |start: &ModPath| {
            let mut seen: BTreeSet<&ModPath> = BTreeSet::new();
            let mut stack = vec![start];
            while let Some(m) = stack.pop() {
                for n in next.get(m).into_iter().flatten() {
                    if seen.insert(n) {
                        stack.push(n);
                    }
                }
            }
            seen
        };
        // Small graphs (a crate has tens of modules): reachability from each is cheap and
        // plainer than Tarjan's algorithm.
        let reaches: BTreeMap<&ModPath, BTreeSet<&ModPath>> =
            self.modules.keys().map(|m| (m, reach(m))).collect();
        let mut placed: BTreeSet<&ModPath> = BTreeSet::new();
        let mut circles = Vec::new();
        for m in self.modules.keys() {
            if placed.contains(m) {
                continue;
            }
            let members: Vec<ModPath> = self
                .modules
                .keys()
                .filter(|n| *n == m || (reaches[m].contains(n) && reaches[n].contains(m)))
                .cloned()
                .collect();
            if members.len() < 2 {
                continue;
            }
            for n in &members {
                placed.insert(self.modules.get_key_value(n).unwrap().0);
            }
            let inside: Vec<Edge> = edges
                .iter()
                .filter(|e| members.contains(&e.from) && members.contains(&e.to))
                .cloned()
                .collect();
            circles.push((members, inside));
        }
        circles
    }
}

/// Collects the paths one module's own code names.
#[derive(Default)]
struct Names {
    paths: Vec<(Vec<String>, usize)>,
}

impl Names {
    fn add(&mut self, segments: Vec<String>, span: proc_macro2::Span) {
        if !segments.is_empty() {
            self.paths.push((segments, span.start().line));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.add(full, n.ident.span());
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.add(full, r.ident.span());
            }
            syn::UseTree::Glob(g) => self.add(prefix.clone(), g.star_token.span),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if !is_cfg_test(&u.attrs) {
            self.use_tree(&mut Vec::new(), &u.tree);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(first) = p.segments.first() {
            self.add(segments, first.ident.span());
        }
        visit::visit_path(self, p);
    }

    // Items under `#[cfg(test)]` inside a module (a test-only impl, function or module).
    fn visit_item(&mut self, i: &'ast syn::Item) {
        if !is_cfg_test(item_attrs(i)) {
            visit::visit_item(self, i);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_cfg_test(&f.attrs) {
            visit::visit_impl_item_fn(self, f);
        }
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `#[cfg(test)]`, alone or as the only condition that matters (`all(test, ...)`).
fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && {
            let tokens = a
                .meta
                .require_list()
                .map(|l| l.tokens.to_string())
                .unwrap_or_default();
            let tokens = tokens.replace(' ', "");
            tokens == "test"
                || tokens
                    .strip_prefix("all(")
                    .and_then(|t| t.strip_suffix(')'))
                    .is_some_and(|t| t.split(',').any(|c| c == "test"))
        }
    })
}

/// `#[path = "..."]`.
fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// `crate::a::b`, `crate` for the root.
pub fn display(path: &ModPath) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        format!("crate::{}", path.join("::"))
    }
}
