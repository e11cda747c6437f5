//! Adapters of the built-in stage kinds: each turns a `StageContext` into calls of the
//! modelling library (`crate::neuro`). The `command` kind is the engine's own (`exec::command`).
//!
//! `registry()` is what `sapipe` uses: pure-Rust kinds run in process; libtorch kinds are
//! `WorkerKind` proxies, so `sapipe` never links libtorch. `torch_registry()` holds the real
//! libtorch kinds, run by the `sapipe-torch` worker.

pub mod evaluate;
pub mod report;

use crate::kind::KindRegistry;

/// The kinds `sapipe` knows: in-process kinds and proxies of the libtorch kinds.
pub fn registry() -> KindRegistry {
    let mut r = KindRegistry::default();
    r.register(Box::new(evaluate::Evaluate));
    r.register(Box::new(report::Report));
    r
}

/// The libtorch kinds, as the worker runs them.
#[cfg(feature = "torch")]
pub fn torch_registry() -> KindRegistry {
    #[allow(unused_mut)]
    let mut r = KindRegistry::default();
    r
}
