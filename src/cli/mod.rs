//! The command line: clap types (`args`) and one small adapter per subcommand (`commands`;
//! `run`, `push` and `pull` in `run`, the benchmarks and `doctor` in `bench`, those comparing
//! results in `compare`, `predict` in `predict`), which calls an operation and hands its result
//! to `ui`.

pub mod args;
mod bench;
pub mod commands;
pub mod compare;
pub mod predict;
mod run;

pub use args::Cli;
pub use commands::dispatch;
