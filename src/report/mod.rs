//! Everything users see: terminal rendering of each operation's result (`terminal`) and the
//! live progress display of a run (`progress`). The only module that prints.

pub mod progress;
pub mod slurm;
pub mod terminal;
