//! The code's layout holds: no module of the server or the web app imports a module that
//! imports it back, however long the way round. Read from the sources, as a newcomer would:
//! every `use` tree (groups, `self`, renames, re-exports), every `crate::`, `super::` and
//! `self::` path in the code, and every path through a child module the file declares. A name
//! a module imports or re-exports is followed to the module that defines it, so `use
//! crate::AppState` is an import of `state`, not of the crate's root.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Path,
    Punct(char),
}

/// Every `.rs` file under `root`, by its module path (`a/b.rs` and `a/b/mod.rs` are `a::b`).
/// Beside a `lib.rs`, `main.rs` is a crate of its own that uses the library by name, so it is
/// left out.
fn modules(root: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs")
                && !(path == root.join("main.rs") && root.join("lib.rs").exists())
            {
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

/// The length of the string, raw string or character literal at the start of `rest`, if one
/// starts there (a lifetime is not one).
fn literal(rest: &[char]) -> Option<usize> {
    let hashes = |from: usize| rest[from..].iter().take_while(|&&c| c == '#').count();
    let raw_start = match rest {
        ['r', ..] => Some(1),
        ['b', 'r', ..] => Some(2),
        _ => None,
    };
    if let Some(start) = raw_start {
        let marks = hashes(start);
        if rest.get(start + marks) == Some(&'"') {
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', marks))
                .collect();
            let body = start + marks + 1;
            let end = (body..rest.len()).find(|&at| rest[at..].starts_with(&close))?;
            return Some(end + close.len());
        }
    }
    let quote = match rest {
        ['"', ..] | ['b', '"', ..] => '"',
        ['\'', '\\', ..] | ['\'', _, '\'', ..] => '\'',
        _ => return None,
    };
    let open = rest.iter().position(|&c| c == quote)?;
    let mut at = open + 1;
    while at < rest.len() && rest[at] != quote {
        at += if rest[at] == '\\' { 2 } else { 1 };
    }
    Some(at + 1)
}

/// A file's code as tokens, its comments and literals left out.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let rest = &chars[at..];
        if rest.starts_with(&['/', '/']) {
            at += rest.iter().position(|&c| c == '\n').unwrap_or(rest.len());
        } else if rest.starts_with(&['/', '*']) {
            at += (2..rest.len())
                .find(|&i| rest[i - 1..].starts_with(&['*', '/']))
                .map_or(rest.len(), |i| i + 1);
        } else if let Some(length) = literal(rest) {
            at += length;
        } else if rest.starts_with(&[':', ':']) {
            found.push(Token::Path);
            at += 2;
        } else if rest[0].is_alphanumeric() || rest[0] == '_' {
            let word: String = rest
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .collect();
            at += word.chars().count();
            found.push(Token::Word(word));
        } else {
            if !rest[0].is_whitespace() {
                found.push(Token::Punct(rest[0]));
            }
            at += 1;
        }
    }
    found
}

fn word(token: Option<&Token>, expected: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w == expected)
}

/// The tokens left once every item under `#[cfg(test)]` is taken out.
fn production(tokens: Vec<Token>) -> Vec<Token> {
    let marker: Vec<Token> = tokens_of("#[cfg(test)]");
    let mut kept = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        if !tokens[at..].starts_with(&marker) {
            kept.push(tokens[at].clone());
            at += 1;
            continue;
        }
        // The item runs to its `;` or to the brace that closes its body.
        at += marker.len();
        let mut depth = 0;
        while let Some(token) = tokens.get(at) {
            at += 1;
            match token {
                Token::Punct('{') => depth += 1,
                Token::Punct('}') if depth == 1 => break,
                Token::Punct('}') => depth -= 1,
                Token::Punct(';') if depth == 0 => break,
                _ => {}
            }
        }
    }
    kept
}

fn tokens_of(text: &str) -> Vec<Token> {
    tokens(text)
}

/// What one file says about the modules it reaches.
#[derive(Debug, Default)]
struct File {
    /// `mod child;`
    children: BTreeSet<String>,
    /// Each name a `use` brings in, with the path it stands for (`*` for a glob).
    names: BTreeMap<String, Vec<String>>,
    /// Every other path the code names, as written.
    paths: Vec<Vec<String>>,
}

