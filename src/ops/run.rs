//! `sapipe run`: executes what is not up to date, then publishes outputs, moves heads and
//! rewrites the lock file where the results are not the locked ones (see
//! `lockfile::verdict` for results computed on other hardware), unless `--set`
//! overrides made them results of another pipeline than the one written.

use anyhow::Context;

use super::Session;
use crate::exec::Event;
use crate::exec::scheduler::{InProcess, Launcher, RunOptions, RunSummary, run_with as schedule};
use crate::exec::slurm::{self, submit::Submitter};
use crate::lockfile::{LockFile, LockedStage};
use crate::lockfile::{LockVerdict, judge};
use crate::spec::Executor;

pub struct RunRequest {
    pub targets: Vec<String>,
    pub force: Vec<String>,
    pub jobs: usize,
    pub keep_going: bool,
    /// Fail instead of changing the lock file (CI: results must match the committed ones).
    pub locked: bool,
}

pub fn run(
    session: &Session,
    req: &RunRequest,
    events: &(dyn Fn(Event) + Sync),
) -> anyhow::Result<RunSummary> {
    run_with(session, req, events, &InProcess)
}

/// `run` with stages launched by `launcher` (local executor only: `run --pull/--push`).
pub fn run_with(
    session: &Session,
    req: &RunRequest,
    events: &(dyn Fn(Event) + Sync),
    launcher: &dyn Launcher,
) -> anyhow::Result<RunSummary> {
    if req.locked && !session.pipeline.overrides.is_empty() {
        anyhow::bail!(
            "--locked checks results against the committed lock file, which records the \
             pipeline as written: run without --set"
        );
    }
    let stages = session.selection(&req.targets)?;
    let force = session.stages_named(&req.force)?;
    let _cache = session.store.lock_shared()?;
    session.store.clean_dead();
    let engine = session.engine(events);
    let opts = RunOptions {
        stages,
        force,
        jobs: req.jobs,
        keep_going: req.keep_going,
    };
    let summary = match session.pipeline.executor {
        Executor::Local => {
            session.env.device(&session.pipeline)?;
            schedule(&engine, &opts, launcher)?
        }
        Executor::Slurm => {
            let submitter = Submitter::new(&session.pipeline, &session.store)?;
            slurm::run(&engine, &opts, submitter)?
        }
    };
    let mut summary = summary;
    summary.lock_verdicts = finish(session, &summary, req.locked)?;
    Ok(summary)
}

/// Publishes outputs, sets heads and updates the lock file for every stage that is done.
/// Returns the verdicts worth telling: results reproduced only within tolerance.
fn finish(session: &Session, summary: &RunSummary, locked: bool) -> anyhow::Result<Vec<String>> {
    let p = &session.pipeline;
    for (name, record) in &summary.records {
        session.store.set_head(&p.name, name, &record.key)?;
        let stage = p.stage(name).expect("records are of pipeline stages");
        for (output, target) in &stage.publish {
            let o = &record.outputs[output];
            crate::spec::publish::check_on_disk(&p.root, session.store.root(), target).map_err(
                |why| anyhow::anyhow!("stage '{name}': cannot publish output '{output}': {why}"),
            )?;
            session
                .store
                .export(&o.digest, o.ty, target)
                .with_context(|| {
                    format!(
                        "stage '{name}': cannot publish output '{output}' to {}",
                        target.display()
                    )
                })?;
        }
    }
    let path = p.lock_path();
    let old = LockFile::read(&path)?.unwrap_or_default();
    let order = crate::graph::Dag::new(p)?.order().to_vec();
    let verdicts = judge(&order, &old.stages, &summary.records);
    let mut lock = old.clone();
    lock.pipeline = p.name.clone();
    lock.stages.retain(|s, _| p.stage(s).is_some());
    for (name, record) in &summary.records {
        // A result that reproduces the committed entry (bit for bit, or within tolerance on
        // other hardware) leaves it as it is: no diff noise, and a clone stays clean.
        if !verdicts.get(name).is_some_and(LockVerdict::reproduces) {
            lock.stages.insert(name.clone(), LockedStage::of(record));
        }
    }
    let notes: Vec<String> = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, LockVerdict::WithinTolerance { .. }))
        .filter_map(|(s, v)| v.describe(s))
        .collect();
    if locked {
        // Across classes, first why a stage was not reproduced (which number, how far).
        let why = verdicts.values().filter_map(|v| match v {
            LockVerdict::Differs { differences } => differences
                .first()
                .filter(|l| l.contains(": not reproduced on different hardware"))
                .cloned(),
            _ => None,
        });
        let differences: Vec<String> = why.chain(lock.differences(&old)).collect();
        if !differences.is_empty() {
            anyhow::bail!(
                "--locked: the results differ from the committed lock file {}:\n  {}\n\
                 (if the change is intended, run without --locked and commit the lock file)",
                path.display(),
                differences.join("\n  ")
            );
        }
        return Ok(notes);
    }
    if !p.overrides.is_empty() {
        // The lock file records the pipeline as written, which these results are not.
        let mut notes = notes;
        notes.push(format!(
            "{} left as it is: the run had --set overrides ({})",
            path.display(),
            p.overrides.join(", ")
        ));
        return Ok(notes);
    }
    // Unchanged entries need no rendering (a no-op run of a large pipeline skips it).
    if lock != old || !path.exists() {
        lock.write(&path)?;
    }
    Ok(notes)
}
