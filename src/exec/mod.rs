//! Execution: computing stage keys from upstream content (`keys`), deciding what must run and
//! why (`plan`), executing one stage into the cache (`stage`, `command`), and scheduling the
//! DAG in parallel (`scheduler`), stopping running commands on a signal (`interrupt`) and when sapipe dies (`orphans`). It emits [`Event`]s and never prints.

pub mod command;
pub mod interrupt;
pub mod keys;
pub mod orphans;
pub mod plan;
pub mod scheduler;
pub mod slurm;
pub mod stage;

use std::time::Duration;

use crate::kind::{DeviceClass, KindRegistry};
use crate::spec::{DeviceSetting, Executor, Pipeline, Stage};
use crate::store::{Store, StoreError};

/// What the engine needs to know about this process's compute environment.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The linked libtorch version, if sapipe was built with it.
    pub libtorch: Option<String>,
    pub cuda_available: bool,
    pub host: String,
    /// The recipe of deterministic CPU numerics (kernels, threads, BLAS mode) that keys of
    /// deterministic CPU device stages carry: results of another recipe are other results.
    pub cpu_numerics: Option<String>,
}

impl Environment {
    /// The device class stages of `p` run on.
    pub fn device(&self, p: &Pipeline) -> Result<DeviceClass, ExecError> {
        match p.device {
            DeviceSetting::Cpu => Ok(DeviceClass::Cpu),
            DeviceSetting::Auto if self.cuda_available => Ok(DeviceClass::Cuda),
            DeviceSetting::Auto => Ok(DeviceClass::Cpu),
            DeviceSetting::Cuda if self.cuda_available => Ok(DeviceClass::Cuda),
            DeviceSetting::Cuda => Err(ExecError::Environment(format!(
                "{}: device: cuda, but CUDA is not available here (see `sapipe doctor`); use device: auto or cpu",
                p.file.display()
            ))),
        }
    }
}

/// Everything a run needs, shared by all stages.
pub struct Engine<'a> {
    pub pipeline: &'a Pipeline,
    pub store: &'a Store,
    pub kinds: &'a KindRegistry,
    pub env: &'a Environment,
    pub device: DeviceClass,
    pub events: &'a (dyn Fn(Event) + Sync),
}

impl Engine<'_> {
    /// The device class `stage` runs on: the run's, except under the Slurm executor with
    /// `device: auto`, where it is what the stage's job asks for (see `slurm::job_device`).
    pub fn stage_device(&self, stage: &Stage) -> DeviceClass {
        match (self.pipeline.executor, self.pipeline.device) {
            (Executor::Slurm, DeviceSetting::Auto) => slurm::job_device(&stage.resources),
            _ => self.device,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The environment cannot run this (no CUDA, ...).
    #[error("{0}")]
    Environment(String),
    /// A stage failed; the message names the stage and says why, with the log's tail.
    #[error("stage '{stage}' failed: {message}")]
    Stage { stage: String, message: String },
    #[error("{0}")]
    Input(String),
    /// A stored artifact the stage read was damaged (and is now quarantined): the stages that
    /// produced it must rerun, then (when `retry`) this one.
    #[error("stage '{stage}' failed: {message}")]
    Damaged {
        stage: String,
        producers: Vec<String>,
        message: String,
        retry: bool,
    },
    #[error(transparent)]
    Slurm(#[from] slurm::SlurmError),
    /// A signal stopped the run (its stages' commands were stopped; nothing incomplete was
    /// recorded).
    #[error(transparent)]
    Interrupted(#[from] interrupt::Interrupted),
}

/// What the engine reports while it works; the host decides how to show it.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run will consider these stages.
    Planned {
        stages: Vec<String>,
    },
    /// The stage's key has a record: nothing to do.
    Cached {
        stage: String,
    },
    /// The stage's result came from a remote cache instead of executing.
    Pulled {
        stage: String,
    },
    /// Another process holds the key's lock; waiting for it.
    Waiting {
        stage: String,
    },
    Started {
        stage: String,
        key: String,
    },
    Progress {
        stage: String,
        done: u64,
        total: u64,
        message: String,
    },
    Finished {
        stage: String,
        duration: Duration,
    },
    Failed {
        stage: String,
        message: String,
    },
    /// The stage was submitted to Slurm as batch job `job`.
    Submitted {
        stage: String,
        job: String,
    },
    /// The stage's Slurm job changed state (`PENDING (Priority)`, `RUNNING`, ...).
    JobState {
        stage: String,
        job: String,
        state: String,
    },
    /// Not run because an upstream stage failed.
    Skipped {
        stage: String,
        because: String,
    },
}

pub use crate::reproducibility::host_name;
