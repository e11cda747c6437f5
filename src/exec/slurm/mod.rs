//! The Slurm executor. The scheduler decides what is ready exactly as for a local run; this
//! module's [`SlurmLauncher`] then submits each ready stage as a batch job (`sbatch
//! --parsable`) whose script runs this very `sapipe` binary as `sapipe exec-stage PIPELINE
//! STAGE --key KEY` on the compute node. That process recomputes the stage's key from the
//! records of its upstream stages, checks it against KEY (a pipeline edited since submission
//! fails the job rather than computing something else), and executes the stage into the cache
//! under the key's lock, exactly as a local run would (`exec::stage::execute`). So:
//!
//! - the cache must be on a filesystem shared by this machine and the compute nodes (and the
//!   `sapipe` binary reachable at the same path); `flock` must work across nodes (NFSv4 does;
//!   Lustre needs the `flock` mount option);
//! - commits are atomic and race-free: two jobs, or two drivers, that race for one key take
//!   turns on its lock and the second finds the record of the first.
//!
//! The driver follows each job with `scontrol show job` (every 0.5 s; `sacct` when Slurm has
//! forgotten the job and accounting exists), streams its state changes as events, and once it
//! ends reads the stage's record from the cache; a failure is reported with the job id, state,
//! exit code and the tail of the job's log (`logs/slurm-<id>.out` in the cache). An interrupt
//! (SIGINT, SIGTERM, SIGHUP) of the driver cancels the jobs it submitted (`scancel`).
//!
//! `--detach` ([`detach`]) submits the whole remaining DAG at once, chained with
//! `--dependency=afterok:`, and exits. A downstream stage's key depends on its upstream
//! outputs' content, which does not exist yet, so detached jobs run `exec-stage` without
//! `--key`: each computes its key when its upstream jobs have finished.

pub mod cancel;
pub mod detach;
pub mod job;
pub mod submit;
pub mod track;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::keys::Known;
use super::scheduler::{Launcher, RunOptions, RunSummary, run_with};
use super::stage::{Done, log_tail};
use super::{Engine, Event, ExecError};
use crate::key::{KeyRecord, StageKey};
use crate::kind::DeviceClass;
use crate::spec::{Resources, Stage};
use crate::store::jobs::{JobsFile, SubmittedJob};
use cancel::JobRegistry;
use submit::{JobRequest, Submitter};
use track::JobInfo;

/// How often the driver asks Slurm about its jobs.
const POLL: Duration = Duration::from_millis(500);
/// How long a job may be unknown to Slurm, or Slurm unreachable, before the driver gives up.
const PATIENCE: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("cannot run `{command}`: {source} (is Slurm installed, and on PATH?)")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("`sbatch --parsable` printed no job id, but: '{0}'")]
    NoJobId(String),
    #[error("{0}")]
    Setup(String),
}

/// The device class of a stage's job under `device: auto`: CUDA when it asks for GPUs.
pub fn job_device(resources: &Resources) -> DeviceClass {
    if resources.gpus > 0 {
        DeviceClass::Cuda
    } else {
        DeviceClass::Cpu
    }
}

