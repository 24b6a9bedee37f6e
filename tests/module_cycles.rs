//! No new import cycles between the daemon's modules (docs/architecture.md, "Module map").
//!
//! Reads every source file under `src/`, finds the modules each one refers to (`crate::...`,
//! `super::...` paths, grouped imports expanded; test modules left out) and looks for cycles
//! at two levels: between top-level modules (`control` -> `daemon` -> `control`), and between
//! the files of one top-level module (`media::overlay` <-> `media::receive`). A module and its
//! own parent or children do not count: a `mod.rs` re-exporting its children's items and the
//! children using the parent's types is how Rust modules are built, not a cycle.
//!
//! The cycles issue 15 found are known exceptions, listed below, so that this passes today and
//! fails on a new cycle. When one is removed, the test says so: take it off the list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles that exist today (issue 15, item 6), each as its sorted member modules.
const KNOWN: &[&[&str]] = &[
    &["calendar", "config"],
    &["media::overlay", "media::receive"],
    &["rtc::peer", "rtc::recovery"],
    &["signal::janus", "signal::janus_restart"],
];

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_new_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = source_modules(&src);
    let files: BTreeSet<String> = modules.keys().cloned().collect();
    let mut by_file = Graph::new();
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path).unwrap();
        let targets = references(&without_tests(&text), module)
            .into_iter()
            .filter_map(|p| resolve(&p, &files))
            .filter(|t| !related(module, t))
            .collect();
        by_file.insert(module.clone(), targets);
    }

    let mut top = Graph::new();
    for (from, targets) in &by_file {
        for to in targets {
            let (a, b) = (top_level(from), top_level(to));
            if a != b {
                top.entry(a.to_string()).or_default().insert(b.to_string());
            }
        }
    }
    let mut cycles = cycles(&top);
    for root in top.keys() {
        let inside: Graph = by_file
            .iter()
            .filter(|(from, _)| top_level(from) == root)
            .map(|(from, to)| {
                let same = to.iter().filter(|t| top_level(t) == root).cloned();
                (from.clone(), same.collect())
            })
            .collect();
        cycles.extend(self::cycles(&inside));
    }

    let known: BTreeSet<Vec<String>> = KNOWN
        .iter()
        .map(|c| c.iter().map(|m| m.to_string()).collect())
        .collect();
    for gone in known.difference(&cycles) {
        println!("the import cycle {gone:?} is gone: take it off KNOWN in tests/module_cycles.rs");
    }
    let new: Vec<_> = cycles.difference(&known).collect();
    assert!(
        new.is_empty(),
        "new import cycles (modules that import each other, directly or through others): \
         {new:#?}\nedges: {:#?}",
        new.iter()
            .flat_map(|c| c.iter())
            .map(|m| (m, by_file.get(m).or(top.get(m))))
            .collect::<Vec<_>>()
    );
}

/// Every file module under `src` (`media::receive` for src/media/receive.rs, `media` for
/// src/media/mod.rs), but for the crate roots and test-only files.
fn source_modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let roots = [["lib"], ["main"]];
            if parts.is_empty()
                || roots.iter().any(|r| parts == r)
                || parts.last().unwrap() == "tests"
            {
                continue;
            }
            found.insert(parts.join("::"), path);
        }
    }
    found
}

/// The text before the file's `#[cfg(test)]` module (test code may import anything).
fn without_tests(text: &str) -> String {
    match text.find("#[cfg(test)]\nmod ") {
        Some(at) => text[..at].to_string(),
        None => text.to_string(),
    }
}

/// Every `crate::` or `super::` path in `text`, as absolute paths (`media::receive::Receive`),
/// grouped imports (`crate::{a::B, c}`) expanded. Comments are skipped.
fn references(text: &str, module: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(start) {
            let before = rest[..at].chars().last();
            rest = &rest[at..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                rest = &rest[start.len()..];
                continue;
            }
            let (path, len) = path_at(rest);
            rest = &rest[len..];
            for p in expand(&path) {
                found.extend(absolute(&p, module));
            }
        }
    }
    found
}

/// The path starting at `text`'s beginning (with a brace group), and its length.
fn path_at(text: &str) -> (String, usize) {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => {
                return (text[..i].to_string(), i);
            }
            _ => {}
        }
    }
    (text.to_string(), text.len())
}

/// `a::{b::C, d}` as `a::b::C` and `a::d`.
fn expand(path: &str) -> Vec<String> {
    let compact: String = path.split_whitespace().collect();
    let Some(open) = compact.find('{') else {
        return vec![compact];
    };
    let prefix = &compact[..open];
    let inner = &compact[open + 1..compact.rfind('}').unwrap_or(compact.len())];
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[from..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// `crate::a::b` as `a::b`; `super::x` from `module` (src/a/b.rs or src/a/b/mod.rs alike) as
/// its parent's `x`.
fn absolute(path: &str, module: &str) -> Option<String> {
    if let Some(rest) = path.strip_prefix("crate::") {
        return Some(rest.to_string());
    }
    let mut base: Vec<&str> = module.split("::").collect();
    let mut rest = path;
    while let Some(after) = rest.strip_prefix("super::") {
        base.pop()?;
        rest = after;
    }
    Some(
        base.into_iter()
            .chain(rest.split("::"))
            .collect::<Vec<_>>()
            .join("::"),
    )
}

/// The longest file module that `path` starts with.
fn resolve(path: &str, files: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| files.contains(m))
}

/// Whether one module is the other or one of its ancestors.
fn related(a: &str, b: &str) -> bool {
    let within =
        |inner: &str, outer: &str| inner == outer || inner.starts_with(&format!("{outer}::"));
    within(a, b) || within(b, a)
}

fn top_level(module: &str) -> &str {
    module.split("::").next().unwrap()
}

/// The strongly connected components of more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> BTreeSet<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: BTreeSet<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, node: &'a str) {
        let n = s.index.len();
        s.index.insert(node, n);
        s.low.insert(node, n);
        s.stack.push(node);
        s.on_stack.insert(node);
        for next in s.graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !s.index.contains_key(next) {
                visit(s, next);
                let low = s.low[node].min(s.low[next]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(next) {
                let low = s.low[node].min(s.index[next]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(top);
                component.push(top.to_string());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.insert(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: BTreeSet::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}
