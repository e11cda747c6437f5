//! Tables for comparing results: `sapipe diff` (what changed, old, new, delta) and `sapipe
//! show --metrics` (every stage's scalar metrics in one table).

use std::fmt::Write as _;

use serde_json::Value;

use crate::ops::diff::{Change, Diff};
use crate::ops::show::ShowEntry;
use crate::report::tables::Table;

const NONE: &str = "-";

fn cell(v: Option<&Value>) -> String {
    match v {
        None => NONE.into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// new - old, signed, to 6 significant digits (so that 0.225 -> 0.18 reads -0.045).
fn delta(c: &Change) -> String {
    let round = |d: f64| format!("{d:.5e}").parse::<f64>().unwrap_or(d);
    c.delta.map_or(NONE.into(), |d| format!("{:+}", round(d)))
}

/// The differences as one table (stage, parameter or metric, old, new, delta), then notes.
pub fn diff(d: &Diff) -> String {
    let mut table = Table {
        title: format!("{} -> {}", d.old, d.new),
        header: ["STAGE", "TYPE", "NAME", "OLD", "NEW", "DELTA"]
            .map(String::from)
            .to_vec(),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    for s in &d.stages {
        let kinds = [("param", &s.params), ("metric", &s.metrics)];
        for (kind, changes) in kinds {
            for c in changes.iter() {
                table.rows.push(vec![
                    s.stage.clone(),
                    kind.into(),
                    c.name.clone(),
                    cell(c.old.as_ref()),
                    cell(c.new.as_ref()),
                    delta(c),
                ]);
            }
        }
        for n in &s.notes {
            table.notes.push(format!("{}: {n}", s.stage));
        }
    }
    if d.stages.is_empty() {
        return format!("{}\nno differences in parameters or metrics\n", table.title);
    }
    table.to_text()
}

/// Every stage's scalar metrics (lists and maps are left to `show --json`), one row each.
pub fn metrics(entries: &[ShowEntry]) -> String {
    let mut table = Table {
        title: "metrics".into(),
        header: ["STAGE", "METRIC", "VALUE"].map(String::from).to_vec(),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    let mut stale = Vec::new();
    for e in entries {
        let Some(r) = &e.record else {
            table
                .rows
                .push(vec![e.stage.clone(), NONE.into(), "no result yet".into()]);
            continue;
        };
        if e.stale {
            stale.push(e.stage.as_str());
        }
        let name = match e.stale {
            true => format!("{} *", e.stage),
            false => e.stage.clone(),
        };
        let scalars = r
            .metrics
            .iter()
            .filter(|(_, v)| !(v.is_array() || v.is_object()));
        for (metric, v) in scalars {
            table
                .rows
                .push(vec![name.clone(), metric.clone(), cell(Some(v))]);
        }
    }
    let mut out = table.to_text();
    if !stale.is_empty() {
        let _ = writeln!(
            out,
            "* not up to date: the last result of {} (`sapipe run` updates it)",
            stale.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ops::diff::StageDiff;

    #[test]
    fn diff_table() {
        let change = |name: &str, old: Value, new: Value, delta: Option<f64>| Change {
            name: name.into(),
            old: Some(old),
            new: Some(new),
            delta,
        };
        let d = Diff {
            old: "pipelines/demo.lock at HEAD".into(),
            new: "current results".into(),
            stages: vec![
                StageDiff {
                    stage: "train".into(),
                    old_key: None,
                    new_key: None,
                    params: vec![change("epochs", json!(2), json!(3), Some(1.0))],
                    metrics: vec![
                        change("corr", json!(0.225), json!(0.18), Some(0.18 - 0.225)),
                        change("model", json!("a"), json!("b"), None),
                    ],
                    notes: vec![],
                },
                StageDiff {
                    stage: "eval".into(),
                    old_key: None,
                    new_key: None,
                    params: vec![],
                    metrics: vec![],
                    notes: vec!["current results: not up to date".into()],
                },
            ],
        };
        insta::assert_snapshot!("diff_table", diff(&d));
        let same = Diff {
            stages: vec![],
            ..d
        };
        insta::assert_snapshot!("diff_none", diff(&same));
    }

    fn entry(stage: &str, stale: bool, metrics: Option<Value>) -> ShowEntry {
        let key_record = crate::key::fixtures::fixture();
        let record = metrics.map(|m| crate::store::StageRecord {
            stage: stage.into(),
            metrics: serde_json::from_value(m).unwrap(),
            ..crate::store::StageRecord::fixture(key_record)
        });
        ShowEntry {
            stage: stage.into(),
            definition: "d".into(),
            description: String::new(),
            state: crate::exec::plan::State::UpToDate,
            record,
            stale,
            files: Default::default(),
            inputs: Default::default(),
            missing: vec![],
        }
    }

    #[test]
    fn metrics_table() {
        let entries = [
            entry("data", false, Some(json!({"neurons": 3, "curve": [1, 2]}))),
            entry(
                "train",
                true,
                Some(json!({"corr": 0.25, "model": "rf-cnn"})),
            ),
            entry("eval", false, None),
        ];
        insta::assert_snapshot!("metrics_table", metrics(&entries));
    }
}
