//! `sapipe audit`: re-executes the selected stages into a scratch cache regardless of existing
//! records, each with exactly its recorded inputs, and compares every output's digest with the
//! reference (the lock file by default, or the cache's record of the current key). Differing
//! artifacts are explained tensor by tensor (see `audit::compare`). Timing metrics (names
//! ending in `_per_s` or `_seconds`) are not compared.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Session;
use crate::audit::compare::{Difference, compare_metrics, compare_paths};
use crate::exec::keys::{Known, key_record};
use crate::exec::stage::{Done, execute};
use crate::exec::{Engine, Event, ExecError};
use crate::key::{ContentDigest, InputKey, StageKey};
use crate::kind::DeviceClass;
use crate::reproducibility::compared;
use crate::store::{StageRecord, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Reference {
    /// The pipeline's lock file.
    Lock,
    /// The cache's record of each stage's current key.
    Cache,
}

pub struct AuditRequest {
    pub targets: Vec<String>,
    pub reference: Reference,
    /// Accept numeric differences up to this (absolute or relative).
    pub tolerance: Option<f64>,
    /// Audit on this device class instead of the pipeline's.
    pub device: Option<DeviceClass>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Identical,
    WithinTolerance,
    /// Recorded in another reproducibility class (other hardware or numerics), where bit
    /// identity is not expected, and reproduced within the tolerance.
    WithinToleranceOnOtherHardware,
    Differs,
    /// The pipeline changed since the reference was recorded.
    Stale,
    /// Nothing to compare against.
    NoReference,
    /// The re-execution failed.
    Failed,
}

impl Verdict {
    pub fn passed(self) -> bool {
        matches!(
            self,
            Verdict::Identical | Verdict::WithinTolerance | Verdict::WithinToleranceOnOtherHardware
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StageAudit {
    pub stage: String,
    pub verdict: Verdict,
    pub reference_key: Option<StageKey>,
    pub differences: Vec<Difference>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub stages: Vec<StageAudit>,
    pub passed: bool,
}

pub fn audit(
    session: &Session,
    req: &AuditRequest,
    events: &(dyn Fn(Event) + Sync),
) -> anyhow::Result<AuditReport> {
    let stages = session.selection(&req.targets)?;
    let lock = session.lock_file()?;
    let current = if req.reference == Reference::Cache {
        Some(super::status::status(session, &req.targets)?)
    } else {
        None
    };
    let scratch_dir = tempfile::tempdir()?;
    let scratch = Store::open(scratch_dir.path())?;
    let device = req.device.unwrap_or(session.device);
    let mut out = Vec::new();
    for name in &stages {
        let reference_key = match req.reference {
            Reference::Lock => lock
                .as_ref()
                .and_then(|l| l.stages.get(name))
                .map(|s| s.key.clone()),
            Reference::Cache => current
                .as_ref()
                .and_then(|c| c.iter().find(|s| &s.stage == name))
                .and_then(|s| s.key.clone()),
        };
        // A lock entry reproduced only within tolerance on this hardware (see `run`) has no
        // record here under its key: audit this machine's result of the stage instead, and say so.
        let (reference_key, fallback) = match (req.reference, reference_key) {
            (Reference::Lock, Some(key)) if !session.store.has_record(&key) => {
                match session.store.head(&session.pipeline.name, name) {
                    Some(here) if session.store.has_record(&here) => (
                        Some(here.clone()),
                        Some(format!(
                            "the lock's key {} was not computed here (its result was reproduced within tolerance on other hardware by `run`); audited against this cache's result {}",
                            key.short(),
                            here.short()
                        )),
                    ),
                    _ => (Some(key), None),
                }
            }
            (_, key) => (key, None),
        };
        let result = match reference_key.clone() {
            None => audit_none(name, req.reference),
            Some(key) => match session.store.record(&key)? {
                None => StageAudit {
                    stage: name.clone(),
                    verdict: Verdict::NoReference,
                    reference_key: Some(key.clone()),
                    differences: Vec::new(),
                    note: Some(format!(
                        "this cache has no record of key {} (run `sapipe run` first)",
                        key.short()
                    )),
                },
                Some(record) => {
                    let engine = Engine {
                        store: &scratch,
                        device,
                        events,
                        ..session.engine(events)
                    };
                    audit_stage(session, &engine, name, &record, req.tolerance)?
                }
            },
        };
        let result = match fallback {
            Some(f) => StageAudit {
                note: Some(match result.note {
                    Some(n) => format!("{f}; {n}"),
                    None => f,
                }),
                ..result
            },
            None => result,
        };
        out.push(result);
    }
    let passed = out.iter().all(|s| s.verdict.passed());
    Ok(AuditReport {
        stages: out,
        passed,
    })
}

fn audit_none(stage: &str, reference: Reference) -> StageAudit {
    let note = match reference {
        Reference::Lock => {
            "the lock file has no entry for this stage (run `sapipe run` and commit the lock file)"
        }
        Reference::Cache => "the stage's current key has no record (run `sapipe run` first)",
    };
    StageAudit {
        stage: stage.to_string(),
        verdict: Verdict::NoReference,
        reference_key: None,
        differences: Vec::new(),
        note: Some(note.into()),
    }
}

fn audit_stage(
    session: &Session,
    engine: &Engine,
    name: &str,
    record: &StageRecord,
    tolerance: Option<f64>,
) -> anyhow::Result<StageAudit> {
    let stage = session.pipeline.stage(name).expect("selected stages exist");
    let verdict = |verdict, differences, note: Option<String>| StageAudit {
        stage: name.to_string(),
        verdict,
        reference_key: Some(record.key.clone()),
        differences,
        note,
    };
    let known = recorded_inputs(session, engine.store, stage, record)?;
    let Some(rec) = key_record(engine, stage, &known)? else {
        return Ok(verdict(
            Verdict::Stale,
            Vec::new(),
            Some("an input binding changed since the reference was recorded".into()),
        ));
    };
    let recorded_device = record.key_record.context.as_ref().map(|c| c.device);
    let cross_device = recorded_device.is_some_and(|d| d != engine.device);
    if !cross_device && rec.key() != record.key {
        let reasons: Vec<String> = crate::key::diff(&record.key_record, &rec)
            .iter()
            .map(|r| r.to_string())
            .collect();
        return Ok(verdict(
            Verdict::Stale,
            Vec::new(),
            Some(format!(
                "the pipeline changed since the reference: {}",
                reasons.join("; ")
            )),
        ));
    }
    let fresh = match execute(engine, stage, rec, &known, true) {
        Ok(Done::Executed(r) | Done::ComputedElsewhere(r) | Done::Pulled(r)) => r,
        // A signal stops the audit, not only this stage.
        Err(ExecError::Interrupted(i)) => return Err(i.into()),
        Err(e) => return Ok(verdict(Verdict::Failed, Vec::new(), Some(e.to_string()))),
    };
    let mut differences = Vec::new();
    for (output, o) in &record.outputs {
        let Some(n) = fresh.outputs.get(output) else {
            // Never skipped in silence (issue 27): an output the reference has and the
            // re-execution lacks is a difference no tolerance accepts.
            differences.push(Difference {
                what: format!("{name}.{output}"),
                max_abs: None,
                max_rel: None,
                note: Some("missing from the re-execution".into()),
                parameters: false,
            });
            continue;
        };
        if n.digest == o.digest {
            continue;
        }
        let label = format!("{name}.{output}");
        match session.store.artifact_path(&o.digest, o.ty) {
            Ok(old) => {
                let new = engine.store.artifact_path(&n.digest, n.ty)?;
                let found = compare_paths(&label, &old, &new);
                if found.is_empty() {
                    differences.push(Difference {
                        what: label,
                        max_abs: None,
                        max_rel: None,
                        note: Some("digests differ".into()),
                        parameters: false,
                    });
                }
                differences.extend(found);
            }
            Err(_) => differences.push(Difference {
                what: label,
                max_abs: None,
                max_rel: None,
                note: Some(format!(
                    "digest {} -> {} (the recorded object is not in this cache; no detail)",
                    o.digest.short(),
                    n.digest.short()
                )),
                parameters: false,
            }),
        }
    }
    let timing = |k: &String| crate::kind::is_timing_metric(k);
    let strip = |m: &crate::kind::Metrics| {
        m.iter()
            .filter(|(k, _)| !timing(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    // Metrics are summaries whose last bits may vary (parallel reductions): compared up to
    // a relative 1e-9; the outputs above are compared bit for bit.
    let metric_differences = compare_metrics(&strip(&record.metrics), &strip(&fresh.metrics));
    differences.extend(
        metric_differences
            .into_iter()
            .filter(|d| !d.within_relative(crate::lockfile::METRIC_RTOL)),
    );
    let recorded_class = record.environment.as_ref().and_then(|e| e.class());
    let fresh_class = fresh.environment.as_ref().and_then(|e| e.class());
    let cross_class = !cross_device && (recorded_class.is_none() || recorded_class != fresh_class);
    if cross_class && !differences.is_empty() {
        return Ok(across_hardware(
            verdict,
            differences,
            record,
            &fresh,
            tolerance.unwrap_or(crate::reproducibility::HARDWARE_RTOL),
        ));
    }
    let note = cross_device.then(|| {
        format!(
            "recorded on {}, audited on {}: bit-identity is not expected across device classes{}",
            recorded_device.map(|d| d.to_string()).unwrap_or_default(),
            engine.device,
            tolerance
                .map(|t| format!("; compared with tolerance {t}"))
                .unwrap_or_default()
        )
    });
    let v = if differences.is_empty() {
        Verdict::Identical
    } else if tolerance.is_some_and(|t| differences.iter().all(|d| d.within(t))) {
        Verdict::WithinTolerance
    } else {
        Verdict::Differs
    };
    Ok(verdict(v, differences, note))
}

/// The verdict for a stage recorded in another reproducibility class than this machine's,
/// saying where each result was computed. A stage whose metrics say what its model predicts
/// (`reproducibility::compared`) is judged on every difference but its parameters', each
/// within `tolerance` relative (`reproducibility::tolerance`: no absolute floor for numbers
/// near zero); any other stage must be bit-identical.
fn across_hardware(
    verdict: impl Fn(Verdict, Vec<Difference>, Option<String>) -> StageAudit,
    differences: Vec<Difference>,
    record: &StageRecord,
    fresh: &StageRecord,
    tolerance: f64,
) -> StageAudit {
    let hardware = |r: &StageRecord| {
        r.environment
            .as_ref()
            .map(|e| e.hardware())
            .unwrap_or_else(|| "hardware not recorded".into())
    };
    let (recorded, here) = (hardware(record), hardware(fresh));
    let not_reproduced = |why: &str| {
        format!(
            "recorded on {recorded}, audited on {here} (another reproducibility class, so compared within {tolerance:.1e} relative{why}): not reproduced"
        )
    };
    let predicts = compared::has_compared(record.metrics.keys())
        && compared::has_compared(fresh.metrics.keys());
    if !predicts {
        let why = "; no per-neuron test CORR or predictions to judge it on, so only the same bits reproduce it";
        return verdict(Verdict::Differs, differences, Some(not_reproduced(why)));
    }
    let judged = |d: &&Difference| !(d.parameters && d.note.is_none());
    if !differences
        .iter()
        .filter(judged)
        .all(|d| d.within_relative(tolerance))
    {
        return verdict(Verdict::Differs, differences, Some(not_reproduced("")));
    }
    let largest = differences.iter().filter(judged).max_by(|a, b| {
        a.max_rel
            .unwrap_or(0.0)
            .total_cmp(&b.max_rel.unwrap_or(0.0))
    });
    let parameters = differences.iter().any(|d| d.parameters);
    let note = format!(
        "reproduced within tolerance ({:.1e} relative, at most {tolerance:.0e}) on different hardware ({here} vs {recorded}); largest difference: {}{}",
        largest.and_then(|d| d.max_rel).unwrap_or(0.0),
        largest.map_or("none but the parameters'", |d| d.what.as_str()),
        if parameters {
            "; parameters not bit-identical (reported, not judged: the model is judged on what it predicts)"
        } else {
            ""
        }
    );
    verdict(
        Verdict::WithinToleranceOnOtherHardware,
        differences,
        Some(note),
    )
}

/// The upstream digests recorded for each input of `stage`, with the artifacts linked into
/// the scratch store so the re-execution reads exactly what the recorded one read.
fn recorded_inputs(
    session: &Session,
    scratch: &Store,
    stage: &crate::spec::Stage,
    record: &StageRecord,
) -> anyhow::Result<Known> {
    let mut known: Known = BTreeMap::new();
    for (input, bindings) in &stage.inputs {
        let Some(recorded) = record.key_record.inputs.get(input) else {
            continue;
        };
        for b in bindings {
            let digest: Option<&ContentDigest> = match recorded {
                InputKey::One(d) => Some(d),
                InputKey::Many(m) => m.get(&b.stage),
            };
            let Some(d) = digest else { continue };
            let up = session
                .pipeline
                .stage(&b.stage)
                .expect("bindings name stages");
            let ty = up.definition.outputs[&b.output].ty;
            scratch.import_from(&session.store, d, ty)?;
            known
                .entry(b.stage.clone())
                .or_default()
                .insert(b.output.clone(), d.clone());
        }
    }
    Ok(known)
}
