//! The dependency rule, checked against what Cargo actually resolves: `domain` and
//! `application` must never (even transitively) depend on a framework, a driver or an async
//! runtime, and `application` may depend on no workspace crate but `domain`.
//!
//! Dev-dependencies are exempt: tests may use tokio to drive futures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};

use cargo_metadata::{DependencyKind, MetadataCommand, Package, PackageId};

/// Crates (by name prefix) that must stay out of the inner layers.
const FORBIDDEN: &[&str] = &[
    "sqlx",
    "axum",
    "tonic",
    "async-graphql",
    "redis",
    "hyper",
    "tower",
    "tokio",
    "reqwest",
    "moka",
    "argon2",
    "testcontainers",
    "infrastructure",
    "backend",
];

struct Graph {
    packages: HashMap<PackageId, Package>,
    /// Normal and build dependencies of each package, as resolved.
    deps: HashMap<PackageId, Vec<PackageId>>,
}

impl Graph {
    fn load() -> Self {
        let metadata = MetadataCommand::new()
            .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
            .exec()
            .expect("cargo metadata");
        let resolve = metadata.resolve.expect("a resolved dependency graph");
        let deps = resolve
            .nodes
            .iter()
            .map(|node| {
                let runtime = node
                    .deps
                    .iter()
                    .filter(|d| {
                        d.dep_kinds
                            .iter()
                            .any(|k| k.kind != DependencyKind::Development)
                    })
                    .map(|d| d.pkg.clone())
                    .collect();
                (node.id.clone(), runtime)
            })
            .collect();
        let packages = metadata
            .packages
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        Self { packages, deps }
    }

    fn id_of(&self, name: &str) -> PackageId {
        self.packages
            .values()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.id.clone())
            .unwrap()
    }

    /// Every crate `name` depends on at run time, directly or not.
    fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.id_of(name)];
        let mut names = BTreeSet::new();
        while let Some(id) = stack.pop() {
            for dep in &self.deps[&id] {
                if seen.insert(dep.clone()) {
                    names.insert(self.packages[dep].name.to_string());
                    stack.push(dep.clone());
                }
            }
        }
        names
    }

    fn direct(&self, name: &str) -> BTreeSet<String> {
        self.deps[&self.id_of(name)]
            .iter()
            .map(|d| self.packages[d].name.to_string())
            .collect()
    }
}

fn forbidden_in(crates: &BTreeSet<String>) -> Vec<&String> {
    crates
        .iter()
        .filter(|c| FORBIDDEN.iter().any(|f| c.starts_with(f)))
        .collect()
}

#[test]
fn the_domain_depends_on_no_framework_driver_or_runtime() {
    let graph = Graph::load();
    let closure = graph.closure("domain");
    assert!(
        forbidden_in(&closure).is_empty(),
        "domain pulls in {:?}",
        forbidden_in(&closure)
    );
    assert!(!closure.contains("application"));
}

#[test]
fn the_domain_reads_no_random_source_itself() {
    // Randomness is a side effect, reached through ports (ids, session tokens) so that
    // tests can fix it. (uuid may pull a random source in for its own `now_v7`, which the
    // domain never calls; what the domain lists itself is what this checks.)
    let graph = Graph::load();
    let direct = graph.direct("domain");
    for source in ["rand", "getrandom", "rand_core"] {
        assert!(!direct.contains(source), "domain depends on {source}");
    }
}

#[test]
fn the_application_depends_on_the_domain_and_no_framework_driver_or_runtime() {
    let graph = Graph::load();
    let closure = graph.closure("application");
    assert!(
        forbidden_in(&closure).is_empty(),
        "application pulls in {:?}",
        forbidden_in(&closure)
    );
    assert!(graph.direct("application").contains("domain"));
}

#[test]
fn the_check_itself_sees_frameworks_where_they_belong() {
    // Guards against a check that passes because it looks at nothing.
    let graph = Graph::load();
    let infrastructure = graph.closure("infrastructure");
    for expected in ["sqlx", "redis", "tokio", "argon2"] {
        assert!(
            infrastructure.contains(expected),
            "{expected} missing from {infrastructure:?}"
        );
    }
}
