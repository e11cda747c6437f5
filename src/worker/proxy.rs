//! The engine-side stand-in of a libtorch kind: it knows the kind's name, version, whether it
//! uses a device and how it derives inputs (all plain Rust), and runs the stage by spawning
//! the `sapipe-torch` worker with the serialised context.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use super::protocol::{StageRequest, WorkerMessage};
use crate::kind::{KindError, Metrics, Params, StageContext, StageKind};

/// Derives extra input bindings from parameters (see `StageKind::derived_inputs`).
pub type DeriveInputs = fn(&Params) -> Result<Vec<(String, String, String)>, String>;

pub struct WorkerKind {
    pub name: &'static str,
    pub version: u32,
    pub uses_device: bool,
    pub derive: Option<DeriveInputs>,
}

impl StageKind for WorkerKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn uses_device(&self) -> bool {
        self.uses_device
    }

    fn derived_inputs(&self, params: &Params) -> Result<Vec<(String, String, String)>, String> {
        self.derive.map_or(Ok(Vec::new()), |f| f(params))
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let worker = super::worker_path().ok_or_else(|| {
            KindError::Failed(format!(
                "kind '{}' needs the libtorch worker `sapipe-torch`, which is not next to this sapipe; \
                 build with the default `torch` feature (scripts/sapipe does) or set SAPIPE_TORCH_WORKER",
                self.name
            ))
        })?;
        let request = StageRequest {
            kind: self.name.to_string(),
            stage: ctx.stage.to_string(),
            params: ctx.params.clone(),
            inputs: ctx.inputs.clone(),
            outputs: ctx.outputs.clone(),
            workdir: ctx.workdir.clone(),
            log_path: ctx.log_path.clone(),
            device: ctx.device,
            deterministic: ctx.deterministic,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ctx.log_path)
            .map_err(KindError::io(format!(
                "stage log {}",
                ctx.log_path.display()
            )))?;
        // Its own process group, registered with the interrupt handler: SIGINT/SIGTERM sent to
        // sapipe alone stops the worker too (see exec::interrupt).
        let mut command = super::worker_command(&worker);
        command
            .arg("run-stage")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0);
        crate::exec::orphans::die_with_sapipe(&mut command);
        let (mut child, _tracked) = crate::exec::interrupt::spawn(&mut command, ctx.stage)
            .map_err(KindError::io(format!("cannot start {}", worker.display())))?;
        let body = serde_json::to_vec(&request).expect("requests serialise");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(&body)
            .map_err(KindError::io("cannot send the stage to the worker"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut outcome = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(KindError::io("reading the worker's messages"))?;
            match serde_json::from_str::<WorkerMessage>(&line) {
                Ok(WorkerMessage::Progress {
                    done,
                    total,
                    message,
                }) => (ctx.progress)(done, total, &message),
                Ok(msg) => outcome = Some(msg),
                Err(_) => tracing::debug!(line = %line, "worker output"),
            }
        }
        let status = child
            .wait()
            .map_err(KindError::io("waiting for the worker"))?;
        match outcome {
            Some(WorkerMessage::Done { metrics, numerics }) if status.success() => {
                if let Some(n) = numerics {
                    (ctx.numerics)(n);
                }
                Ok(metrics)
            }
            Some(WorkerMessage::Error {
                invalid: true,
                message,
            }) => Err(KindError::Invalid(message)),
            Some(WorkerMessage::Error { message, .. }) => Err(KindError::Failed(message)),
            _ => Err(KindError::Failed(format!(
                "the libtorch worker ended without a result ({status})"
            ))),
        }
    }
}
