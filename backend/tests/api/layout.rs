//! The code's layout holds: no module of the server or the web app imports a module that
//! imports it back, however long the way round. Read from the sources, as a newcomer would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every `.rs` file under `root`, by its module path (`a/b.rs` and `a/b/mod.rs` are `a::b`).
fn modules(root: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path.strip_prefix(root).unwrap().with_extension("");
                let mut module: Module = relative
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    module.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    module.pop();
                }
                found.insert(module, path);
            }
        }
    }
    found
}

/// The production code of a file: its tests and comments left out.
fn production(text: &str) -> String {
    let code = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names through `crate::` and `super::`, as module paths.
fn references(module: &Module, code: &str) -> Vec<Module> {
    let mut found = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
    ] {
        for (at, _) in code.match_indices(prefix) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut named = base.clone();
            named.extend(
                path.split("::")
                    .filter(|part| !part.is_empty())
                    .map(str::to_owned),
            );
            let after = &rest[path.len()..];
            if path.ends_with("::") && after.starts_with('{') {
                // `crate::a::{b, c::d}`: each item is a path of its own.
                let group = &after[1..after.find('}').unwrap_or(after.len())];
                for item in group.split([',', '{']) {
                    let mut item_path = named.clone();
                    item_path.extend(item.trim().split("::").map(|part| part.trim().to_owned()));
                    found.push(item_path);
                }
            }
            found.push(named);
        }
    }
    found
}

/// The longest module `path` starts with.
fn resolve(path: &[String], known: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains_key(prefix))
}

fn imports(root: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules(root);
    let mut edges = BTreeMap::new();
    for (module, path) in &known {
        let code = production(&std::fs::read_to_string(path).unwrap());
        let targets: BTreeSet<Module> = references(module, &code)
            .iter()
            .filter_map(|path| resolve(path, &known))
            .filter(|target| target != module)
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

/// A way from `from` back to `to`, if there is one.
fn way(
    edges: &BTreeMap<Module, BTreeSet<Module>>,
    from: &Module,
    to: &Module,
) -> Option<Vec<Module>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![from.clone()]];
    while let Some(trail) = stack.pop() {
        let last = trail.last().unwrap();
        if last == to {
            return Some(trail);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in edges.get(last).into_iter().flatten() {
            let mut longer = trail.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

fn circles(crate_root: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_root);
    let edges = imports(&root);
    let name = |module: &Module| match module.is_empty() {
        true => "crate".to_owned(),
        false => module.join("::"),
    };
    let mut found = Vec::new();
    for (module, targets) in &edges {
        for target in targets {
            if let Some(back) = way(&edges, target, module) {
                let names: Vec<String> = std::iter::once(module).chain(&back).map(name).collect();
                found.push(format!("{crate_root}: {}", names.join(" → ")));
            }
        }
    }
    found
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut found = circles("src");
    found.extend(circles("../frontend/src"));
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn a_circle_is_seen_however_long_the_way_round() {
    let code = |text: &str| production(text);
    let a = vec!["a".to_owned()];
    let found = references(
        &a,
        &code("use crate::b::{self, c::D};\n// crate::z\nfn f() { super::e(); }"),
    );
    assert!(found.contains(&vec!["b".to_owned(), "c".to_owned(), "D".to_owned()]));
    assert!(
        !found
            .iter()
            .any(|path| path.first().is_some_and(|p| p == "z"))
    );
    let mut edges = BTreeMap::new();
    let m = |name: &str| vec![name.to_owned()];
    edges.insert(m("a"), BTreeSet::from([m("b")]));
    edges.insert(m("b"), BTreeSet::from([m("c")]));
    edges.insert(m("c"), BTreeSet::from([m("a")]));
    assert_eq!(
        way(&edges, &m("b"), &m("a")),
        Some(vec![m("b"), m("c"), m("a")])
    );
    edges.insert(m("c"), BTreeSet::new());
    assert_eq!(way(&edges, &m("b"), &m("a")), None);
}
