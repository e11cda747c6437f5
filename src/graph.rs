//! The pipeline's DAG: dependency order, cycle detection (naming the cycle's stages), target
//! selection, and the text / DOT / Mermaid views.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::spec::error::locate;
use crate::spec::{Pipeline, SpecError};

/// Stage names as a graph (edges point from a stage to the stages that need it).
pub struct Dag {
    graph: DiGraph<String, ()>,
    index: BTreeMap<String, NodeIndex>,
    /// Stage names in a dependency order (stable: file order breaks ties).
    order: Vec<String>,
}

impl Dag {
    pub fn new(p: &Pipeline) -> Result<Self, SpecError> {
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for s in &p.stages {
            index.insert(s.name.clone(), graph.add_node(s.name.clone()));
        }
        for s in &p.stages {
            for need in &s.needs {
                graph.add_edge(index[need], index[&s.name], ());
            }
        }
        if toposort(&graph, None).is_err() {
            let stages = cycle(&graph);
            // The line of the first stage's `needs` (or of the stage, when an input binds it).
            let line = std::fs::read_to_string(&p.file).ok().and_then(|text| {
                locate(&text, &["stages", &stages[0], "needs"])
                    .or_else(|| locate(&text, &["stages", &stages[0]]))
            });
            return Err(SpecError::new(
                &p.file,
                format!("the stages form a cycle: {}", stages.join(" -> ")),
            )
            .line(line));
        }
        // Kahn's algorithm picking the earliest stage in file order among the ready ones.
        let position: BTreeMap<&str, usize> = p
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut waiting: BTreeMap<&str, usize> = p
            .stages
            .iter()
            .map(|s| (s.name.as_str(), s.needs.len()))
            .collect();
        let mut ready: BTreeSet<(usize, &str)> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(s, _)| (position[s], *s))
            .collect();
        let mut order = Vec::new();
        while let Some((_, name)) = ready.pop_first() {
            order.push(name.to_string());
            for next in graph.neighbors_directed(index[name], petgraph::Direction::Outgoing) {
                let next = graph[next].as_str();
                let w = waiting.get_mut(next).expect("every stage is counted");
                *w -= 1;
                if *w == 0 {
                    ready.insert((position[next], next));
                }
            }
        }
        Ok(Self {
            graph,
            index,
            order,
        })
    }

    /// All stages in dependency order.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// The given targets and everything they depend on, in dependency order.
    pub fn closure(&self, targets: &[String]) -> Vec<String> {
        let mut keep = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = targets
            .iter()
            .filter_map(|t| self.index.get(t).copied())
            .collect();
        while let Some(n) = stack.pop() {
            if keep.insert(n) {
                stack.extend(
                    self.graph
                        .neighbors_directed(n, petgraph::Direction::Incoming),
                );
            }
        }
        self.order
            .iter()
            .filter(|s| keep.contains(&self.index[*s]))
            .cloned()
            .collect()
    }

    /// The stages that (transitively) depend on `stage`.
    pub fn dependants(&self, stage: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = self.index.get(stage).copied().into_iter().collect();
        while let Some(n) = stack.pop() {
            for m in self
                .graph
                .neighbors_directed(n, petgraph::Direction::Outgoing)
            {
                if out.insert(self.graph[m].clone()) {
                    stack.push(m);
                }
            }
        }
        out
    }
}

/// One cycle's stage names, closed (first name repeated at the end).
fn cycle(graph: &DiGraph<String, ()>) -> Vec<String> {
    let scc = tarjan_scc(graph)
        .into_iter()
        .find(|c| c.len() > 1 || graph.contains_edge(c[0], c[0]))
        .expect("toposort failed, so a cycle exists");
    let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
    let start = *scc
        .iter()
        .min_by_key(|n| graph[**n].clone())
        .expect("non-empty");
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = graph
            .neighbors(at)
            .filter(|n| members.contains(n))
            .min_by_key(|n| graph[*n].clone())
            .expect("every member of a cycle has a successor in it");
        if next == start || path.contains(&next) {
            path.push(next);
            break;
        }
        path.push(next);
        at = next;
    }
    path.into_iter().map(|n| graph[n].clone()).collect()
}

/// Output formats of `sapipe dag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DagFormat {
    Text,
    Dot,
    Mermaid,
}

/// Renders the DAG; `label` gives each stage's annotation (e.g. its definition and state).
pub fn render(p: &Pipeline, format: DagFormat, label: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    match format {
        DagFormat::Text => {
            for s in &p.stages {
                let needs = if s.needs.is_empty() {
                    String::new()
                } else {
                    format!("  <- {}", s.needs.join(", "))
                };
                out.push_str(&format!("{}  [{}]{}\n", s.name, label(&s.name), needs));
            }
        }
        DagFormat::Dot => {
            out.push_str(&format!("digraph \"{}\" {{\n  rankdir=LR;\n", p.name));
            for s in &p.stages {
                out.push_str(&format!(
                    "  \"{}\" [label=\"{}\\n{}\"];\n",
                    s.name,
                    s.name,
                    label(&s.name)
                ));
            }
            for s in &p.stages {
                for n in &s.needs {
                    out.push_str(&format!("  \"{n}\" -> \"{}\";\n", s.name));
                }
            }
            out.push_str("}\n");
        }
        DagFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for s in &p.stages {
                out.push_str(&format!(
                    "  {}[\"{}<br/>{}\"]\n",
                    mermaid_id(&s.name),
                    s.name,
                    label(&s.name)
                ));
            }
            for s in &p.stages {
                for n in &s.needs {
                    out.push_str(&format!(
                        "  {} --> {}\n",
                        mermaid_id(n),
                        mermaid_id(&s.name)
                    ));
                }
            }
        }
    }
    out
}

/// A Mermaid node id: '-' becomes '_', other characters of expanded stage names (`@ , . +`)
/// their code, so ids stay distinct.
fn mermaid_id(name: &str) -> String {
    let mut id = String::from("s_");
    for c in name.chars() {
        match c {
            '-' => id.push('_'),
            c if c.is_ascii_alphanumeric() || c == '_' => id.push(c),
            c => id.push_str(&format!("_{:x}_", c as u32)),
        }
    }
    id
}
