//! What Slurm says about a job: `scontrol show job -o ID` (`JobState=`, `Reason=`,
//! `ExitCode=code:signal`) while the controller remembers it (`MinJobAge`, 300 s by default),
//! then `sacct` where accounting exists.

use super::{SlurmError, call, stdout_of};

/// A job's state as Slurm reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, ...
    pub state: String,
    /// Why it is pending or ended (`Priority`, `Dependency`, `NonZeroExitCode`, ...).
    pub reason: Option<String>,
    /// `code:signal`, e.g. `3:0` for `exit 3`, `0:9` for SIGKILL.
    pub exit_code: Option<String>,
}

/// States after which a job never runs again.
const FINAL: [&str; 11] = [
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "BOOT_FAIL",
    "DEADLINE",
    "PREEMPTED",
    "REVOKED",
    "SPECIAL_EXIT",
];

impl JobInfo {
    pub fn is_final(&self) -> bool {
        FINAL.contains(&self.state.as_str())
    }

    /// `STATE` or `STATE (Reason)`.
    pub fn display(&self) -> String {
        match &self.reason {
            Some(r) => format!("{} ({r})", self.state),
            None => self.state.clone(),
        }
    }
}

/// The job's state; `None` when Slurm does not know the job (any more).
pub fn query(job: &str) -> Result<Option<JobInfo>, SlurmError> {
    let args = vec!["show".to_string(), "job".into(), "-o".into(), job.into()];
    let out = call("scontrol", &args, None)?;
    if out.status.success() {
        return Ok(parse_scontrol(&String::from_utf8_lossy(&out.stdout)));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.contains("Invalid job id") {
        stdout_of("scontrol", &args, out)?;
    }
    Ok(accounting(job))
}

/// From `sacct`, where accounting storage exists; `None` otherwise.
fn accounting(job: &str) -> Option<JobInfo> {
    let args: Vec<String> = ["-n", "-P", "-X", "-j", job, "-o", "State,ExitCode"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = call("sacct", &args, None).ok()?;
    let text = stdout_of("sacct", &args, out).ok()?;
    parse_sacct(&text)
}

/// The fields of `scontrol show job -o`: one line of `Key=Value` words.
fn parse_scontrol(text: &str) -> Option<JobInfo> {
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .map(String::from)
    };
    Some(JobInfo {
        state: field("JobState")?,
        reason: field("Reason").filter(|r| r != "None"),
        exit_code: field("ExitCode"),
    })
}

/// `State|ExitCode` lines of `sacct -n -P` (e.g. `CANCELLED by 0|0:15`).
fn parse_sacct(text: &str) -> Option<JobInfo> {
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let (state, exit) = line.split_once('|')?;
    Some(JobInfo {
        state: state.split_whitespace().next()?.to_string(),
        reason: None,
        exit_code: Some(exit.trim().to_string()).filter(|e| !e.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_state_reason_and_exit_code_from_scontrol() {
        let pending = "JobId=3 JobName=sapipe:demo:gen UserId=root(0) JobState=PENDING Reason=Dependency Dependency=afterok:2(unfulfilled) Requeue=1 ExitCode=0:0 RunTime=00:00:00\n";
        let info = parse_scontrol(pending).unwrap();
        assert_eq!(info.display(), "PENDING (Dependency)");
        assert!(!info.is_final());
        let failed = "JobId=4 JobName=x JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0 RunTime=00:00:01";
        let info = parse_scontrol(failed).unwrap();
        assert_eq!(
            info,
            JobInfo {
                state: "FAILED".into(),
                reason: Some("NonZeroExitCode".into()),
                exit_code: Some("3:0".into()),
            }
        );
        assert!(info.is_final());
        let done = parse_scontrol("JobId=5 JobState=COMPLETED Reason=None ExitCode=0:0").unwrap();
        assert_eq!(done.display(), "COMPLETED");
        assert!(parse_scontrol("slurm_load_jobs error: Invalid job id specified").is_none());
    }

    #[test]
    fn reads_sacct_lines() {
        let info = parse_sacct("CANCELLED by 0|0:15\n").unwrap();
        assert_eq!(info.state, "CANCELLED");
        assert_eq!(info.exit_code.as_deref(), Some("0:15"));
        assert!(info.is_final());
        assert!(parse_sacct("\n").is_none());
    }
}
