//! The modelling library: simulated V1 data, dataset files, the seven architectures, the
//! population trainer, checkpoints, metrics and analyses. It knows nothing about pipelines or
//! the cache: stage adapters in `crate::stages` call into it with plain paths and parameters.

pub mod array;
pub mod dataset;
#[cfg(feature = "torch")]
pub mod determinism;
pub mod evaluation;
pub mod metrics;
pub mod noise;
pub mod runtime;
