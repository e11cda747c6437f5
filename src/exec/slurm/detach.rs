//! `sapipe run --detach`: submits every stage that is not up to date at once, each job after
//! the jobs of its upstream stages (`--dependency=afterok:`, and `--kill-on-invalid-dep=yes` so
//! a failure cancels its dependants), records them for `sapipe status`, and returns. The jobs
//! compute their own keys (downstream keys depend on upstream outputs that do not exist yet);
//! each job points its stage's head at what it computed. The lock file and `publish:` copies
//! are written by the next `sapipe run`, which finds every stage cached.

use std::collections::{BTreeMap, BTreeSet};

use super::submit::{JobRequest, Submitter, scancel};
use crate::exec::plan::{StageStatus, State};
use crate::exec::{Engine, ExecError};
use crate::store::jobs::{JobsFile, SubmittedJob};

/// Submits the stages of `statuses` (a plan, in dependency order) that are not up to date.
pub fn detach(
    engine: &Engine,
    statuses: &[StageStatus],
    force: &BTreeSet<String>,
    submitter: &Submitter,
) -> Result<Vec<SubmittedJob>, ExecError> {
    let mut submitted: Vec<SubmittedJob> = Vec::new();
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for status in statuses.iter().filter(|s| s.state != State::UpToDate) {
        let stage = engine
            .pipeline
            .stage(&status.stage)
            .expect("planned stages exist");
        let after: Vec<String> = stage
            .needs
            .iter()
            .filter_map(|n| ids.get(n.as_str()).cloned())
            .collect();
        let req = JobRequest {
            pipeline: &engine.pipeline.name,
            stage,
            key: None,
            force: force.contains(&stage.name),
            after: &after,
        };
        let job = match submitter.submit(&req) {
            Ok(job) => job,
            Err(e) => {
                // All or nothing: a half-submitted DAG would be hard to reason about.
                let jobs: Vec<String> = submitted.iter().map(|j| j.job.clone()).collect();
                if let Err(c) = scancel(&jobs) {
                    tracing::warn!("cannot cancel the jobs already submitted: {c}");
                }
                return Err(e.into());
            }
        };
        ids.insert(&stage.name, job.clone());
        submitted.push(SubmittedJob {
            stage: stage.name.clone(),
            job,
            after,
        });
    }
    if !submitted.is_empty() {
        let mut file = JobsFile::new(true);
        file.jobs = submitted.clone();
        engine.store.write_jobs(&engine.pipeline.name, &file)?;
    }
    Ok(submitted)
}
