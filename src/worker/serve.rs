//! The worker side: reads one `StageRequest` from stdin, runs the libtorch kind in this
//! process, and reports progress and the result as JSON lines on stdout.

use std::io::{Read, Write};
use std::sync::Mutex;

use super::protocol::{StageRequest, WorkerMessage};
use crate::kind::{KindError, KindRegistry, StageContext};

fn send(out: &Mutex<std::io::Stdout>, msg: &WorkerMessage) {
    let line = serde_json::to_string(msg).expect("messages serialise");
    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Reports an error that stops the worker before the stage runs; returns the exit code.
fn refuse(out: &Mutex<std::io::Stdout>, message: String) -> i32 {
    send(
        out,
        &WorkerMessage::Error {
            invalid: false,
            message,
        },
    );
    1
}

/// Runs one stage request from stdin with the given (libtorch) kinds; returns the exit code.
pub fn run_stage(kinds: &KindRegistry) -> i32 {
    let out = Mutex::new(std::io::stdout());
    let mut body = Vec::new();
    let request: StageRequest = match std::io::stdin()
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())
        .and_then(|_| {
            serde_json::from_slice(&body).map_err(|e| format!("malformed stage request: {e}"))
        }) {
        Ok(r) => r,
        Err(message) => return refuse(&out, message),
    };
    let Some(kind) = kinds.get(&request.kind) else {
        return refuse(
            &out,
            format!("the libtorch worker has no kind '{}'", request.kind),
        );
    };
    use crate::neuro::runtime::determinism;
    if determinism::portable(request.device, request.deterministic) {
        // SAFETY: nothing has called into libtorch yet and this process has one thread.
        unsafe { determinism::pin_portable_cpu() };
    }
    if request.device == crate::kind::DeviceClass::Cuda && !tch::Cuda::is_available() {
        return refuse(&out, "the stage is to run on CUDA, but libtorch reports CUDA unavailable on this machine (see `sapipe doctor`); use device: cpu".to_string());
    }
    determinism::set_deterministic(request.deterministic);
    let progress = |done: u64, total: u64, message: &str| {
        send(
            &out,
            &WorkerMessage::Progress {
                done,
                total,
                message: message.to_string(),
            },
        );
    };
    let ctx = StageContext {
        stage: &request.stage,
        params: &request.params,
        inputs: &request.inputs,
        outputs: &request.outputs,
        workdir: request.workdir.clone(),
        log_path: request.log_path.clone(),
        device: request.device,
        deterministic: request.deterministic,
        progress: &progress,
        numerics: &|_| {},
    };
    let (msg, code) = match kind.run(&ctx) {
        Ok(metrics) => (
            WorkerMessage::Done {
                metrics,
                numerics: Some(determinism::numerics(request.device, request.deterministic)),
            },
            0,
        ),
        Err(KindError::Invalid(message)) => (
            WorkerMessage::Error {
                invalid: true,
                message,
            },
            1,
        ),
        Err(e) => (
            WorkerMessage::Error {
                invalid: false,
                message: e.to_string(),
            },
            1,
        ),
    };
    send(&out, &msg);
    code
}
