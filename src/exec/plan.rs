//! Decides what a run would do, and why: for each stage, up to date (its key has a record),
//! will run (with the typed reasons against its last record), or may run (an upstream stage
//! runs first; with early cutoff it reruns only if that upstream's output content changes).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::keys::{Known, key_record};
use super::{Engine, ExecError};
use crate::key::{DirtyReason, KeyRecord, StageKey, diff};
use crate::lockfile::LockFile;
use crate::store::StageRecord;
use crate::store::integrity::Depth;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    UpToDate,
    WillRun,
    /// Runs only if an upstream stage that runs first changes its output.
    MayRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    pub stage: String,
    pub state: State,
    /// The key, when all inputs are known (otherwise computed assuming upstream unchanged).
    pub key: Option<StageKey>,
    pub reasons: Vec<DirtyReason>,
    /// The key record computed now (with assumed inputs where upstream is pending).
    #[serde(skip)]
    pub record: Option<KeyRecord>,
    /// The last completed record of this stage, if any.
    #[serde(skip)]
    pub previous: Option<StageRecord>,
    /// The stage's resolved parameters (defaults and profile filled in), known even when the
    /// key is not computable yet.
    #[serde(skip)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// The last completed record of a stage: its head in this cache, else the lock file's key.
pub fn previous_record(
    engine: &Engine,
    stage: &str,
    lock: Option<&LockFile>,
) -> Option<StageRecord> {
    previous_record_reusing(engine, stage, lock, None)
}

/// [`previous_record`], taking `current` (the record of the stage's current key, already read)
/// instead of reading it again when the head points at it: a plan of a thousand up-to-date
/// stages reads each record once.
fn previous_record_reusing(
    engine: &Engine,
    stage: &str,
    lock: Option<&LockFile>,
    current: Option<&StageRecord>,
) -> Option<StageRecord> {
    let store = engine.store;
    let read = |key: &StageKey| match current {
        Some(r) if &r.key == key => Some(r.clone()),
        _ => store.record(key).ok().flatten(),
    };
    let from_head = store
        .head(&engine.pipeline.name, stage)
        .and_then(|k| read(&k));
    from_head.or_else(|| read(&lock?.stages.get(stage)?.key))
}

pub fn plan(
    engine: &Engine,
    stages: &[String],
    force: &BTreeSet<String>,
    lock: Option<&LockFile>,
) -> Result<Vec<StageStatus>, ExecError> {
    let mut known: Known = BTreeMap::new();
    let mut assumed: Known = BTreeMap::new();
    let mut pending: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for name in stages {
        let stage = engine.pipeline.stage(name).expect("planned stages exist");
        let pending_up: Vec<String> = stage
            .needs
            .iter()
            .filter(|n| pending.contains(*n))
            .cloned()
            .collect();
        let exact = key_record(engine, stage, &known)?;
        let found = match &exact {
            Some(rec) => engine.store.record(&rec.key())?,
            None => None,
        };
        let previous = previous_record_reusing(engine, name, lock, found.as_ref());
        let (record, state, mut reasons) = match exact {
            Some(rec) => {
                let damage = found
                    .as_ref()
                    .and_then(|r| engine.store.check_record(r, Depth::Size).err());
                match (found, damage) {
                    (Some(r), None) if !force.contains(name) => {
                        known.insert(name.clone(), digests(&r));
                        (Some(rec), State::UpToDate, Vec::new())
                    }
                    (_, damage) => {
                        let mut reasons =
                            reasons_against(&rec, previous.as_ref(), force.contains(name));
                        if let Some(d) = damage {
                            reasons.retain(|r| *r != DirtyReason::NoRecord);
                            reasons.push(DirtyReason::Damaged {
                                detail: d.to_string(),
                            });
                        }
                        (Some(rec), State::WillRun, reasons)
                    }
                }
            }
            None => {
                let mut view = known.clone();
                view.extend(assumed.clone());
                let rec = key_record(engine, stage, &view)?;
                let cached = match &rec {
                    Some(r) => engine.store.has_record(&r.key()),
                    None => false,
                };
                let state = if cached && !force.contains(name) {
                    State::MayRun
                } else {
                    State::WillRun
                };
                let mut reasons = match (&rec, state) {
                    (Some(r), State::WillRun) => {
                        reasons_against(r, previous.as_ref(), force.contains(name))
                    }
                    _ => Vec::new(),
                };
                reasons.retain(|r| !matches!(r, DirtyReason::Input { .. }));
                (rec, state, reasons)
            }
        };
        if !pending_up.is_empty() {
            reasons.push(DirtyReason::UpstreamPending { stages: pending_up });
        }
        if state != State::UpToDate {
            pending.insert(name.clone());
            if let Some(p) = &previous {
                assumed.insert(name.clone(), digests(p));
            }
        }
        out.push(StageStatus {
            stage: name.clone(),
            state,
            key: record.as_ref().map(KeyRecord::key),
            reasons,
            record,
            previous,
            params: stage.params.clone(),
        });
    }
    Ok(out)
}

fn reasons_against(
    rec: &KeyRecord,
    previous: Option<&StageRecord>,
    forced: bool,
) -> Vec<DirtyReason> {
    let mut reasons = match previous {
        None => vec![DirtyReason::NoRecord],
        Some(p) => {
            let d = diff(&p.key_record, rec);
            if d.is_empty() && !forced {
                vec![DirtyReason::NoRecord]
            } else {
                d
            }
        }
    };
    if forced {
        reasons.insert(0, DirtyReason::Forced);
    }
    reasons
}

/// Output name -> digest of a record.
pub fn digests(r: &StageRecord) -> BTreeMap<String, crate::key::ContentDigest> {
    r.outputs
        .iter()
        .map(|(n, o)| (n.clone(), o.digest.clone()))
        .collect()
}
