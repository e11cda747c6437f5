//! The `sapipe` binary: parse the command line, run one operation, map errors to exit codes
//! (0 success, 1 a stage or check failed, 2 an error in what the user wrote or asked, such as
//! an `init` that would overwrite, 130 a run stopped by a signal).

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
    sapipe::exec::interrupt::observe(on_interrupt);
    let code = match sapipe::cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let interrupted = e
                .downcast_ref::<sapipe::exec::interrupt::Interrupted>()
                .is_some()
                || matches!(
                    e.downcast_ref::<sapipe::exec::ExecError>(),
                    Some(sapipe::exec::ExecError::Interrupted(_))
                );
            let refused_init = matches!(
                e.downcast_ref::<sapipe::ops::init::InitError>(),
                Some(sapipe::ops::init::InitError::Exists(_))
            );
            if interrupted {
                // The interrupt's events already said what was stopped.
                INTERRUPTED
            } else {
                eprintln!("error: {e:#}");
                if e.downcast_ref::<sapipe::spec::SpecError>().is_some() || refused_init {
                    2
                } else {
                    1
                }
            }
        }
    };
    std::process::exit(code);
}

/// The exit status of a run stopped by a signal (128 + SIGINT, as shells report it).
const INTERRUPTED: i32 = 130;

/// Shows what the engine does on a signal; after its last event, ends the process at once,
/// whatever the main thread is doing (an in-process stage may take long to return).
fn on_interrupt(event: &sapipe::exec::interrupt::InterruptEvent) {
    sapipe::ui::interrupt::show(event);
    if event.ends_the_run() {
        std::process::exit(INTERRUPTED);
    }
}
