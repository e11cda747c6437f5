//! Verdicts of a run against a lock file across hardware. Results computed in the same
//! reproducibility class must match the lock bit for bit. Results computed in another class
//! (another CPU vendor's BLAS, another GPU model, `deterministic: false`, ...) cannot; they are
//! judged on what the model predicts instead, and say so: the stage must have the same key
//! once the upstream outputs judged so are substituted, and every number of its entry (the
//! per-neuron test CORR and prediction fingerprint of `compared`, and the scalar metrics) must
//! agree within [`HARDWARE_RTOL`], relatively. A stage whose entry holds no per-neuron numbers
//! is reproduced across classes only with bit-identical outputs. Never a failure only because
//! the hardware differs; never a pass that does not say it was not bit for bit.

use std::collections::BTreeMap;

use serde::Serialize;

use super::LockedStage;
use crate::key::{ContentDigest, InputKey, KeyRecord};
use crate::reproducibility::compared;
use crate::reproducibility::tolerance::HARDWARE_RTOL;
use crate::store::StageRecord;

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
                "{stage}: reproduced within tolerance ({max_relative:.1e} relative, at most {HARDWARE_RTOL:.0e}) {}{}{}",
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
    let describe = |s: &LockedStage| {
        s.produced_on
            .as_ref()
            .map(|p| p.hardware.clone())
            .unwrap_or_else(|| "hardware not recorded".into())
    };
    let outputs_differ: Vec<String> = new
        .outputs
        .iter()
        .filter(|(n, d)| old.outputs.get(*n) != Some(*d))
        .map(|(n, _)| n.clone())
        .collect();
    let not_reproduced = |why: String| {
        let mut differences = vec![format!(
            "{stage}: not reproduced on different hardware ({} vs {}, the lock's): {why}",
            describe(&new),
            describe(old)
        )];
        differences.extend(lines(stage, old, &new).into_iter().filter(|l| {
            // Whole per-neuron arrays would bury the line above.
            !l.split_whitespace()
                .nth(2)
                .is_some_and(compared::is_compared)
        }));
        LockVerdict::Differs { differences }
    };
    // Numbers beyond the substituted inputs' bits are compared only where they say what the
    // model predicts; without them, only the same bits reproduce the entry.
    let both_compared =
        compared::has_compared(old.metrics.keys()) && compared::has_compared(new.metrics.keys());
    let same_outputs = outputs_differ.is_empty() && old.outputs.len() == new.outputs.len();
    if !both_compared && !same_outputs {
        return not_reproduced(
            "no per-neuron test CORR or predictions in the lock entry to judge it on, and its outputs are not bit-identical"
                .into(),
        );
    }
    let rtol = if both_compared {
        HARDWARE_RTOL
    } else {
        super::METRIC_RTOL
    };
    match compared::compare(&old.metrics, &new.metrics, rtol) {
        Err(why) => not_reproduced(why),
        Ok(largest) => LockVerdict::WithinTolerance {
            max_relative: largest.as_ref().map_or(0.0, |l| l.relative),
            largest: largest.map(|l| l.what),
            outputs_differ,
            locked_on: describe(old),
            here: describe(&new),
            through_inputs,
        },
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
    let one = |s: &LockedStage| super::LockFile {
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
            metrics: serde_json::Map::from_iter([
                ("corr".to_string(), json!(corr)),
                ("neuron_test_corr".to_string(), json!([corr, 0.25])),
            ]),
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
            line.starts_with("up: reproduced within tolerance (2.0e-4 relative, at most 1e-2) on different hardware (EPYC vs Xeon, the lock's); largest difference: metric corr 0.5 -> 0.5001"),
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

    /// Issue 27: across classes a sign flip fails however small the correlation (the old
    /// absolute floor of 1e-2 let 0.0049 -> -0.0049 pass), and so does a prediction moved by
    /// more than the relative tolerance.
    #[test]
    fn across_classes_a_sign_flip_or_another_prediction_differs() {
        let lock = locked(&chain(
            b"u",
            0.0049,
            b"d",
            0.25,
            env("portable intel", "Xeon"),
        ));
        let amd = env("portable amd", "EPYC");
        let v = judge(
            &order(),
            &lock,
            &chain(b"u2", -0.0049, b"d2", 0.25, amd.clone()),
        );
        let LockVerdict::Differs { differences } = &v["up"] else {
            panic!("{v:?}")
        };
        assert!(
            differences[0].starts_with("up: not reproduced on different hardware (EPYC vs Xeon, the lock's): metric corr 0.0049 -> -0.0049 (2.0e0 relative"),
            "{differences:?}"
        );
        let beyond = 0.0049 * (1.0 + 1.5 * HARDWARE_RTOL);
        let v = judge(
            &order(),
            &lock,
            &chain(b"u2", beyond, b"d2", 0.25, amd.clone()),
        );
        assert!(!v["up"].reproduces(), "{v:?}");
        let within = 0.0049 * (1.0 + 0.5 * HARDWARE_RTOL);
        let v = judge(&order(), &lock, &chain(b"u2", within, b"d2", 0.25, amd));
        assert!(v["up"].reproduces() && v["down"].reproduces(), "{v:?}");
    }

    /// Issue 27: a stage whose entry holds no per-neuron numbers reproduces across classes
    /// only with bit-identical outputs.
    #[test]
    fn without_per_neuron_numbers_only_the_same_bits_reproduce_across_classes() {
        let strip = |mut r: BTreeMap<String, StageRecord>| {
            for rec in r.values_mut() {
                rec.metrics.remove("neuron_test_corr");
            }
            r
        };
        let lock = locked(&strip(chain(
            b"u",
            0.5,
            b"d",
            0.25,
            env("portable intel", "Xeon"),
        )));
        let amd = env("portable amd", "EPYC");
        let v = judge(&order(), &lock, &strip(chain(b"u2", 0.5, b"d", 0.25, amd)));
        let LockVerdict::Differs { differences } = &v["up"] else {
            panic!("{v:?}")
        };
        assert!(
            differences[0].ends_with("no per-neuron test CORR or predictions in the lock entry to judge it on, and its outputs are not bit-identical"),
            "{differences:?}"
        );
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
