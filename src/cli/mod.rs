//! The command line: clap types (`args`) and one small adapter per subcommand (`commands`),
//! which calls an operation and hands its result to `report`.

pub mod args;
pub mod commands;

pub use args::Cli;
pub use commands::dispatch;