/// One `use` tree, flattened: each leaf's path and the name it binds.
fn use_tree(
    tokens: &[Token],
    at: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, String)>,
) {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(*at) {
            Some(Token::Punct('{')) => {
                *at += 1;
                while !matches!(tokens.get(*at), Some(Token::Punct('}')) | None) {
                    use_tree(tokens, at, &path, out);
                    if tokens.get(*at) == Some(&Token::Punct(',')) {
                        *at += 1;
                    }
                }
                *at += 1;
                return;
            }
            Some(Token::Punct('*')) => {
                *at += 1;
                out.push((path, "*".to_owned()));
                return;
            }
            Some(Token::Word(segment)) => {
                *at += 1;
                if segment != "self" || path.is_empty() {
                    path.push(segment.clone());
                }
                if tokens.get(*at) == Some(&Token::Path) {
                    *at += 1;
                    continue;
                }
                let mut name = path.last().cloned().unwrap_or_default();
                if word(tokens.get(*at), "as") {
                    if let Some(Token::Word(alias)) = tokens.get(*at + 1) {
                        name = alias.clone();
                    }
                    *at += 2;
                }
                out.push((path, name));
                return;
            }
            _ => return,
        }
    }
}

fn read(code: &[Token]) -> File {
    let mut file = File::default();
    let mut at = 0;
    while at < code.len() {
        let previous = at.checked_sub(1).map(|i| &code[i]);
        match &code[at] {
            Token::Word(w) if w == "mod" => {
                if let (Some(Token::Word(name)), Some(Token::Punct(';'))) =
                    (code.get(at + 1), code.get(at + 2))
                {
                    file.children.insert(name.clone());
                }
                at += 1;
            }
            Token::Word(w) if w == "use" && previous != Some(&Token::Path) => {
                at += 1;
                let mut leaves = Vec::new();
                use_tree(code, &mut at, &[], &mut leaves);
                for (path, name) in leaves {
                    file.paths.push(path.clone());
                    if name != "_" {
                        file.names.insert(name, path);
                    }
                }
            }
            Token::Word(first)
                if code.get(at + 1) == Some(&Token::Path)
                    && !matches!(previous, Some(Token::Path | Token::Punct('.'))) =>
            {
                let mut path = vec![first.clone()];
                at += 1;
                while code.get(at) == Some(&Token::Path) {
                    match code.get(at + 1) {
                        Some(Token::Word(next)) => path.push(next.clone()),
                        _ => break,
                    }
                    at += 2;
                }
                file.paths.push(path);
            }
            _ => at += 1,
        }
    }
    file
}

