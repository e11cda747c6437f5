//! What the operations show on a terminal: the rendering of each command's result
//! (`terminal`; `compare` for the diff and metrics tables), the live progress display of a run
//! (`progress`), `predict`'s bar and summary (`predict`), the Slurm executor's messages
//! (`slurm`), and `compare`'s verdict and `bench verdicts`' table (`verdict`). The paper's
//! report (tables, figures, claims) is `crate::report`. `out` holds the only writes to the
//! terminal (`out!`, `outln!`, `errln!`); clippy refuses `print!` and its kin elsewhere.

// The terminal's own module: the one place that may use print! and its kin.
#![allow(clippy::disallowed_macros)]

pub mod catalogue;
pub mod compare;
pub mod interrupt;
pub mod out;
pub mod predict;
pub mod progress;
pub mod slurm;
pub mod terminal;
pub mod transfer;
pub mod verdict;
