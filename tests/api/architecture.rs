//! The layering rules of `ARCHITECTURE.md`, checked on the real dependency graph from
//! `cargo metadata`: the domain and application never reach a framework, and the HTTP
//! adapter never reaches the infrastructure.

use std::collections::{HashMap, HashSet};
use std::process::Command;

/// Packages the inner layers must not depend on, directly or through normal
/// dependencies.
const FRAMEWORKS: &[&str] = &[
    "actix",
    "sea-orm",
    "sea-query",
    "sqlx",
    "paperclip",
    "jsonwebtoken",
    "argon2",
    "reqwest",
    "redis",
];

struct Graph {
    names: HashMap<String, String>,
    normal_deps: HashMap<String, Vec<String>>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let names = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or_default().to_owned(),
                p["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut normal_deps = HashMap::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
    {
        let id = node["id"].as_str().unwrap_or_default().to_owned();
        let deps = node["deps"]
            .as_array()
            .map(|deps| {
                deps.iter()
                    .filter(|dep| {
                        dep["dep_kinds"]
                            .as_array()
                            .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
                    })
                    .filter_map(|dep| dep["pkg"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        normal_deps.insert(id, deps);
    }
    Graph { names, normal_deps }
}

impl Graph {
    /// Names of every package reachable from `package` through normal dependencies.
    fn closure(&self, package: &str) -> HashSet<String> {
        let start = self
            .names
            .iter()
            .find(|(_, name)| name.as_str() == package)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("{package} is not in the workspace"));
        let mut seen = HashSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            for dep in self.normal_deps.get(&id).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        seen.into_iter()
            .filter_map(|id| self.names.get(&id).cloned())
            .collect()
    }
}

fn forbidden_in(names: &HashSet<String>) -> Vec<String> {
    let mut found: Vec<String> = names
        .iter()
        .filter(|name| {
            FRAMEWORKS.iter().any(|f| {
                name.as_str() == *f
                    || name.starts_with(&format!("{f}-"))
                    || name.starts_with(&format!("{f}_"))
            })
        })
        .cloned()
        .collect();
    found.sort();
    found
}

#[test]
fn domain_and_application_never_reach_a_framework() {
    let graph = graph();
    for package in ["vidgen-domain", "vidgen-application"] {
        let found = forbidden_in(&graph.closure(package));
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
}

#[test]
fn http_adapter_never_reaches_the_infrastructure() {
    let graph = graph();
    let deps = graph.closure("vidgen-http-adapter");
    assert!(
        !deps.contains("vidgen-infrastructure"),
        "vidgen-http-adapter depends on vidgen-infrastructure"
    );
}

#[test]
fn the_check_itself_sees_frameworks() {
    // Guards against a check that passes because it sees nothing.
    let graph = graph();
    assert!(!forbidden_in(&graph.closure("vidgen-http-adapter")).is_empty());
    assert!(
        graph
            .closure("vidgen-server")
            .contains("vidgen-infrastructure")
    );
}
