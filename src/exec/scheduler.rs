//! Runs a pipeline's stages in dependency order, independent stages in parallel up to `jobs`,
//! and at most `device_slots` device-using stages at a time. A stage whose key has a record is
//! done without running (keys are computed from upstream output content as upstream stages
//! finish: early cutoff). A failure stops the run, or with `keep_going` only the failed stage's
//! dependants. Where a ready stage executes is the [`Launcher`]'s business: in this process
//! ([`InProcess`]), or as a Slurm job (`exec::slurm`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::time::Instant;

use super::keys::{Known, key_record};
use super::plan::digests;
use super::stage::{Done, execute, trusted_record};
use super::{Engine, Event, ExecError};
use crate::key::KeyRecord;
use crate::spec::{Implementation, Stage};
use crate::store::StageRecord;

/// Executes one ready stage (its key record computed, its key without a record, or forced)
/// and returns when it is done. Called on a thread of its own per running stage.
pub trait Launcher: Sync {
    fn launch(
        &self,
        engine: &Engine,
        stage: &Stage,
        record: KeyRecord,
        known: &Known,
        force: bool,
    ) -> Result<Done, ExecError>;

    /// Whether stages run on this machine's devices (then `device_slots` limits them).
    fn shares_devices(&self) -> bool {
        true
    }
}

/// The local executor: stages run in this process.
pub struct InProcess;

impl Launcher for InProcess {
    fn launch(
        &self,
        engine: &Engine,
        stage: &Stage,
        record: KeyRecord,
        known: &Known,
        force: bool,
    ) -> Result<Done, ExecError> {
        execute(engine, stage, record, known, force)
    }
}

pub struct RunOptions {
    /// Stages to run, in dependency order (the targets and their dependencies).
    pub stages: Vec<String>,
    pub force: BTreeSet<String>,
    pub jobs: usize,
    pub keep_going: bool,
}

#[derive(Debug, Default)]
pub struct RunSummary {
    pub executed: Vec<String>,
    pub cached: Vec<String>,
    /// Stages whose result came from a remote cache (`run --pull`) instead of executing.
    pub pulled: Vec<String>,
    /// Stage and message.
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    /// Records of every stage that is done (executed or cached).
    pub records: BTreeMap<String, StageRecord>,
    /// Lock-file verdicts worth telling (results reproduced within tolerance on other
    /// hardware), one line each; filled in by `ops::run`.
    pub lock_verdicts: Vec<String>,
}

enum Slot {
    Waiting,
    Running,
    Finished,
}

pub fn run(engine: &Engine, opts: &RunOptions) -> Result<RunSummary, ExecError> {
    run_with(engine, opts, &InProcess)
}

