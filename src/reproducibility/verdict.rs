//! Verdicts of a run against a lock file across hardware. Results computed in the same
//! reproducibility class must match the lock bit for bit. Results computed in another class
//! (another CPU vendor's BLAS, another GPU model, `deterministic: false`, ...) cannot; they are
//! judged numerically instead, and say so: the stage must have the same key once the upstream
//! outputs judged so are substituted, and every metric must agree within
//! [`HARDWARE_TOLERANCE`]. Never a failure only because the hardware differs; never a pass
//! that does not say it was not bit for bit.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::key::{ContentDigest, InputKey, KeyRecord};
use crate::lockfile::{LockedStage, metric_close};
use crate::store::StageRecord;

/// Largest relative (or absolute, for values near zero) metric difference accepted between
/// results of different reproducibility classes. Training amplifies last-bit differences
/// between kernels; see README "How training computes" for what was measured.
pub const HARDWARE_TOLERANCE: f64 = 1e-3;

/// How a stage's new result compares with its lock entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum LockVerdict {
    /// Key, outputs and metrics as locked.
    Identical,
    /// Computed in another reproducibility class and reproduced numerically.
    WithinTolerance {
        /// Largest relative metric difference, and the metric.
        max_relative: f64,
        largest: Option<String>,
        /// Outputs whose bytes differ from the lock's.
        outputs_differ: Vec<String>,
        locked_on: String,
        here: String,
    },
    /// Not the locked result: the lines say what differs.
    Differs { differences: Vec<String> },
    /// The lock file has no entry for the stage.
    New,
}

impl LockVerdict {
    /// Whether the committed entry stands for this result (the lock file is left as it is).
    pub fn reproduces(&self) -> bool {
        matches!(
            self,
            LockVerdict::Identical | LockVerdict::WithinTolerance { .. }
        )
    }

    /// One line for people, or `None` for the plain "identical".
    pub fn describe(&self, stage: &str) -> Option<String> {
        match self {
            LockVerdict::Identical => None,
            LockVerdict::WithinTolerance {
                max_relative,
                largest,
                outputs_differ,
                locked_on,
                here,
            } => Some(format!(
                "{stage}: reproduced within {max_relative:.1e} relative on different hardware ({here} vs {locked_on}, the lock's){}{}",
                largest
                    .as_ref()
                    .map(|l| format!("; largest difference: {l}"))
                    .unwrap_or_default(),
                if outputs_differ.is_empty() {
                    String::new()
                } else {
                    format!("; outputs not bit-identical: {}", outputs_differ.join(", "))
                }
            )),
            LockVerdict::Differs { differences } => Some(differences.join("\n")),
            LockVerdict::New => Some(format!("{stage}: not in the lock file")),
        }
    }
}

/// Judges each stage's record (in dependency `order`) against the lock's entries.
pub fn judge(
    order: &[String],
    locked: &BTreeMap<String, LockedStage>,
    records: &BTreeMap<String, StageRecord>,
) -> BTreeMap<String, LockVerdict> {
    // New output digest -> locked digest, for outputs reproduced within tolerance: the key of a
    // downstream stage changes with them and is compared after substituting them back.
    let mut substitute: BTreeMap<ContentDigest, ContentDigest> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for stage in order {
        let Some(record) = records.get(stage) else {
            continue;
        };
        let verdict = match locked.get(stage) {
            None => LockVerdict::New,
            Some(old) => judge_one(stage, old, record, &substitute),
        };
        if let (LockVerdict::WithinTolerance { .. }, Some(old)) = (&verdict, locked.get(stage)) {
            for (name, o) in &record.outputs {
                if let Some(d) = old.outputs.get(name) {
                    substitute.insert(o.digest.clone(), d.clone());
                }
            }
        }
        out.insert(stage.clone(), verdict);
    }
    out
}

fn judge_one(
    stage: &str,
    old: &LockedStage,
    record: &StageRecord,
    substitute: &BTreeMap<ContentDigest, ContentDigest>,
) -> LockVerdict {
    let new = LockedStage::of(record);
    if old.same_results(&new) {
        return LockVerdict::Identical;
    }
    let bitwise_expected = old
        .produced_on
        .as_ref()
        .and_then(|p| p.class.as_ref())
        .is_some_and(|c| new.produced_on.as_ref().and_then(|p| p.class.as_ref()) == Some(c));
    let differences = || LockVerdict::Differs {
        differences: lines(stage, old, &new),
    };
    if bitwise_expected {
        return differences();
    }
    if substituted_key(&record.key_record, substitute).key() != old.key {
        return differences();
    }
    if old.metrics.len() != new.metrics.len() {
        return differences();
    }
    let mut max_relative: f64 = 0.0;
    let mut largest = None;
    for (name, v) in &old.metrics {
        let Some(w) = new.metrics.get(name) else {
            return differences();
        };
        if metric_close(v, w) {
            continue;
        }
        let (Some(x), Some(y)) = (v.as_f64(), w.as_f64()) else {
            return differences();
        };
        let abs = (x - y).abs();
        let rel = abs / x.abs().max(y.abs());
        if !(abs <= HARDWARE_TOLERANCE || rel <= HARDWARE_TOLERANCE) {
            return differences();
        }
        if rel > max_relative {
            max_relative = rel;
            largest = Some(format!("metric {name} {x} -> {y}"));
        }
    }
    let describe = |s: &LockedStage| {
        s.produced_on
            .as_ref()
            .map(|p| p.hardware.clone())
            .unwrap_or_else(|| "hardware not recorded".into())
    };
    LockVerdict::WithinTolerance {
        max_relative,
        largest,
        outputs_differ: new
            .outputs
            .iter()
            .filter(|(n, d)| old.outputs.get(*n) != Some(*d))
            .map(|(n, _)| n.clone())
            .collect(),
        locked_on: describe(old),
        here: describe(&new),
    }
}

/// `record` with every input digest that has a substitute replaced by it.
fn substituted_key(
    record: &KeyRecord,
    substitute: &BTreeMap<ContentDigest, ContentDigest>,
) -> KeyRecord {
    let swap = |d: &ContentDigest| substitute.get(d).unwrap_or(d).clone();
    let mut r = record.clone();
    for input in r.inputs.values_mut() {
        *input = match input {
            InputKey::One(d) => InputKey::One(swap(d)),
            InputKey::Many(m) => {
                InputKey::Many(m.iter().map(|(k, d)| (k.clone(), swap(d))).collect())
            }
        };
    }
    r
}

/// The readable differences of one stage (as `LockFile::differences` words them).
fn lines(stage: &str, old: &LockedStage, new: &LockedStage) -> Vec<String> {
    let one = |s: &LockedStage| crate::lockfile::LockFile {
        pipeline: String::new(),
        stages: BTreeMap::from([(stage.to_string(), s.clone())]),
    };
    one(new).differences(&one(old))
}
