//! `sapipe-torch`: the libtorch worker that `sapipe` spawns for stages of libtorch kinds and
//! for `doctor`, `models` and `bench train`. Not meant to be run by hand, but harmless to.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sapipe-torch", version, about = "sapipe's libtorch worker")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one stage: a JSON StageRequest on stdin, JSON-lines messages on stdout.
    RunStage,
    /// Report libtorch, CUDA, cuDNN, devices and determinism settings.
    Doctor {
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    sapipe::neuro::determinism::prepare_environment();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::RunStage => sapipe::worker::serve::run_stage(&sapipe::stages::torch_registry()),
        Command::Doctor { json } => {
            let report = sapipe::neuro::runtime::report(true);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("reports serialise")
                );
            } else {
                print!("{}", sapipe::report::terminal::doctor(&report));
            }
            0
        }
    };
    std::process::exit(code);
}
