//! The dependency rule, checked against what Cargo actually resolves (normal and build
//! dependencies, transitively; dev-dependencies are exempt, so tests may use tokio):
//!
//! - `domain` and `application` never reach a framework, a driver or an async runtime, and
//!   `application` depends on no workspace crate but `domain`.
//! - A driven adapter (`driven-*`) depends on `domain` and its own driver: never on
//!   `application`, a driving framework, a driving adapter, another adapter's driver, or
//!   another driven adapter (the shared `driven-records` support crate excepted).
//! - A driving adapter (`driving-*`) depends on `application` and `domain`: never on a
//!   driver or a driven adapter. The shared HTTP layers (`driving-http`) are a support crate
//!   of that side and follow the same "never".
//! - Only `backend`, the composition root, sees adapters of both kinds.

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
    "driven-",
    "driving-",
    "test-servers",
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

/// The driver each driven adapter wraps. No other adapter may reach it.
const DRIVERS: &[(&str, &str)] = &[
    ("driven-postgres", "sqlx"),
    ("driven-redis", "redis"),
    ("driven-memory", "moka"),
    ("driven-system", "argon2"),
    ("driven-webhook", "reqwest"),
];

/// The support crate of the driving side: the HTTP layers REST and GraphQL share.
const SHARED_HTTP_LAYERS: &str = "driving-http";

/// Frameworks of the driving side, which no driven adapter may reach.
const DRIVING_FRAMEWORKS: &[&str] = &["axum", "tonic", "async-graphql", "tower-http"];

/// Driving-side crates that an HTTP *client* uses inside itself: reqwest follows redirects
/// with tower-http's middleware. The webhook adapter reaches them through reqwest only,
/// which is an implementation detail of its driver, not a server framework in the adapter.
const INSIDE_HTTP_CLIENT: &[(&str, &str)] = &[("driven-webhook", "tower-http")];

impl Graph {
    /// The workspace's own packages whose name starts with `prefix`.
    fn members(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .packages
            .values()
            .filter(|p| p.source.is_none() && p.name.starts_with(prefix))
            .map(|p| p.name.to_string())
            .collect();
        names.sort();
        names
    }
}

fn reaching<'a>(closure: &'a BTreeSet<String>, names: &[&str]) -> Vec<&'a String> {
    closure
        .iter()
        .filter(|c| names.contains(&c.as_str()))
        .collect()
}

#[test]
fn a_driven_adapter_depends_on_the_domain_and_its_own_driver_only() {
    let graph = Graph::load();
    let driven = graph.members("driven-");
    assert!(driven.len() >= 5, "{driven:?}");
    for adapter in &driven {
        let closure = graph.closure(adapter);
        assert!(
            graph.direct(adapter).contains("domain"),
            "{adapter} does not depend on domain"
        );
        let others: Vec<&str> = DRIVERS
            .iter()
            .filter(|(owner, _)| owner != adapter)
            .map(|(_, driver)| *driver)
            .collect();
        let mut wrong = reaching(&closure, &others);
        let direct = graph.direct(adapter);
        wrong.extend(
            reaching(&closure, DRIVING_FRAMEWORKS)
                .into_iter()
                .filter(|c| {
                    let through_client =
                        INSIDE_HTTP_CLIENT.contains(&(adapter.as_str(), c.as_str()));
                    !through_client || direct.contains(c.as_str())
                }),
        );
        wrong.extend(reaching(&closure, &["application", "backend"]));
        wrong.extend(closure.iter().filter(|c| c.starts_with("driving-")));
        // Another adapter, unless it is the shared storage-records support crate.
        wrong.extend(
            closure
                .iter()
                .filter(|c| c.starts_with("driven-") && c.as_str() != "driven-records"),
        );
        assert!(wrong.is_empty(), "{adapter} reaches {wrong:?}");
    }
}

#[test]
fn a_driving_adapter_depends_on_the_use_cases_and_no_driven_side() {
    let graph = Graph::load();
    let driving = graph.members("driving-");
    assert!(!driving.is_empty());
    for adapter in &driving {
        let direct = graph.direct(adapter);
        // The shared HTTP layers are a support crate: they know HTTP, not the use cases.
        if adapter != SHARED_HTTP_LAYERS {
            assert!(
                direct.contains("application") && direct.contains("domain"),
                "{adapter} must depend on application and domain: {direct:?}"
            );
        }
        let closure = graph.closure(adapter);
        let drivers: Vec<&str> = DRIVERS.iter().map(|(_, driver)| *driver).collect();
        let mut wrong = reaching(&closure, &drivers);
        wrong.extend(closure.iter().filter(|c| c.starts_with("driven-")));
        wrong.extend(reaching(&closure, &["backend", "test-servers"]));
        assert!(wrong.is_empty(), "{adapter} reaches {wrong:?}");
    }
}

#[test]
fn only_the_composition_root_sees_adapters_of_both_kinds() {
    let graph = Graph::load();
    for package in graph.members("") {
        if package == "backend" {
            continue;
        }
        let closure = graph.closure(&package);
        let driven = closure.iter().any(|c| c.starts_with("driven-"));
        let driving = closure.iter().any(|c| c.starts_with("driving-"));
        assert!(
            !(driven && driving),
            "{package} depends on driven and driving adapters"
        );
    }
}

#[test]
fn the_check_itself_sees_frameworks_where_they_belong() {
    // Guards against a check that passes because it looks at nothing.
    let graph = Graph::load();
    for (adapter, driver) in DRIVERS {
        assert!(
            graph.closure(adapter).contains(*driver),
            "{driver} missing from {adapter}"
        );
    }
    assert!(graph.closure("driving-rest").contains("axum"));
    let root = graph.closure("backend");
    assert!(
        root.iter().any(|c| c.starts_with("driven-"))
            && root.iter().any(|c| c.starts_with("driving-")),
        "{root:?}"
    );
}
