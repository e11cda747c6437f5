//! The job side: what `sapipe exec-stage` does inside a stage's Slurm job. It recomputes the
//! stage's key from the cache's records of its upstream stages, checks it against the key the
//! driver submitted the job for, and executes the stage under the key's lock, exactly as a local
//! run does; if another job or driver committed the key meanwhile, the stage is done at once.

use std::collections::BTreeMap;

use crate::exec::keys::{Known, key_record};
use crate::exec::plan::digests;
use crate::exec::stage::{Done, execute};
use crate::exec::{Engine, ExecError};
use crate::key::StageKey;

/// What `exec-stage` prints when the key was committed by another job or run: the driver reads
/// it in the job's log to tell "ran" from "cached".
pub const COMPUTED_ELSEWHERE: &str = "already computed by another run";

/// Runs `stage` of the engine's pipeline; `order` is the stage's closure in dependency order
/// (its upstream stages, which must all be complete in the cache, and itself).
pub fn run_job(
    engine: &Engine,
    order: &[String],
    stage: &str,
    expected: Option<&StageKey>,
    force: bool,
) -> Result<(StageKey, Done), ExecError> {
    let mut known: Known = BTreeMap::new();
    for name in order.iter().filter(|n| *n != stage) {
        let up = engine
            .pipeline
            .stage(name)
            .expect("the closure names stages");
        let key = key_of(engine, name, up, &known)?;
        let record = engine.store.record(&key)?.ok_or_else(|| {
            ExecError::Input(format!(
                "stage '{stage}' needs stage '{name}', whose key {} has no record in the cache {}: its job has not completed (a stage's job must start after its upstream stages' jobs)",
                key.short(),
                engine.store.root().display()
            ))
        })?;
        known.insert(name.clone(), digests(&record));
    }
    let target = engine
        .pipeline
        .stage(stage)
        .expect("the closure names stages");
    let record = key_record(engine, target, &known)?.ok_or_else(|| unknown_input(stage))?;
    let key = record.key();
    if let Some(expected) = expected.filter(|e| **e != key) {
        return Err(ExecError::Input(format!(
            "stage '{stage}': the job was submitted for key {}, but the stage's key is now {}: the pipeline, a stage definition or an input changed since submission; run `sapipe run` again",
            expected.short(),
            key.short()
        )));
    }
    let done = execute(engine, target, record, &known, force)?;
    Ok((key, done))
}

fn key_of(
    engine: &Engine,
    name: &str,
    stage: &crate::spec::Stage,
    known: &Known,
) -> Result<StageKey, ExecError> {
    Ok(key_record(engine, stage, known)?
        .ok_or_else(|| unknown_input(name))?
        .key())
}

fn unknown_input(stage: &str) -> ExecError {
    ExecError::Input(format!(
        "stage '{stage}': an input's upstream output is unknown"
    ))
}
