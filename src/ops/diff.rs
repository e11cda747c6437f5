//! `sapipe diff`: the parameters and metrics that differ between two sets of results (the
//! current results and the lock file at a git revision, or two lock files), stage by stage,
//! with old, new and delta. Metrics come from the lock files (or the current records);
//! parameters from the records of the locked keys in the cache: a record the cache lacks is
//! said per stage, not an error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::Session;
use super::revision::{RevisionError, read_at};
use super::show::show;
use crate::key::StageKey;
use crate::lockfile::{LockFile, LockFileError, LockedStage, metric_close};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Revision(#[from] RevisionError),
    #[error(transparent)]
    Lock(#[from] LockFileError),
    #[error("{path}: no such lock file (`sapipe run` writes it next to its pipeline)")]
    NoLock { path: PathBuf },
}

/// One side of a comparison: each stage's key, parameters (when known) and scalar metrics.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// What it is, for people: `pipelines/x.lock at HEAD~1`, `current results`.
    pub label: String,
    pub stages: BTreeMap<String, StageResult>,
    /// Stage -> why it has no result on this side (e.g. not run yet).
    pub pending: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct StageResult {
    pub key: StageKey,
    /// `None` when the record of `key` is not in the cache.
    pub params: Option<BTreeMap<String, Value>>,
    pub metrics: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub old: String,
    pub new: String,
    /// The stages with a difference or a note, in name order.
    pub stages: Vec<StageDiff>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageDiff {
    pub stage: String,
    pub old_key: Option<StageKey>,
    pub new_key: Option<StageKey>,
    pub params: Vec<Change>,
    pub metrics: Vec<Change>,
    /// What could not be compared, and why.
    pub notes: Vec<String>,
}

/// One value that differs; `None` where a side lacks it. `delta` is new - old, for numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub name: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub delta: Option<f64>,
}

/// The lock file of `session`'s pipeline as committed at `rev`.
pub fn lock_at_revision(session: &Session, rev: &str) -> Result<Results, DiffError> {
    let path = session.pipeline.lock_path();
    let text = read_at(&path, rev)?;
    let shown = PathBuf::from(format!("{rev}:{}", path.display()));
    let lock = LockFile::parse(&text, &shown)?;
    Ok(of_lock(
        &lock,
        &session.store,
        format!("{} at {rev}", display(&path, &session.pipeline.root)),
    ))
}

/// A lock file on disk, its parameters looked up in `store`.
pub fn lock_file(path: &Path, store: &Store) -> Result<Results, DiffError> {
    let lock = LockFile::read(path)?.ok_or_else(|| DiffError::NoLock {
        path: path.to_owned(),
    })?;
    Ok(of_lock(&lock, store, path.display().to_string()))
}

fn of_lock(lock: &LockFile, store: &Store, label: String) -> Results {
    let stages = lock
        .stages
        .iter()
        .map(|(name, locked)| {
            // A record that cannot be read is as good as absent here: the note says so.
            let params = store
                .record(&locked.key)
                .ok()
                .flatten()
                .map(|r| r.key_record.params);
            let result = StageResult {
                key: locked.key.clone(),
                params,
                metrics: locked.metrics.clone(),
            };
            (name.clone(), result)
        })
        .collect();
    Results {
        label,
        stages,
        pending: BTreeMap::new(),
    }
}

/// The current result of each stage of `session`'s pipeline (as `show` finds them).
pub fn current(session: &Session) -> anyhow::Result<Results> {
    let mut out = Results {
        label: "current results".into(),
        ..Results::default()
    };
    for entry in show(session, None)? {
        match entry.record {
            Some(r) if !entry.stale => {
                let metrics = LockedStage::of(&r).metrics;
                let result = StageResult {
                    key: r.key,
                    params: Some(r.key_record.params),
                    metrics,
                };
                out.stages.insert(entry.stage, result);
            }
            _ => {
                let why = "not up to date: no current result (`sapipe run` computes it)";
                out.pending.insert(entry.stage, why.into());
            }
        }
    }
    Ok(out)
}

/// What differs from `old` to `new`.
pub fn diff(old: &Results, new: &Results) -> Diff {
    let names: BTreeSet<&String> = old
        .stages
        .keys()
        .chain(new.stages.keys())
        .chain(old.pending.keys())
        .chain(new.pending.keys())
        .collect();
    let stages = names
        .into_iter()
        .filter_map(|name| stage_diff(name, old, new))
        .collect();
    Diff {
        old: old.label.clone(),
        new: new.label.clone(),
        stages,
    }
}

fn stage_diff(name: &str, old: &Results, new: &Results) -> Option<StageDiff> {
    let (o, n) = (old.stages.get(name), new.stages.get(name));
    let mut d = StageDiff {
        stage: name.to_string(),
        old_key: o.map(|r| r.key.clone()),
        new_key: n.map(|r| r.key.clone()),
        params: Vec::new(),
        metrics: Vec::new(),
        notes: Vec::new(),
    };
    for side in [old, new] {
        if let Some(why) = side.pending.get(name) {
            d.notes.push(format!("{}: {why}", side.label));
        }
    }
    match (o, n) {
        (Some(o), Some(n)) => {
            d.metrics = changes(&o.metrics, &n.metrics);
            match (&o.params, &n.params) {
                (Some(op), Some(np)) => d.params = changes(op, np),
                _ if o.key == n.key => {}
                (op, np) => {
                    for (side, r, params) in [(old, o, op), (new, n, np)] {
                        if params.is_none() {
                            d.notes.push(not_cached(side, r));
                        }
                    }
                }
            }
        }
        (Some(_), None) if !new.pending.contains_key(name) => {
            d.notes.push(format!("not in {}", new.label))
        }
        (None, Some(_)) if !old.pending.contains_key(name) => {
            d.notes.push(format!("not in {}", old.label))
        }
        _ => {}
    }
    let same = d.params.is_empty() && d.metrics.is_empty() && d.notes.is_empty();
    (!same).then_some(d)
}

fn not_cached(side: &Results, r: &StageResult) -> String {
    format!(
        "{}: the record of key {} is not in the cache, so its parameters are unknown \
         (`sapipe pull` may fetch it)",
        side.label,
        r.key.short()
    )
}

/// The entries of `old` and `new` that differ (numbers up to the lock file's tolerance).
fn changes(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Vec<Change> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (o, n) = (old.get(name), new.get(name));
            if let (Some(a), Some(b)) = (o, n)
                && metric_close(a, b)
            {
                return None;
            }
            let delta = match (o.and_then(Value::as_f64), n.and_then(Value::as_f64)) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            };
            Some(Change {
                name: name.clone(),
                old: o.cloned(),
                new: n.cloned(),
                delta,
            })
        })
        .collect()
}

