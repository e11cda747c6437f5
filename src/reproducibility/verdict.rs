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
/// between kernels: on the CI pipeline (a few dozen Adam steps) other kernel sets moved metrics
/// by up to 5e-4 relative, and longer trainings move them further; 1% of a metric is still far
/// below any difference a study would read as a result.
pub const HARDWARE_TOLERANCE: f64 = 1e-2;

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
        /// The stage's inputs were themselves reproduced within tolerance (so its key changed).
        through_inputs: bool,
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
                through_inputs,
            } => Some(format!(
                "{stage}: reproduced within {max_relative:.1e} relative {}{}{}",
                if *through_inputs {
                    "from inputs reproduced within tolerance on different hardware".to_string()
                } else {
                    format!("on different hardware ({here} vs {locked_on}, the lock's)")
                },
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
    // Bit identity is expected of the same computation in the same class. A stage whose inputs
    // were themselves reproduced only within tolerance is judged numerically, whatever its class.
    let through_inputs = new.key != old.key;
    if bitwise_expected && !through_inputs {
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
        through_inputs,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::fixtures::fixture;
    use crate::key::{ContentDigest, InputKey};
    use crate::reproducibility::{Environment, Numerics};
    use crate::spec::OutputType;
    use crate::store::records::OutputRecord;
    use serde_json::json;

    fn env(class: &str, cpu: &str) -> Environment {
        let mut e = Environment::here(Some(Numerics {
            summary: "test numerics".into(),
            settings: BTreeMap::new(),
            class: Some(class.into()),
        }));
        e.machine.cpu_model = cpu.into();
        e
    }

    /// A record of stage `name` reading `input`, producing `output`, with metric `corr`.
    fn record(input: &[u8], output: &[u8], corr: f64, env: Environment) -> StageRecord {
        let mut key_record = fixture();
        key_record.inputs = BTreeMap::from([(
            "prepared".to_string(),
            InputKey::One(ContentDigest::of_bytes(input)),
        )]);
        StageRecord {
            outputs: BTreeMap::from([(
                "checkpoint".to_string(),
                OutputRecord {
                    digest: ContentDigest::of_bytes(output),
                    ty: OutputType::File,
                    bytes: 1,
                },
            )]),
            metrics: serde_json::Map::from_iter([("corr".to_string(), json!(corr))]),
            environment: Some(env),
            ..StageRecord::fixture(key_record)
        }
    }

    fn chain(
        up_out: &[u8],
        up_corr: f64,
        down_out: &[u8],
        down_corr: f64,
        e: Environment,
    ) -> BTreeMap<String, StageRecord> {
        BTreeMap::from([
            (
                "up".to_string(),
                record(b"data", up_out, up_corr, e.clone()),
            ),
            ("down".to_string(), record(up_out, down_out, down_corr, e)),
        ])
    }

    fn locked(records: &BTreeMap<String, StageRecord>) -> BTreeMap<String, LockedStage> {
        records
            .iter()
            .map(|(s, r)| (s.clone(), LockedStage::of(r)))
            .collect()
    }

    const ORDER: [&str; 2] = ["up", "down"];

    fn order() -> Vec<String> {
        ORDER.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_same_results_are_identical() {
        let intel = env("portable intel", "Xeon");
        let lock = locked(&chain(b"u", 0.5, b"d", 0.25, intel.clone()));
        let v = judge(&order(), &lock, &chain(b"u", 0.5, b"d", 0.25, intel));
        assert!(v.values().all(|v| *v == LockVerdict::Identical), "{v:?}");
    }

    #[test]
    fn other_bits_in_the_same_class_differ() {
        let intel = env("portable intel", "Xeon");
        let lock = locked(&chain(b"u", 0.5, b"d", 0.25, intel.clone()));
        let v = judge(&order(), &lock, &chain(b"u2", 0.5, b"d2", 0.25, intel));
        assert!(matches!(v["up"], LockVerdict::Differs { .. }), "{v:?}");
        assert!(!v["down"].reproduces(), "{v:?}");
    }

    #[test]
    fn another_class_is_judged_numerically_and_says_so() {
        let lock = locked(&chain(b"u", 0.5, b"d", 0.25, env("portable intel", "Xeon")));
        let amd = env("portable amd", "EPYC");
        // Upstream bits differ, so the downstream key differs too: both reproduce numerically.
        let v = judge(
            &order(),
            &lock,
            &chain(b"u2", 0.5001, b"d2", 0.25, amd.clone()),
        );
        assert!(v["up"].reproduces() && v["down"].reproduces(), "{v:?}");
        let line = v["up"].describe("up").unwrap();
        assert!(
            line.starts_with("up: reproduced within 2.0e-4 relative on different hardware (EPYC vs Xeon, the lock's); largest difference: metric corr 0.5 -> 0.5001"),
            "{line}"
        );
        assert!(
            line.ends_with("outputs not bit-identical: checkpoint"),
            "{line}"
        );
        // Beyond the tolerance it differs, and so does a real change of the downstream stage.
        let v = judge(
            &order(),
            &lock,
            &chain(b"u2", 0.6, b"d2", 0.25, amd.clone()),
        );
        assert!(matches!(v["up"], LockVerdict::Differs { .. }), "{v:?}");
        let mut changed = chain(b"u2", 0.5, b"d2", 0.25, amd);
        changed
            .get_mut("down")
            .unwrap()
            .key_record
            .params
            .insert("epochs".into(), json!(21));
        let v = judge(&order(), &lock, &changed);
        assert!(v["up"].reproduces(), "{v:?}");
        assert!(matches!(v["down"], LockVerdict::Differs { .. }), "{v:?}");
    }

    #[test]
    fn a_lock_without_recorded_hardware_is_judged_numerically() {
        let mut lock = locked(&chain(b"u", 0.5, b"d", 0.25, env("c", "Xeon")));
        for s in lock.values_mut() {
            s.produced_on = None;
        }
        let v = judge(
            &order(),
            &lock,
            &chain(b"u2", 0.5, b"d", 0.25, env("c", "Xeon")),
        );
        assert!(v["up"].reproduces() && v["down"].reproduces(), "{v:?}");
        assert!(
            v["up"]
                .describe("up")
                .unwrap()
                .contains("hardware not recorded")
        );
    }

    #[test]
    fn new_stages_are_new() {
        let v = judge(
            &order(),
            &BTreeMap::new(),
            &chain(b"u", 0.5, b"d", 0.25, env("c", "X")),
        );
        assert_eq!(v["up"], LockVerdict::New);
    }
}
