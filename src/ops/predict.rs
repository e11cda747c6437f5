//! `sapipe predict`: a train stage's fitted model (`ops::fitted`) run on new images by the
//! libtorch worker, as the worker's `predict` kind ([`kind`]). Not a kind pipelines can use:
//! no definition file names it, and `stages` does not register it.

#[cfg(feature = "torch")]
pub mod kind;

use crate::worker::proxy::WorkerKind;

/// The worker's `predict` kind as `sapipe` hands it a run.
pub fn worker_kind() -> WorkerKind {
    WorkerKind {
        name: "predict",
        version: 1,
        uses_device: true,
        derive: None,
    }
}
