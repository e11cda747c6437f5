//! Reproducibility across machines: the compute environment recorded with every result
//! (`environment`), the verdicts that compare a run with a lock file written elsewhere
//! (`verdict`), the per-neuron numbers those verdicts compare (`compared`) and the one relative
//! tolerance they and `audit` use across classes (`tolerance`). Keys never include hardware;
//! these records decide what "reproduced" means.

pub mod compared;
pub mod environment;
pub mod tolerance;
pub mod verdict;

pub use environment::{Environment, Machine, Numerics, host_name};
pub use tolerance::HARDWARE_RTOL;
pub use verdict::{LockVerdict, judge};
