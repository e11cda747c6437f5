//! Every import points down (issue 26, item 3): the library's top-level modules form the layers
//! below, lowest first, and a module may use only modules of lower layers. Checked over the
//! source itself: every `crate::MODULE` path outside comments and test modules. Imports that
//! still point up are listed in `KNOWN_UPWARD`, each with what would remove it; the test fails
//! on any new one and on a listed one that is gone (so the list only shrinks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first. Modules of one layer do not import each other.
const LAYERS: &[&[&str]] = &[
    &["testing", "jsonfile"],
    // What a result was computed on (machine, numerics classes): below everything that records it.
    &["reproducibility"],
    &["kind"],
    &["spec"],
    &["graph", "key"],
    &["store"],
    &["lockfile"],
    &["exec"],
    &["remote", "neuro"],
    &["worker", "report"],
    &["stages"],
    &["audit"],
    &["ops"],
    &["ui"],
    &["cli"],
];

/// Imports that point up today, `(from, to)`, and what would remove each.
const KNOWN_UPWARD: &[(&str, &str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// `(from, to)` -> the first place it happens, over the non-test source of `src/`.
fn imports(src: &Path) -> BTreeMap<(String, String), String> {
    let mut found = BTreeMap::new();
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path.strip_prefix(src).unwrap();
        let name = rel.to_string_lossy();
        if path.extension().is_none_or(|e| e != "rs")
            || name == "main.rs"
            || name == "lib.rs"
            || name.starts_with("bin/")
            || name.ends_with("tests.rs")
            || name.ends_with("fixtures.rs")
        {
            continue;
        }
        let from = name
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.trim_start();
            if code.starts_with("#[cfg(test)]")
                && lines
                    .get(i + 1)
                    .is_some_and(|l| l.trim_start().starts_with("mod "))
            {
                break; // the test module runs to the end of the file
            }
            if code.starts_with("//") {
                continue;
            }
            let code = code.split("//").next().unwrap_or_default();
            for (at, _) in code.match_indices("crate::") {
                let to: String = code[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                // The terminal macros are exported at the crate's root but live in ui.
                let to = match (to.as_str(), code[at + 7 + to.len()..].starts_with('!')) {
                    ("out" | "outln" | "errln", true) => "ui".to_string(),
                    _ => to,
                };
                if !to.is_empty() && to != from {
                    found
                        .entry((from.clone(), to))
                        .or_insert_with(|| format!("src/{name}:{}", i + 1));
                }
            }
        }
    }
    found
}

#[test]
fn every_import_points_down_but_the_listed_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = imports(&src);
    let mut unknown_modules = BTreeSet::new();
    let mut upward = Vec::new();
    let mut still_up = BTreeSet::new();
    for ((from, to), place) in &found {
        let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) else {
            unknown_modules.insert(if layer_of(from).is_none() { from } else { to });
            continue;
        };
        if b < a {
            continue;
        }
        if KNOWN_UPWARD.iter().any(|(f, t, _)| f == from && t == to) {
            still_up.insert((from.as_str(), to.as_str()));
        } else {
            upward.push(format!(
                "{from} -> {to} at {place} ({})",
                if a == b { "same layer" } else { "points up" }
            ));
        }
    }
    assert!(
        unknown_modules.is_empty(),
        "modules missing from LAYERS in tests/it/layers.rs: {unknown_modules:?}"
    );
    assert!(
        upward.is_empty(),
        "imports that do not point down (see the layers in tests/it/layers.rs):\n{}",
        upward.join("\n")
    );
    let gone: Vec<_> = KNOWN_UPWARD
        .iter()
        .filter(|(f, t, _)| !still_up.contains(&(*f, *t)))
        .collect();
    assert!(
        gone.is_empty(),
        "these listed upward imports are gone: remove them from KNOWN_UPWARD: {gone:?}"
    );
}
