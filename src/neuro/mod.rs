//! The modelling library: simulated V1 data, dataset files, the seven architectures, the
//! population trainer, checkpoints, metrics and analyses. It knows nothing about pipelines or
//! the cache: stage adapters in `crate::stages` call into it with plain paths and parameters.

pub mod analysis;
pub mod array;
pub mod checkpoint;
pub mod dataset;
pub mod decomposition;
#[cfg(feature = "torch")]
pub mod determinism;
pub mod evaluation;
pub mod import;
pub mod metrics;
pub mod model;
pub mod noise;
pub mod pictures;
pub mod preprocess;
pub mod random;
pub mod raw;
pub mod resample;
pub mod runtime;

pub mod sim;
pub mod summary;
pub mod train;
pub mod truth;
