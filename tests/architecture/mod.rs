//! The shape of `src/`: which folder may import which, where apalis may be
//! named, and no import cycle. Reads the source as text (no build of its
//! own, well under a second), and prints the measured figures on every run:
//! `cargo nextest run architecture --no-capture`.
//!
//! Layers, lowest first; an import from a lower layer into a higher one
//! "runs back up":
//! settings (and cli_args, version) < models/statuses < models/_entities < models <
//! mailers < queue <
//! workers < views < controllers < tasks < initializers < app (and lib.rs) <
//! bin. The queue sits above the models only in name: the two never import
//! each other (asserted below), so either order counts the same.
use std::{fmt::Write as _, path::Path};

mod graph;

use graph::Graph;

/// A layer: its name, and whether a file (path under `src/`) belongs to it.
type Layer = (&'static str, fn(&str) -> bool);

/// Layers, lowest first.
const LAYERS: &[Layer] = &[
    ("settings", |p| {
        p == "settings.rs" || p.starts_with("settings/") || p == "cli_args.rs" || p == "version.rs"
    }),
    // The status enums are the column types the generated entities name (where
    // sea-orm's generator puts `sea_orm_active_enums.rs`); they import nothing.
    ("models/statuses", |p| p == "models/statuses.rs"),
    ("models/_entities", |p| p.starts_with("models/_entities/")),
    ("models", |p| p.starts_with("models/")),
    ("mailers", |p| p.starts_with("mailers/")),
    ("queue", |p| p.starts_with("queue/")),
    ("workers", |p| p.starts_with("workers/")),
    ("views", |p| p.starts_with("views/")),
    ("controllers", |p| p.starts_with("controllers/")),
    ("tasks", |p| p.starts_with("tasks/")),
    ("initializers", |p| p.starts_with("initializers/")),
    ("app", |p| p == "app.rs" || p == "lib.rs"),
    ("bin", |p| p.starts_with("bin/")),
];

/// Where the apalis crates may be named: the queue core and the start path.
const APALIS_HOMES: &[&str] = &["queue/", "workers/start.rs"];

/// Cycles left to other work, each named by one of its files. The test fails
/// once an entry is in no cycle, so that this list only shrinks.
const KNOWN_CYCLES: &[&str] = &[];

/// The longest chain of imports allowed, in files (issue 20); chains longer
/// than this are printed from the file at their top.
const MAX_FLOORS: usize = 9;

/// Imports that may run back up a layer (issue 20: at most one).
const MAX_UPWARD: usize = 1;

fn layer(path: &str) -> usize {
    LAYERS
        .iter()
        .position(|(_, holds)| holds(path))
        .unwrap_or(LAYERS.len())
}

fn layer_name(path: &str) -> &'static str {
    LAYERS.get(layer(path)).map_or("?", |(name, _)| name)
}

/// The figures and the findings, as printed.
struct Shape {
    report: String,
    failures: Vec<String>,
}

