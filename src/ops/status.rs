//! `sapipe status` (what would run and why) and `sapipe explain` (one stage's key components
//! and what changed since its last record).

use std::collections::BTreeSet;

use serde::Serialize;

use super::slurm::{JobStatus, QueueReport};
use super::{Session, no_events};
use crate::exec::plan::{StageStatus, plan};

/// One stage in `sapipe status --json`: its status and, when the pipeline's last run went
/// through Slurm, the stage's job and its state in the queue.
#[derive(Debug, Serialize)]
pub struct StageReport {
    #[serde(flatten)]
    pub status: StageStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slurm: Option<JobStatus>,
}

/// Pairs each stage's status with its job of `queue`, if it had one.
pub fn with_jobs(statuses: Vec<StageStatus>, queue: Option<&QueueReport>) -> Vec<StageReport> {
    statuses
        .into_iter()
        .map(|status| {
            let slurm = queue
                .and_then(|q| q.jobs.iter().find(|j| j.stage == status.stage))
                .cloned();
            StageReport { status, slurm }
        })
        .collect()
}

pub fn status(session: &Session, targets: &[String]) -> anyhow::Result<Vec<StageStatus>> {
    let stages = session.selection(targets)?;
    let lock = session.lock_file()?;
    let engine = session.engine(&no_events);
    Ok(plan(&engine, &stages, &BTreeSet::new(), lock.as_ref())?)
}

/// The status of one stage, with its key record and previous record filled in.
pub fn explain(session: &Session, stage: &str) -> anyhow::Result<StageStatus> {
    session.pipeline.require_stage(stage)?;
    let all = status(session, &[stage.to_string()])?;
    Ok(all
        .into_iter()
        .find(|s| s.stage == stage)
        .expect("the target is in its own closure"))
}
