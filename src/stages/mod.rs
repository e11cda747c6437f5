//! Adapters of the built-in stage kinds: each turns a `StageContext` into calls of the
//! modelling library (`crate::neuro`). The `command` kind is the engine's own (`exec::command`).
//!
//! `registry()` is what `sapipe` uses: pure-Rust kinds run in process; libtorch kinds are
//! `WorkerKind` proxies, so `sapipe` never links libtorch. `torch_registry()` holds the real
//! libtorch kinds, run by the `sapipe-torch` worker (with `sapipe predict`'s, which is no
//! stage kind: `ops::predict`).

#[cfg(feature = "torch")]
pub mod decompose;
pub mod decompose_spec;
pub mod evaluate;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod import;
pub mod params;
pub mod preprocess;
#[cfg(feature = "torch")]
pub mod probe;
pub mod probe_spec;
pub mod report;
pub mod synthetic;
#[cfg(feature = "torch")]
pub mod train;
pub mod train_spec;

use crate::kind::KindRegistry;
use crate::worker::proxy::WorkerKind;

/// The kinds `sapipe` knows: in-process kinds and proxies of the libtorch kinds.
pub fn registry() -> KindRegistry {
    let mut r = KindRegistry::default();
    r.register(Box::new(synthetic::SyntheticV1));
    r.register(Box::new(import::Import));
    r.register(Box::new(preprocess::Preprocess));
    r.register(Box::new(evaluate::Evaluate));
    r.register(Box::new(report::Report));
    r.register(Box::new(WorkerKind {
        name: "train",
        version: train_spec::VERSION,
        uses_device: true,
        derive: Some(train_spec::derived_inputs),
    }));
    r.register(Box::new(WorkerKind {
        name: "decompose",
        version: decompose_spec::VERSION,
        uses_device: true,
        derive: None,
    }));
    r.register(Box::new(WorkerKind {
        name: "probe",
        version: probe_spec::VERSION,
        uses_device: true,
        derive: None,
    }));
    r
}

/// The libtorch kinds, as the worker runs them.
#[cfg(feature = "torch")]
pub fn torch_registry() -> KindRegistry {
    let mut r = KindRegistry::default();
    r.register(Box::new(train::TrainKind));
    r.register(Box::new(decompose::DecomposeKind));
    r.register(Box::new(probe::ProbeKind));
    r
}
