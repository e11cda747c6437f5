//! Terminal text of the Slurm executor's operations: the jobs a detached run submitted, the
//! queue part of `status`, and the line `exec-stage` leaves in its job's log.

use std::fmt::Write;

use crate::exec::slurm::job::COMPUTED_ELSEWHERE;
use crate::ops::slurm::{ExecStageOutcome, QueueReport};
use crate::store::jobs::SubmittedJob;

fn after(ids: &[String]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!("  after {}", ids.join(","))
    }
}

/// `run --detach`: one line per job, `STAGE  job ID  after ID,ID`.
pub fn detached(jobs: &[SubmittedJob]) -> String {
    if jobs.is_empty() {
        return "nothing to submit: every stage is up to date\n".into();
    }
    let width = jobs.iter().map(|j| j.stage.len()).max().unwrap_or(0);
    let mut out = format!(
        "submitted {} Slurm job(s); `sapipe status` follows them:\n",
        jobs.len()
    );
    for j in jobs {
        let _ = writeln!(
            out,
            "  {:width$}  job {}{}",
            j.stage,
            j.job,
            after(&j.after)
        );
    }
    out
}

/// The queue part of `status`.
pub fn queue(q: &QueueReport) -> String {
    let width = q.jobs.iter().map(|j| j.stage.len()).max().unwrap_or(0);
    let mut out = format!(
        "Slurm jobs submitted at {}{}:\n",
        q.submitted,
        if q.detached { " (detached)" } else { "" }
    );
    for j in &q.jobs {
        let _ = writeln!(
            out,
            "  {:width$}  job {}  {}{}",
            j.stage,
            j.job,
            j.state,
            after(&j.after)
        );
    }
    out
}

/// What `exec-stage` prints at the end of its job's log.
pub fn exec_stage(stage: &str, out: &ExecStageOutcome) -> String {
    let what = if out.executed {
        "executed"
    } else {
        COMPUTED_ELSEWHERE
    };
    format!("sapipe exec-stage: stage '{stage}' key {}: {what}", out.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_jobs_are_listed_with_their_dependencies() {
        let jobs = vec![
            SubmittedJob {
                stage: "gen".into(),
                job: "12".into(),
                after: vec![],
            },
            SubmittedJob {
                stage: "join".into(),
                job: "14".into(),
                after: vec!["12".into(), "13".into()],
            },
        ];
        assert_eq!(
            detached(&jobs),
            "submitted 2 Slurm job(s); `sapipe status` follows them:\n  gen   job 12\n  join  job 14  after 12,13\n"
        );
        assert!(detached(&[]).starts_with("nothing to submit"));
    }
}
