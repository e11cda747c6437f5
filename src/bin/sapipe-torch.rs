//! `sapipe-torch`: the libtorch worker that `sapipe` spawns for stages of libtorch kinds and
//! for `doctor`, `models` and `bench train`. Not meant to be run by hand, but harmless to.

// The worker's stdout is its protocol with `sapipe`: it writes it itself.
#![allow(clippy::disallowed_macros)]

use clap::{Parser, Subcommand};

/// jemalloc, exported as `malloc`, so libtorch allocates through it too. A training step
/// allocates and frees hundreds of tensors; glibc's malloc spent ~10% of a batch-8 step in
/// `malloc_consolidate` and page faults, and jemalloc trained batch 8 ~25% faster with batch
/// 50 unchanged (README "How training computes"). Freed pages are kept for reuse
/// (`.cargo/config.toml`), so the resident peak is the step's high-water mark.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Training throughput of both strategies (see `sapipe bench train`).
    BenchTrain(sapipe::cli::args::BenchTrainArgs),
    /// Report libtorch, CUDA, cuDNN, devices and determinism settings.
    Doctor {
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    sapipe::neuro::runtime::determinism::prepare_environment();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::RunStage => {
            // The pipeline kinds, and `sapipe predict`'s run of a checkpoint on new images.
            let mut kinds = sapipe::stages::torch_registry();
            kinds.register(Box::new(sapipe::ops::predict::kind::PredictKind));
            sapipe::worker::serve::run_stage(&kinds)
        }
        Command::BenchTrain(args) => match bench_train(&args) {
            Ok(report) if args.json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("reports serialise")
                );
                0
            }
            Ok(report) => {
                print!("{}", sapipe::ui::terminal::bench_train(&report));
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        },
        Command::Doctor { json } => {
            let report = sapipe::neuro::runtime::report(true);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("reports serialise")
                );
            } else {
                print!("{}", sapipe::ui::terminal::doctor(&report));
            }
            0
        }
    };
    std::process::exit(code);
}

fn bench_train(
    args: &sapipe::cli::args::BenchTrainArgs,
) -> Result<sapipe::neuro::train::bench::BenchReport, String> {
    use sapipe::cli::args::DeviceArg;
    use sapipe::kind::DeviceClass;
    use sapipe::neuro::train::bench::{BenchSettings, bench_train};
    let model = sapipe::neuro::model::ModelId::parse(&args.model).map_err(|e| e.to_string())?;
    let class = match args.device {
        DeviceArg::Cuda => DeviceClass::Cuda,
        DeviceArg::Cpu => DeviceClass::Cpu,
    };
    use sapipe::neuro::runtime::determinism;
    if determinism::portable(class, args.deterministic) {
        // SAFETY: the benchmark has not called into libtorch yet and runs on this one thread.
        unsafe { determinism::pin_portable_cpu() };
    }
    let device = sapipe::neuro::train::torch_device(class).map_err(|e| e.to_string())?;
    determinism::set_deterministic(args.deterministic);
    let mut settings = BenchSettings::new(model, args.neurons, device);
    settings.steps = args.steps;
    settings.rounds = args.rounds;
    settings.batch_size = args.batch_size;
    settings.per_neuron = args.per_neuron;
    settings.memory = match &args.memory {
        Some(text) => Some(
            sapipe::neuro::train::memory::Budget::parse(text)
                .map_err(|e| format!("--memory: {e}"))?,
        ),
        None => None,
    };
    bench_train(&settings).map_err(|e| e.to_string())
}
