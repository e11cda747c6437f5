//! What the operations show on a terminal: the rendering of each command's result
//! (`terminal`; `compare` for the diff and metrics tables), the live progress display of a run
//! (`progress`), `predict`'s bar and summary (`predict`), the Slurm executor's messages
//! (`slurm`), and `compare`'s verdict and `bench verdicts`' table (`verdict`). The paper's report (tables,
//! figures, claims) is `crate::report`.

pub mod catalogue;
pub mod compare;
pub mod predict;
pub mod progress;
pub mod slurm;
pub mod terminal;
pub mod transfer;
pub mod verdict;
