//! Reproducibility across machines: the compute environment recorded with every result
//! (`environment`) and the verdicts that compare a run with a lock file written elsewhere
//! (`verdict`). Keys never include hardware; these records decide what "reproduced" means.

pub mod environment;
pub mod verdict;

pub use environment::{Environment, Machine, Numerics, host_name};
pub use verdict::{HARDWARE_TOLERANCE, LockVerdict, judge};
