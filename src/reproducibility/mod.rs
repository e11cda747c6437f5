//! Reproducibility across machines: the compute environment recorded with every result
//! (`environment`), the per-neuron numbers that the verdicts of a run against a lock file
//! written elsewhere compare (`compared`; the verdicts are `lockfile::verdict`) and the one
//! relative tolerance they and `audit` use across classes (`tolerance`). Keys never include
//! hardware; these records decide what "reproduced" means.

pub mod compared;
pub mod environment;
pub mod tolerance;

pub use environment::{Environment, Machine, Numerics, host_name};
pub use tolerance::HARDWARE_RTOL;