/// Runs a Slurm command, feeding it `input`; only fails if it cannot be started.
pub(crate) fn call(
    program: &str,
    args: &[String],
    input: Option<&str>,
) -> Result<Output, SlurmError> {
    let spawn_error = |source| SlurmError::Spawn {
        command: program.to_string(),
        source,
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a Ctrl-C at the terminal must not kill an `sbatch` half-way (the
    // driver would never learn the id of the job it submitted, and could not cancel it).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(spawn_error)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(spawn_error)?;
    }
    child.wait_with_output().map_err(spawn_error)
}

/// The stdout of a command that must succeed.
pub(crate) fn stdout_of(
    program: &str,
    args: &[String],
    output: Output,
) -> Result<String, SlurmError> {
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(SlurmError::Command {
        command: format!("{program} {}", args.join(" ")),
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

/// Runs `opts` with every stage executed as a Slurm job. An interrupt of this process cancels
/// the jobs it submitted; the run then ends with those stages failed.
pub fn run(
    engine: &Engine,
    opts: &RunOptions,
    submitter: Submitter,
) -> Result<RunSummary, ExecError> {
    let registry = Arc::new(JobRegistry::default());
    cancel::cancel_on_signal(registry.clone());
    let launcher = SlurmLauncher {
        submitter,
        registry,
        jobs: Mutex::new(JobsFile::new(false)),
    };
    let summary = run_with(engine, opts, &launcher);
    // Every job has ended (or been cancelled): nothing is left for `status` to follow.
    if let Err(e) = engine.store.remove_jobs(&engine.pipeline.name) {
        tracing::warn!("{e}");
    }
    summary
}

/// Submits ready stages as Slurm jobs and follows them to the end.
pub struct SlurmLauncher {
    submitter: Submitter,
    registry: Arc<JobRegistry>,
    /// What `status` shows while the run goes on (and after the driver was killed).
    jobs: Mutex<JobsFile>,
}

impl Launcher for SlurmLauncher {
    fn launch(
        &self,
        engine: &Engine,
        stage: &Stage,
        record: KeyRecord,
        _known: &Known,
        force: bool,
    ) -> Result<Done, ExecError> {
        let key = record.key();
        let request = JobRequest {
            pipeline: &engine.pipeline.name,
            stage,
            key: Some(&key),
            force,
            after: &[],
        };
        let job = self
            .registry
            .submit(&stage.name, || self.submitter.submit(&request))?;
        self.remember(engine, &stage.name, &job);
        (engine.events)(Event::Submitted {
            stage: stage.name.clone(),
            job: job.clone(),
        });
        let info = follow(engine, stage, &key, &job);
        self.registry.finished(&job);
        let result = outcome(engine, stage, &key, &job, info?);
        match result {
            Err(ExecError::Stage { stage, message }) if self.registry.is_cancelled() => {
                Err(ExecError::Stage {
                    stage,
                    message: format!("interrupted: sapipe cancelled its job. {message}"),
                })
            }
            other => other,
        }
    }

    fn shares_devices(&self) -> bool {
        false
    }
}

impl SlurmLauncher {
    fn remember(&self, engine: &Engine, stage: &str, job: &str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.jobs.push(SubmittedJob {
            stage: stage.to_string(),
            job: job.to_string(),
            after: Vec::new(),
        });
        if let Err(e) = engine.store.write_jobs(&engine.pipeline.name, &jobs) {
            tracing::warn!("{e}");
        }
    }
}

/// Polls the job until it ends; `None` when Slurm no longer knows it but the stage's record
/// is in the cache (or Slurm forgot it for longer than `PATIENCE`).
fn follow(
    engine: &Engine,
    stage: &Stage,
    key: &StageKey,
    job: &str,
) -> Result<Option<JobInfo>, ExecError> {
    let mut shown = String::new();
    let mut started = false;
    let mut trouble_since: Option<Instant> = None;
    loop {
        match track::query(job) {
            Ok(Some(info)) => {
                trouble_since = None;
                let text = info.display();
                if text != shown {
                    (engine.events)(Event::JobState {
                        stage: stage.name.clone(),
                        job: job.to_string(),
                        state: text.clone(),
                    });
                    shown = text;
                }
                if info.state == "RUNNING" && !started {
                    started = true;
                    (engine.events)(Event::Started {
                        stage: stage.name.clone(),
                        key: key.hex().to_string(),
                    });
                }
                if info.is_final() {
                    return Ok(Some(info));
                }
            }
            Ok(None) if engine.store.has_record(key) => return Ok(None),
            other => {
                let since = *trouble_since.get_or_insert_with(Instant::now);
                if since.elapsed() > PATIENCE {
                    return match other {
                        Err(e) => Err(e.into()),
                        _ => Ok(None),
                    };
                }
                if let Err(e) = other {
                    tracing::warn!(job, "cannot query the job's state (will retry): {e}");
                }
            }
        }
        std::thread::sleep(POLL);
    }
}

/// The stage's result once its job has ended: its record, or a failure naming the job, its
/// state and exit code, with the tail of its log.
fn outcome(
    engine: &Engine,
    stage: &Stage,
    key: &StageKey,
    job: &str,
    info: Option<JobInfo>,
) -> Result<Done, ExecError> {
    let log = engine.store.slurm_log(job);
    if let Some(record) = engine.store.record(key)? {
        if let Some(i) = info.as_ref().filter(|i| i.state != "COMPLETED") {
            tracing::warn!(job, state = %i.state, "the job ended badly after committing its stage");
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        return Ok(if text.contains(job::COMPUTED_ELSEWHERE) {
            Done::ComputedElsewhere(record)
        } else {
            Done::Executed(record)
        });
    }
    let what = match &info {
        Some(i) if i.state == "COMPLETED" => format!(
            "Slurm job {job} COMPLETED but left no record of key {} in the cache {} (is the cache on a filesystem the compute nodes share?)",
            key.short(),
            engine.store.root().display()
        ),
        Some(i) => format!(
            "Slurm job {job} {}, exit code {}",
            i.display(),
            i.exit_code.as_deref().unwrap_or("unknown")
        ),
        None => format!(
            "Slurm job {job} is no longer known to Slurm, and left no record of key {}",
            key.short()
        ),
    };
    Err(ExecError::Stage {
        stage: stage.name.clone(),
        message: format!("{what}{}", log_tail(&log)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_asking_for_gpus_runs_on_cuda_under_device_auto() {
        let mut r = Resources::default();
        assert_eq!(job_device(&r), DeviceClass::Cpu);
        r.gpus = 2;
        assert_eq!(job_device(&r), DeviceClass::Cuda);
    }

    #[test]
    fn a_missing_slurm_command_is_named() {
        let e = call("sapipe-no-such-slurm-command", &[], None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot run `sapipe-no-such-slurm-command`"),
            "{e}"
        );
        let out = call("sh", &["-c".into(), "echo oops >&2; exit 4".into()], None).unwrap();
        let e = stdout_of("sh", &["-c".into(), "x".into()], out).unwrap_err();
        assert!(e.to_string().contains("oops"), "{e}");
    }
}