/// `path` relative to `root` when it is under it.
fn display(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn result(key: &[u8], params: Option<Value>, metrics: Value) -> StageResult {
        let map = |v: Value| serde_json::from_value(v).unwrap();
        StageResult {
            key: StageKey::from_hash(blake3::hash(key)),
            params: params.map(map),
            metrics: map(metrics),
        }
    }

    fn side(label: &str, stages: Vec<(&str, StageResult)>) -> Results {
        Results {
            label: label.into(),
            stages: stages.into_iter().map(|(n, r)| (n.into(), r)).collect(),
            pending: BTreeMap::new(),
        }
    }

    #[test]
    fn changed_parameters_and_metrics_have_old_new_and_delta() {
        let old = side(
            "old",
            vec![
                ("a", result(b"1", Some(json!({"n": 3})), json!({"c": 0.5}))),
                ("same", result(b"2", Some(json!({})), json!({"c": 1}))),
                ("gone", result(b"3", None, json!({}))),
            ],
        );
        let mut new = side(
            "new",
            vec![
                ("a", result(b"4", Some(json!({"n": 4})), json!({"c": 0.75}))),
                ("same", result(b"2", None, json!({"c": 1.0}))),
            ],
        );
        new.pending.insert("later".into(), "not run".into());
        let d = diff(&old, &new);
        let names: Vec<&str> = d.stages.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(names, ["a", "gone", "later"]);
        let a = &d.stages[0];
        assert_eq!(a.params[0].name, "n");
        assert_eq!(a.params[0].delta, Some(1.0));
        assert_eq!(a.metrics[0].delta, Some(0.25));
        assert_eq!(d.stages[1].notes, ["not in new"]);
        assert_eq!(d.stages[2].notes, ["new: not run"]);
    }

    #[test]
    fn unknown_parameters_of_a_changed_key_are_noted() {
        let old = side("old", vec![("a", result(b"1", None, json!({"s": "x"})))]);
        let new = side("new", vec![("a", result(b"2", Some(json!({})), json!({})))]);
        let d = diff(&old, &new);
        let a = &d.stages[0];
        assert!(a.notes[0].starts_with("old: the record of key "), "{a:?}");
        assert_eq!(
            (a.metrics[0].delta, a.metrics[0].new.is_none()),
            (None, true)
        );
    }
}