/// `path` as written in `module`, from the crate's root; `None` for other crates.
fn absolute(module: &Module, file: &File, path: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut base = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module[..module.len().checked_sub(1)?].to_vec(),
        child if file.children.contains(child) => {
            let mut base = module.clone();
            base.push(child.to_owned());
            base
        }
        _ => return None,
    };
    let mut rest = rest;
    while rest.first().is_some_and(|s| s == "super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

struct Crate {
    files: BTreeMap<Module, File>,
}

impl Crate {
    fn read(root: &Path) -> Crate {
        let files = modules(root)
            .into_iter()
            .map(|(module, path)| {
                let text = std::fs::read_to_string(path).unwrap();
                (module, read(&production(tokens(&text))))
            })
            .collect();
        Crate { files }
    }

    /// The module that defines what `path` (from the crate's root) names, following the names
    /// modules import on the way.
    fn defining(&self, path: &[String], depth: usize) -> Option<Module> {
        let known = (0..=path.len())
            .rev()
            .find(|&n| self.files.contains_key(&path[..n]))?;
        let module = path[..known].to_vec();
        let Some(next) = path.get(known) else {
            return Some(module);
        };
        let file = &self.files[&module];
        let imported = file
            .names
            .get(next)
            .and_then(|source| absolute(&module, file, source));
        match imported {
            Some(mut source) if depth < 16 => {
                source.extend(path[known + 1..].iter().cloned());
                self.defining(&source, depth + 1).or(Some(module))
            }
            _ => Some(module),
        }
    }

    fn imports(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut edges = BTreeMap::new();
        for (module, file) in &self.files {
            let targets = file
                .paths
                .iter()
                .filter_map(|path| absolute(module, file, path))
                .filter_map(|path| self.defining(&path, 0))
                .filter(|target| target != module)
                .collect();
            edges.insert(module.clone(), targets);
        }
        edges
    }
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

fn circles_in(name: &str, edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let label = |module: &Module| match module.is_empty() {
        true => "crate".to_owned(),
        false => module.join("::"),
    };
    let mut found = Vec::new();
    for (module, targets) in edges {
        for target in targets {
            if let Some(back) = way(edges, target, module) {
                let names: Vec<String> = std::iter::once(module).chain(&back).map(label).collect();
                found.push(format!("{name}: {}", names.join(" → ")));
            }
        }
    }
    found
}

fn circles(crate_root: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_root);
    let edges = Crate::read(&root).imports();
    // A reading that missed the imports would find no circle: it must see at least one import
    // per module on average (each file imports a few).
    let imports: usize = edges.values().map(BTreeSet::len).sum();
    assert!(
        edges.len() > 10 && imports >= edges.len(),
        "{crate_root}: read {} modules and only {imports} imports",
        edges.len()
    );
    circles_in(crate_root, &edges)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut found = circles("src");
    found.extend(circles("../frontend/src"));
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// A crate made of `(module, code)` pairs, and its imports by module name.
fn imports_of(sources: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources
        .iter()
        .map(|(module, code)| {
            let module: Module = module
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            (module, read(&production(tokens(code))))
        })
        .collect();
    let label = |module: &Module| module.join("::");
    Crate { files }
        .imports()
        .iter()
        .map(|(from, to)| (label(from), to.iter().map(label).collect()))
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| name.to_string()).collect()
}

#[test]
fn use_trees_are_read_whole() {
    let imports = imports_of(&[
        ("", "mod a; mod b; mod c; mod d;"),
        (
            "a",
            "use crate::{b::{self, X}, c::Y as Z};\nuse super::super::d;",
        ),
        ("b", ""),
        ("c", ""),
        ("d", ""),
    ]);
    // `super::super` from `a` goes above the crate's root: no module.
    assert_eq!(imports["a"], set(&["b", "c"]));
    let imports = imports_of(&[("", "mod a; mod b;"), ("a", "use super::b::*;"), ("b", "")]);
    assert_eq!(imports["a"], set(&["b"]));
}

#[test]
fn paths_in_code_and_through_child_modules_count() {
    let imports = imports_of(&[
        ("", "mod a; mod b;"),
        (
            "a",
            "mod inner;\nfn f() { crate::b::go(); inner::run(); x.keys::<u8>(); }",
        ),
        ("a::inner", "fn g() { super::super::b::go() }"),
        ("b", ""),
    ]);
    assert_eq!(imports["a"], set(&["b", "a::inner"]));
    assert_eq!(imports["a::inner"], set(&["b"]));
}

#[test]
fn comments_literals_and_tests_do_not_count() {
    let imports = imports_of(&[
        ("", "mod a; mod b; mod c;"),
        (
            "a",
            concat!(
                "// crate::b::X\n/* crate::b::Y */\n",
                "const S: &str = \"crate::b::Z\"; const R: &str = r#\"crate::c\"#;\n",
                "const Q: char = '\"'; fn f<'a>(x: &'a str) {}\n",
                "#[cfg(test)]\nmod tests { use crate::b::W; }\n",
                "#[cfg(test)]\nuse crate::c::V;\n",
            ),
        ),
        ("b", ""),
        ("c", ""),
    ]);
    assert_eq!(imports["a"], set(&[]));
}

#[test]
fn a_name_is_followed_to_the_module_that_defines_it() {
    // The root re-exports `state::AppState`; `web` using `crate::AppState` imports `state`,
    // and the root reaching `web` makes no circle.
    let imports = imports_of(&[
        (
            "",
            "mod state; mod web; pub use state::AppState; fn app() { web::router() }",
        ),
        ("state", "pub struct AppState;"),
        ("web", "use crate::AppState;"),
    ]);
    assert_eq!(imports["web"], set(&["state"]));
    assert_eq!(imports[""], set(&["state", "web"]));
    // A child using what its parent re-exports from a sibling imports the sibling.
    let imports = imports_of(&[
        ("", "mod config;"),
        (
            "config",
            "mod keys; mod sections; pub use sections::Config; use keys::load;",
        ),
        ("config::keys", "use super::Config;"),
        ("config::sections", ""),
    ]);
    assert_eq!(imports["config::keys"], set(&["config::sections"]));
}

#[test]
fn a_circle_is_seen_however_long_the_way_round() {
    let m = |name: &str| vec![name.to_owned()];
    let mut edges = BTreeMap::new();
    edges.insert(m("a"), BTreeSet::from([m("b")]));
    edges.insert(m("b"), BTreeSet::from([m("c")]));
    edges.insert(m("c"), BTreeSet::from([m("a")]));
    assert_eq!(
        way(&edges, &m("b"), &m("a")),
        Some(vec![m("b"), m("c"), m("a")])
    );
    assert_eq!(circles_in("t", &edges).len(), 3);
    // A parent that uses its child's item, and a child that uses its parent's, is a circle.
    let imports = imports_of(&[
        ("", "mod p;"),
        ("p", "mod c; pub struct Shared; pub use c::Thing;"),
        ("p::c", "use super::Shared; pub struct Thing;"),
    ]);
    assert_eq!(imports["p"], set(&["p::c"]));
    assert_eq!(imports["p::c"], set(&["p"]));
    edges.insert(m("c"), BTreeSet::new());
    assert_eq!(way(&edges, &m("b"), &m("a")), None);
}