fn measure(graph: &Graph) -> Shape {
    let name = |i: usize| graph.files[i].path.as_str();
    let mut report = String::new();
    let mut failures = Vec::new();

    let floors = graph.floors();
    let chain = floors.longest();
    let upward: Vec<(usize, usize)> = graph
        .edges
        .iter()
        .copied()
        .filter(|&(a, b)| layer(name(a)) < layer(name(b)))
        .collect();
    let cycles = graph.cycles();
    let _ = writeln!(
        report,
        "files {}, imports {}, floors {}, upward imports {}, cycles {} ({} outside models/_entities)",
        graph.files.len(),
        graph.edges.len(),
        chain.len(),
        upward.len(),
        cycles.len(),
        cycles
            .iter()
            .filter(|c| !c.iter().all(|&f| name(f).starts_with("models/_entities/")))
            .count(),
    );
    let chain: Vec<&str> = chain.iter().map(|&f| name(f)).collect();
    let _ = writeln!(report, "longest chain: {}", chain.join(" -> "));
    if chain.len() > MAX_FLOORS {
        failures.push(format!(
            "the longest chain of imports is {} files (at most {MAX_FLOORS})",
            chain.len()
        ));
    }
    // What makes it too long: the chains over the bound that start at a file
    // no other file imports.
    let imported: std::collections::BTreeSet<usize> = graph.edges.iter().map(|&(_, b)| b).collect();
    for file in (0..graph.files.len()).filter(|f| !imported.contains(f)) {
        let from_here = floors.from(file);
        if from_here.len() > MAX_FLOORS {
            let files: Vec<&str> = from_here.iter().map(|&f| name(f)).collect();
            let _ = writeln!(report, "over {MAX_FLOORS} floors: {}", files.join(" -> "));
        }
    }
    if upward.len() > MAX_UPWARD {
        failures.push(format!(
            "{} imports run back up a layer (at most {MAX_UPWARD})",
            upward.len()
        ));
    }
    for &(a, b) in &upward {
        let _ = writeln!(
            report,
            "upward: {} -> {} ({} -> {})",
            name(a),
            name(b),
            layer_name(name(a)),
            layer_name(name(b))
        );
    }
    for cycle in &cycles {
        let files: Vec<&str> = cycle.iter().map(|&f| name(f)).collect();
        let _ = writeln!(report, "cycle: {}", files.join(", "));
        let entities = files.iter().all(|f| f.starts_with("models/_entities/"));
        let known = files.iter().any(|f| KNOWN_CYCLES.contains(f));
        if !entities && !known {
            failures.push(format!("import cycle: {}", files.join(", ")));
        }
    }
    for known in KNOWN_CYCLES {
        let still = cycles.iter().any(|c| c.iter().any(|&f| name(f) == *known));
        if !still {
            failures.push(format!(
                "{known} is in no cycle any more: take it out of KNOWN_CYCLES"
            ));
        }
    }

    for &(a, b) in &graph.edges {
        let (from, to) = (name(a), name(b));
        if from.starts_with("models/") && !(to.starts_with("models/") || layer(to) == 0) {
            failures.push(format!("models import {to}: {from}"));
        }
        if from.starts_with("queue/") && !(to.starts_with("queue/") || layer(to) == 0) {
            failures.push(format!("the queue core imports {to}: {from}"));
        }
    }
    let apalis = graph.naming(&["apalis", "apalis_redis", "apalis_core", "apalis_codec"]);
    let homes: Vec<&str> = apalis.iter().map(|&f| name(f)).collect();
    let _ = writeln!(report, "apalis named in: {}", homes.join(", "));
    for file in homes {
        if !APALIS_HOMES.iter().any(|home| file.starts_with(home)) {
            failures.push(format!("apalis named outside the queue core: {file}"));
        }
    }
    Shape { report, failures }
}

#[test]
fn the_import_graph_keeps_its_shape() {
    let graph = Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.files.len() > 100, "src/ not found");
    let shape = measure(&graph);
    println!("{}", shape.report);
    assert!(
        shape.failures.is_empty(),
        "{}\n{}",
        shape.failures.join("\n"),
        shape.report
    );
}

#[test]
fn the_reader_resolves_paths_as_rustc_does() {
    let dir = std::env::temp_dir().join(format!("architecture-{}", std::process::id()));
    let file = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    file("lib.rs", "pub mod a;\npub mod b;\n");
    file(
        "a/mod.rs",
        "mod child;\npub use child::Thing;\n// use crate::b::commented;\n\
         const S: &str = \"crate::b::in_a_string\";\nconst C: char = '\"';\n\
         #[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::b::leaf::X;\n}\n",
    );
    file(
        "a/child.rs",
        "use crate::{\n    b::{self, leaf::{Y, Z}},\n};\npub struct Thing;\n",
    );
    file("b/mod.rs", "pub mod leaf;\n");
    file(
        "b/leaf.rs",
        "pub struct X; pub struct Y; pub struct Z;\nfn f() { let _ = super::super::a::Thing; }\n",
    );
    let graph = Graph::read(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let edges: Vec<(&str, &str)> = graph
        .edges
        .iter()
        .map(|&(a, b)| (graph.files[a].path.as_str(), graph.files[b].path.as_str()))
        .collect();
    assert_eq!(
        edges,
        [
            ("a/child.rs", "b/leaf.rs"),
            ("a/child.rs", "b/mod.rs"),
            ("a/mod.rs", "a/child.rs"),
            ("a/mod.rs", "b/leaf.rs"),
            ("b/leaf.rs", "a/child.rs"),
        ]
    );
    let cycles: Vec<Vec<&str>> = graph
        .cycles()
        .iter()
        .map(|c| c.iter().map(|&f| graph.files[f].path.as_str()).collect())
        .collect();
    assert_eq!(cycles, [["a/child.rs", "b/leaf.rs"]]);
    let chain: Vec<&str> = graph
        .longest_chain()
        .iter()
        .map(|&f| graph.files[f].path.as_str())
        .collect();
    assert_eq!(chain.len(), 3, "{chain:?}");
    assert_eq!((chain[0], chain[2]), ("a/mod.rs", "b/mod.rs"));
}
