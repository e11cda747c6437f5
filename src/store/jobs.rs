//! The Slurm jobs a run submitted, per pipeline (`logs/slurm-<pipeline>.jobs.json`), so that
//! `sapipe status` can follow them in the queue after a detached run, or after the driver was
//! killed; and the jobs' own logs (`logs/slurm-<job id>.out`). Both are transient: a finished
//! non-detached run removes its jobs file, and `gc` removes them like other stray logs.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::fsutil::{read_json, remove_if_present, write_json_atomic};
use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobsFile {
    /// When the run submitted its first job (RFC 3339, UTC).
    pub submitted: String,
    /// Submitted with `--detach` (the driver is not following them).
    pub detached: bool,
    pub jobs: Vec<SubmittedJob>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmittedJob {
    pub stage: String,
    pub job: String,
    /// The jobs it runs after (`--dependency=afterok:`).
    #[serde(default)]
    pub after: Vec<String>,
}

impl JobsFile {
    pub fn new(detached: bool) -> Self {
        Self {
            submitted: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            detached,
            jobs: Vec::new(),
        }
    }
}

impl Store {
    fn jobs_path(&self, pipeline: &str) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("slurm-{pipeline}.jobs.json"))
    }

    /// The log of a Slurm job.
    pub fn slurm_log(&self, job: &str) -> PathBuf {
        self.root.join("logs").join(format!("slurm-{job}.out"))
    }

    /// `sbatch --output` for the jobs' logs (`%j` is the job id).
    pub fn slurm_log_pattern(&self) -> PathBuf {
        self.slurm_log("%j")
    }

    pub fn write_jobs(&self, pipeline: &str, jobs: &JobsFile) -> Result<(), StoreError> {
        write_json_atomic(&self.jobs_path(pipeline), jobs)
    }

    /// The jobs last submitted for `pipeline`, if any are recorded.
    pub fn jobs(&self, pipeline: &str) -> Result<Option<JobsFile>, StoreError> {
        read_json(&self.jobs_path(pipeline))
    }

    pub fn remove_jobs(&self, pipeline: &str) -> Result<(), StoreError> {
        remove_if_present(&self.jobs_path(pipeline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_files_round_trip_and_removal_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.jobs("demo").unwrap(), None);
        let mut file = JobsFile::new(true);
        file.jobs.push(SubmittedJob {
            stage: "gen".into(),
            job: "12".into(),
            after: vec![],
        });
        store.write_jobs("demo", &file).unwrap();
        assert_eq!(store.jobs("demo").unwrap(), Some(file));
        store.remove_jobs("demo").unwrap();
        store.remove_jobs("demo").unwrap();
        assert_eq!(store.jobs("demo").unwrap(), None);
        assert!(store.slurm_log_pattern().ends_with("logs/slurm-%j.out"));
    }
}
