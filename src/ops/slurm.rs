//! The Slurm executor's operations: `sapipe run --detach` (submit the remaining DAG and
//! exit), the hidden `sapipe exec-stage` that each job runs, and the queue part of
//! `sapipe status`. (`sapipe run` under the Slurm executor is `ops::run`.)

use anyhow::bail;
use serde::Serialize;

use super::Session;
use super::run::RunRequest;
use crate::exec::Event;
use crate::exec::plan::plan;
use crate::exec::slurm::job::run_job;
use crate::exec::slurm::submit::Submitter;
use crate::exec::slurm::{detach as submit_all, track};
use crate::exec::stage::Done;
use crate::key::StageKey;
use crate::spec::Executor;
use crate::store::jobs::SubmittedJob;

/// Submits every stage of the request that is not up to date as a chain of Slurm jobs.
pub fn detach(session: &Session, req: &RunRequest) -> anyhow::Result<Vec<SubmittedJob>> {
    if session.pipeline.executor != Executor::Slurm {
        bail!(
            "--detach submits Slurm jobs: use it with --executor slurm, or `executor: slurm` in {}",
            session.pipeline.file.display()
        );
    }
    let stages = session.selection(&req.targets)?;
    let force = session.stages_named(&req.force)?;
    let events = super::no_events;
    let engine = session.engine(&events);
    let lock = session.lock_file()?;
    let statuses = plan(&engine, &stages, &force, lock.as_ref())?;
    let submitter = Submitter::new(&session.pipeline, &session.store)?;
    Ok(submit_all::detach(&engine, &statuses, &force, &submitter)?)
}

pub struct ExecStageRequest {
    pub stage: String,
    /// The key the driver computed; `None` in detached jobs.
    pub key: Option<StageKey>,
    pub force: bool,
}

#[derive(Debug)]
pub struct ExecStageOutcome {
    pub key: StageKey,
    /// False when another job or run had already committed the key.
    pub executed: bool,
}

/// Inside a stage's Slurm job: executes the stage into the cache and points its head at it.
pub fn exec_stage(
    mut session: Session,
    req: &ExecStageRequest,
    events: &(dyn Fn(Event) + Sync),
) -> anyhow::Result<ExecStageOutcome> {
    // Whatever the pipeline file says, this stage runs as a Slurm job (its device follows).
    session.pipeline.executor = Executor::Slurm;
    session.pipeline.require_stage(&req.stage)?;
    let order = session.selection(std::slice::from_ref(&req.stage))?;
    let _cache = session.store.lock_shared()?;
    let engine = session.engine(events);
    let (key, done) = run_job(&engine, &order, &req.stage, req.key.as_ref(), req.force)?;
    session
        .store
        .set_head(&session.pipeline.name, &req.stage, &key)?;
    Ok(ExecStageOutcome {
        key,
        executed: matches!(done, Done::Executed(_)),
    })
}

/// A recorded job and what Slurm says of it now.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub stage: String,
    pub job: String,
    pub after: Vec<String>,
    /// `RUNNING`, `PENDING (Dependency)`, ..., or why it is unknown.
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueReport {
    pub submitted: String,
    pub detached: bool,
    pub jobs: Vec<JobStatus>,
}

/// The jobs last submitted for this pipeline (by a detached run, or a driver that is still
/// running or was killed) with their state in the queue; `None` when there are none.
pub fn queue(session: &Session) -> anyhow::Result<Option<QueueReport>> {
    let Some(file) = session.store.jobs(&session.pipeline.name)? else {
        return Ok(None);
    };
    let jobs = file
        .jobs
        .into_iter()
        .map(|j| {
            let state = match track::query(&j.job) {
                Ok(Some(info)) => info.display(),
                Ok(None) => "no longer known to Slurm".to_string(),
                Err(e) => format!("unknown ({e})"),
            };
            JobStatus {
                stage: j.stage,
                job: j.job,
                after: j.after,
                state,
            }
        })
        .collect();
    Ok(Some(QueueReport {
        submitted: file.submitted,
        detached: file.detached,
        jobs,
    }))
}