pub fn run_with(
    engine: &Engine,
    opts: &RunOptions,
    launcher: &dyn Launcher,
) -> Result<RunSummary, ExecError> {
    (engine.events)(Event::Planned {
        stages: opts.stages.clone(),
    });
    let mut summary = RunSummary::default();
    let mut known: Known = BTreeMap::new();
    let mut slots: BTreeMap<&str, Slot> = opts
        .stages
        .iter()
        .map(|s| (s.as_str(), Slot::Waiting))
        .collect();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut running = 0usize;
    let mut device_running = 0usize;
    let mut stop = false;
    let mut retries: BTreeMap<String, u32> = BTreeMap::new();
    std::thread::scope(|scope| -> Result<(), ExecError> {
        let (tx, rx) = mpsc::channel::<(String, bool, Instant, Result<Done, ExecError>)>();
        loop {
            if !stop && !super::interrupt::interrupted() {
                for name in &opts.stages {
                    if !matches!(slots[name.as_str()], Slot::Waiting) || running >= opts.jobs.max(1)
                    {
                        continue;
                    }
                    let stage = engine.pipeline.stage(name).expect("planned stages exist");
                    let ups: Vec<&String> = stage
                        .needs
                        .iter()
                        .filter(|n| slots.contains_key(n.as_str()))
                        .collect();
                    if let Some(bad) = ups.iter().find(|n| failed.contains(n.as_str())) {
                        (engine.events)(Event::Skipped {
                            stage: name.clone(),
                            because: bad.to_string(),
                        });
                        summary.skipped.push(name.clone());
                        failed.insert(name.clone());
                        slots.insert(name, Slot::Finished);
                        continue;
                    }
                    if !ups
                        .iter()
                        .all(|n| matches!(slots[n.as_str()], Slot::Finished))
                    {
                        continue;
                    }
                    let Some(record) = key_record(engine, stage, &known)? else {
                        return Err(ExecError::Input(format!(
                            "stage '{name}': an input's upstream output is unknown"
                        )));
                    };
                    if !opts.force.contains(name)
                        && let Some(r) = trusted_record(engine, stage, &record.key())?
                    {
                        (engine.events)(Event::Cached {
                            stage: name.clone(),
                        });
                        known.insert(name.clone(), digests(&r));
                        summary.cached.push(name.clone());
                        summary.records.insert(name.clone(), r);
                        slots.insert(name, Slot::Finished);
                        continue;
                    }
                    let uses_device = launcher.shares_devices()
                        && matches!(
                            stage.definition.implementation,
                            Implementation::Builtin {
                                uses_device: true,
                                ..
                            }
                        );
                    if uses_device && device_running >= engine.pipeline.device_slots {
                        continue;
                    }
                    running += 1;
                    device_running += usize::from(uses_device);
                    slots.insert(name, Slot::Running);
                    let (tx, known) = (tx.clone(), known.clone());
                    let force = opts.force.contains(name);
                    scope.spawn(move || {
                        let t0 = Instant::now();
                        let r = launcher.launch(engine, stage, record, &known, force);
                        let _ = tx.send((stage.name.clone(), uses_device, t0, r));
                    });
                }
            }
            if running == 0 {
                break;
            }
            let (name, uses_device, t0, result) =
                rx.recv().expect("a running stage always reports");
            running -= 1;
            device_running -= usize::from(uses_device);
            slots.insert(
                opts.stages
                    .iter()
                    .find(|s| **s == name)
                    .expect("known stage"),
                Slot::Finished,
            );
            match result {
                Ok(done) => {
                    let (record, executed) = match done {
                        Done::Executed(r) => (r, true),
                        Done::ComputedElsewhere(r) => (r, false),
                        Done::Pulled(r) => {
                            (engine.events)(Event::Pulled {
                                stage: name.clone(),
                            });
                            summary.pulled.push(name.clone());
                            known.insert(name.clone(), digests(&r));
                            summary.records.insert(name, r);
                            continue;
                        }
                    };
                    if executed {
                        (engine.events)(Event::Finished {
                            stage: name.clone(),
                            duration: t0.elapsed(),
                        });
                        summary.executed.push(name.clone());
                    } else {
                        (engine.events)(Event::Cached {
                            stage: name.clone(),
                        });
                        summary.cached.push(name.clone());
                    }
                    known.insert(name.clone(), digests(&record));
                    summary.records.insert(name, record);
                }
                Err(ExecError::Damaged {
                    producers,
                    retry,
                    message,
                    ..
                }) if retry && retries.get(&name).copied().unwrap_or(0) < MAX_RETRIES => {
                    tracing::warn!("stage '{name}': {message}, then '{name}'");
                    // Its input was damaged in the cache (now quarantined): rerun the
                    // producers, then this stage.
                    *retries.entry(name.clone()).or_default() += 1;
                    for p in &producers {
                        forget_done(engine, p, &mut slots, &mut known, &mut summary)?;
                    }
                    let slot = opts.stages.iter().find(|s| **s == name).expect("known");
                    slots.insert(slot, Slot::Waiting);
                }
                // Stopped by a signal: the handler reports it; nothing more starts.
                Err(ExecError::Interrupted(_)) => stop = true,
                Err(e) => {
                    if let ExecError::Damaged { producers, .. } = &e {
                        for p in producers {
                            forget_done(engine, p, &mut slots, &mut known, &mut summary)?;
                        }
                    }
                    (engine.events)(Event::Failed {
                        stage: name.clone(),
                        message: e.to_string(),
                    });
                    summary.failed.push((name.clone(), e.to_string()));
                    failed.insert(name);
                    stop |= !opts.keep_going;
                }
            }
        }
        Ok(())
    })?;
    // A signal between stages stops the run too (once the handler is done).
    super::interrupt::check()?;
    Ok(summary)
}

/// How often a stage whose input was found damaged waits for its producers to rerun.
const MAX_RETRIES: u32 = 2;

/// Takes back a finished stage whose output turned out damaged: its record is removed and it
/// is waiting again (so it reruns before its dependants). A stage already running again, or
/// not finished, is left alone.
fn forget_done(
    engine: &Engine,
    stage: &str,
    slots: &mut BTreeMap<&str, Slot>,
    known: &mut Known,
    summary: &mut RunSummary,
) -> Result<(), ExecError> {
    let Some((&name, Slot::Finished)) = slots.get_key_value(stage) else {
        return Ok(());
    };
    if let Some(r) = summary.records.remove(stage) {
        engine.store.forget_record(&r.key)?;
    }
    known.remove(stage);
    summary.cached.retain(|s| s != stage);
    summary.pulled.retain(|s| s != stage);
    summary.executed.retain(|s| s != stage);
    slots.insert(name, Slot::Waiting);
    Ok(())
}
