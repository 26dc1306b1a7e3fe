//! The shape of the adapter's module graph, read from its sources: no import cycle
//! between modules, the OpenAPI builder and the route table are leaves that know no
//! resource module, and the envelope's parts import no other middleware but the request
//! id.
//!
//! A module naming its own parent or children (Rust's module tree: `super::`, `self::`)
//! is not counted as an import; every other `crate::`/`super::` path is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn source_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            source_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Module = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "lib" || p == "mod") {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths named by the path expression at the start of `text` (after `prefix`),
/// with `{a, b::c}` groups expanded.
fn expand(prefix: &[String], text: &str) -> Vec<Vec<String>> {
    let mut path = prefix.to_vec();
    let mut rest = text.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            return expand_group(&path, group);
        }
        let ident: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if ident.is_empty() {
            break;
        }
        rest = &rest[ident.len()..];
        path.push(ident);
        let Some(after) = rest.strip_prefix("::") else {
            break;
        };
        rest = after.trim_start();
    }
    vec![path]
}

/// The paths of a `{a, b::c, self}` group (the text after its `{`) under `path`.
fn expand_group(path: &[String], group: &str) -> Vec<Vec<String>> {
    let mut depth = 1;
    let mut end = group.len();
    for (index, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            end = index;
            break;
        }
    }
    let inner = &group[..end];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (index, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    let mut out = Vec::new();
    for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
        if item == "self" {
            out.push(path.to_vec());
        } else {
            out.extend(expand(path, item));
        }
    }
    out
}

/// The modules the code names through `crate::`, `super::` and `self::` paths,
/// resolved from `module`.
fn named_paths(module: &Module, code: &str) -> Vec<Module> {
    let mut out = Vec::new();
    for (index, _) in code.match_indices("::") {
        let before = &code[..index];
        let keyword: String = before
            .chars()
            .rev()
            .take_while(|c| is_ident(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let preceded = before[..before.len() - keyword.len()]
            .chars()
            .last()
            .is_some_and(|c| is_ident(c) || c == ':');
        if preceded || !matches!(keyword.as_str(), "crate" | "super" | "self") {
            continue;
        }
        let base: Module = match keyword.as_str() {
            "crate" => Vec::new(),
            "super" => module[..module.len().saturating_sub(1)].to_vec(),
            _ => module.clone(),
        };
        for mut path in expand(&base, &code[index + 2..]) {
            // `super::super::x` climbs further.
            let tail = path.split_off(base.len());
            let supers = tail.iter().take_while(|s| *s == "super").count();
            for _ in 0..supers {
                path.pop();
            }
            path.extend(tail.into_iter().skip(supers));
            out.push(path);
        }
    }
    out
}

/// Module -> the other modules it imports (longest known prefix of each named path).
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("source file");
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join(" ");
        {
            for mut path in named_paths(&module, &code) {
                while !path.is_empty() && !modules.contains(&path) {
                    path.pop();
                }
                let related = path.starts_with(&module) || module.starts_with(&path);
                if !related {
                    edges.entry(module.clone()).or_default().insert(path);
                }
            }
        }
        edges.entry(module).or_default();
    }
    edges
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

#[test]
fn there_is_no_import_cycle() {
    let graph = graph();
    // Depth-first search with colours; a grey node met again closes a cycle.
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, bool>,
        stack: &mut Vec<Module>,
    ) {
        match state.get(node) {
            Some(true) => return,
            Some(false) => {
                let start = stack.iter().position(|m| m == node).unwrap_or(0);
                let cycle: Vec<String> = stack[start..].iter().map(name).collect();
                panic!("import cycle: {} -> {}", cycle.join(" -> "), name(node));
            }
            None => {}
        }
        state.insert(node.clone(), false);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, state, stack);
        }
        stack.pop();
        state.insert(node.clone(), true);
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        visit(node, &graph, &mut state, &mut Vec::new());
    }
}

fn imports(module: &str) -> Vec<String> {
    let key: Module = module.split("::").map(str::to_owned).collect();
    graph()
        .get(&key)
        .unwrap_or_else(|| panic!("no module {module}"))
        .iter()
        .map(name)
        .collect()
}

#[test]
fn the_document_and_the_route_table_know_no_resource_module() {
    for leaf in ["openapi", "registry", "error_map"] {
        for imported in imports(leaf) {
            assert!(
                !imported.starts_with("routes") && imported != "app",
                "{leaf} imports {imported}"
            );
        }
    }
}

#[test]
fn the_envelope_parts_are_leaves() {
    for leaf in [
        "middleware::problem",
        "middleware::etag",
        "middleware::security_headers",
        "middleware::compression",
        "middleware::panic",
        "middleware::request_id",
    ] {
        for imported in imports(leaf) {
            assert!(
                !imported.starts_with("middleware") || imported == "middleware::request_id",
                "{leaf} imports {imported}"
            );
        }
    }
}
#[test]
fn paths_are_read_through_groups_and_supers() {
    let module: Module = vec!["middleware".into(), "envelope".into()];
    let code = "use super::{request_id::RequestId, problem}; use crate::error::{self, Problem}; \
                let x = super::super::docs::fnv1a(b); use other::crate_like::x;";
    let found: Vec<String> = named_paths(&module, code).iter().map(name).collect();
    assert_eq!(
        found,
        vec![
            "middleware::request_id::RequestId",
            "middleware::problem",
            "error",
            "error::Problem",
            "docs::fnv1a",
        ]
    );
}
