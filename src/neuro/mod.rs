//! The modelling library, one concern per folder: `data` (simulated and imported recordings,
//! dataset files, preprocessing), `model` (the seven architectures and their checkpoints),
//! `train` (the population trainer), `scoring` (metrics, noise ceiling, evaluation),
//! `analysis` (FCL decomposition and attention maps), `runtime` (devices and determinism);
//! `stats` holds the formulas they share, `choice` the enums of `choices:` parameters, `array`
//! and `random` the plain containers and RNGs.
//! It knows nothing about pipelines or the cache: stage adapters in `crate::stages` call into
//! it with plain paths and parameters.

pub mod analysis;
pub mod array;
pub mod choice;
pub mod data;
pub mod model;
pub mod random;
pub mod runtime;
pub mod scoring;
pub mod stats;
pub mod train;
