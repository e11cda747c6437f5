//! The `sapipe` binary: parse the command line, run one operation, map errors to exit codes
//! (0 success, 1 a stage or check failed, 2 an error in what the user wrote or asked, such as
//! an `init` that would overwrite).

// The edge: the one place besides src/ui and the worker that may write to the terminal.
#![allow(clippy::disallowed_macros)]

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = sapipe::cli::Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    // The engine reports a run stopped by a signal as events; the terminal shows them.
    sapipe::exec::interrupt::observe(sapipe::ui::interrupt::show);
    let code = match sapipe::cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            let refused_init = matches!(
                e.downcast_ref::<sapipe::ops::init::InitError>(),
                Some(sapipe::ops::init::InitError::Exists(_))
            );
            if e.downcast_ref::<sapipe::spec::SpecError>().is_some() || refused_init {
                2
            } else {
                1
            }
        }
    };
    std::process::exit(code);
}
