//! Terminal text about stage definitions and projects: `sapipe stages` (the list, and one
//! definition in full), which definition each stage of a pipeline uses (for `status` and
//! `explain`), and what `sapipe init` created.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use crate::ops::init::Created;
use crate::ops::stages::Available;
use crate::spec::definition::Definition;
use crate::spec::{Implementation, Pipeline};

/// `sapipe stages`: one line per definition, with its source and description.
pub fn list(all: &[Available]) -> String {
    let name_w = all.iter().map(|a| a.name.len()).max().unwrap_or(0).max(4);
    let rows: Vec<(String, String)> = all
        .iter()
        .map(|a| {
            let source = a.source.to_string();
            let what = match &a.problem {
                Some(p) => format!("cannot be used: {p}"),
                None => first_sentence(&a.description),
            };
            (source, what)
        })
        .collect();
    let source_w = rows.iter().map(|(s, _)| s.len()).max().unwrap_or(0).max(6);
    let mut out = format!("{:name_w$}  {:source_w$}  DESCRIPTION\n", "NAME", "SOURCE");
    for (a, (source, what)) in all.iter().zip(&rows) {
        let _ = writeln!(out, "{:name_w$}  {source:source_w$}  {what}", a.name);
    }
    out.push_str(
        "`sapipe stages show NAME` prints a definition's parameters, inputs and outputs\n",
    );
    out
}

fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map(|i| i + 1).unwrap_or(text.len());
    text[..end].to_string()
}

/// `sapipe stages show NAME`.
pub fn show(d: &Definition) -> String {
    let mut out = format!("{} (kind {}) from {}\n", d.name, d.kind, d.source);
    if !d.description.is_empty() {
        let _ = writeln!(out, "{}", d.description);
    }
    if let Implementation::Command { command, code } = &d.implementation {
        let _ = writeln!(out, "command: {command}");
        if !code.is_empty() {
            let _ = writeln!(out, "code:    {}", code.join(", "));
        }
    }
    out.push_str("\nparameters:\n");
    if d.params.is_empty() {
        out.push_str("  (none)\n");
    }
    let w = d.params.keys().map(String::len).max().unwrap_or(0);
    for (name, p) in &d.params {
        let ty = format!("{:?}", p.ty).to_lowercase();
        let default = match (&p.default, name.as_str()) {
            (Some(v), _) => format!("default {}", compact(v)),
            (None, "seed") => "default: the pipeline's seed".to_string(),
            (None, _) => "required".to_string(),
        };
        let mut limits = Vec::new();
        if let Some(c) = &p.choices {
            let c: Vec<String> = c.iter().map(compact).collect();
            limits.push(format!("one of {}", c.join(", ")));
        }
        if let Some(m) = p.min {
            limits.push(format!("min {m}"));
        }
        if let Some(m) = p.max {
            limits.push(format!("max {m}"));
        }
        let limits = if limits.is_empty() {
            String::new()
        } else {
            format!(" [{}]", limits.join("; "))
        };
        let _ = writeln!(out, "  {name:w$}  {ty:6}  {default}{limits}");
        if !p.doc.is_empty() {
            let _ = writeln!(out, "  {:w$}  {}", "", p.doc);
        }
    }
    out.push_str("\ninputs:\n");
    if d.inputs.is_empty() {
        out.push_str("  (none)\n");
    }
    for (name, i) in &d.inputs {
        let mut flags = Vec::new();
        if i.optional {
            flags.push("optional");
        }
        if i.many {
            flags.push("many");
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" ({})", flags.join(", "))
        };
        let _ = writeln!(out, "  {name}{flags}  {}", i.doc);
    }
    out.push_str("\noutputs:\n");
    for (name, o) in &d.outputs {
        let ty = format!("{:?}", o.ty).to_lowercase();
        let _ = writeln!(out, "  {name} ({ty})  {}", o.doc);
    }
    out
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Which definitions the `stages` of `pipeline` use, grouped by source, for `status`: one
/// line, e.g. `definitions: built-in: preprocess, train; project stages/: summary`.
pub fn definitions_used(pipeline: &Pipeline, stages: &[String]) -> String {
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    // A set: with a 100,000-stage matrix, a scan per stage was most of `status`'s time.
    let wanted: std::collections::HashSet<&str> = stages.iter().map(String::as_str).collect();
    for s in pipeline
        .stages
        .iter()
        .filter(|s| wanted.contains(s.name.as_str()))
    {
        let d = &s.definition;
        let names = groups.entry(d.source.group()).or_default();
        if !names.contains(&d.name.as_str()) {
            names.push(d.name.as_str());
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(group, names)| format!("{group}: {}", names.join(", ")))
        .collect();
    format!("definitions: {}\n", parts.join("; "))
}

/// The line `explain` adds: which definition the stage uses.
pub fn definition_line(d: &Definition) -> String {
    format!("definition {} from {}\n", d.name, d.source)
}

/// What `sapipe init` says.
pub fn created(c: &Created) -> String {
    let mut out = format!("created a sapipe project in {}\n", c.root.display());
    for f in &c.files {
        let rel = f.strip_prefix(&c.root).unwrap_or(f);
        let _ = writeln!(out, "  {}", rel.display());
    }
    if let Some(outer) = &c.inside {
        let _ = writeln!(
            out,
            "note: it lies inside the project {}; pipelines under this new folder now belong to the new project",
            outer.display()
        );
    }
    let _ = writeln!(
        out,
        "next: cd {} && sapipe run {}",
        c.root.display(),
        crate::ops::init::STARTER
    );
    out
}
