//! The command line: clap types (`args`) and one small adapter per subcommand (`commands`;
//! those comparing results in `compare`), which calls an operation and hands its result to
//! `report`.

pub mod args;
pub mod commands;
pub mod compare;
pub mod predict;

pub use args::Cli;
pub use commands::dispatch;
