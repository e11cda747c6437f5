//! What `sapipe` sends the libtorch worker (one stage to run) and what comes back: JSON lines
//! on the worker's stdout (progress, then the result). The worker's stderr goes to the stage log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::kind::{DeviceClass, Metrics, Params};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRequest {
    pub kind: String,
    pub stage: String,
    pub params: Params,
    pub inputs: BTreeMap<String, PathBuf>,
    pub outputs: BTreeMap<String, PathBuf>,
    pub workdir: PathBuf,
    pub log_path: PathBuf,
    pub device: DeviceClass,
    pub deterministic: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMessage {
    Progress {
        done: u64,
        total: u64,
        message: String,
    },
    Done {
        metrics: Metrics,
        /// How the worker computed (kernels, threads, BLAS mode, GPU), for the record.
        #[serde(default)]
        numerics: Option<crate::reproducibility::Numerics>,
    },
    /// `invalid`: the user's parameters or data are wrong (else the computation failed).
    Error { invalid: bool, message: String },
}
