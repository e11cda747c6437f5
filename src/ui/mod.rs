//! What the operations show on a terminal: the rendering of each command's result
//! (`terminal`; `compare` for the diff and metrics tables), the live progress display of a run
//! (`progress`), `predict`'s bar and summary (`predict`) and the Slurm executor's messages
//! (`slurm`). The paper's report (tables,
//! figures, claims) is `crate::report`. `out` holds the only writes to the terminal (`out!`,
//! `outln!`, `errln!`); clippy refuses `print!` and its kin elsewhere.

pub mod catalogue;
pub mod compare;
pub mod out;
pub mod predict;
pub mod progress;
pub mod slurm;
pub mod terminal;
pub mod transfer;
