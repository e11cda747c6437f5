//! `sapipe bench` (the engine's and the data generator's measurements, the verdicts'
//! calibration, and the worker's training throughput) and `sapipe doctor`: each measurement
//! one small function; what libtorch measures or reports, the worker does.

use std::path::Path;

use anyhow::Context;

use super::args::BenchCommand;
use crate::ops;
use crate::ui::terminal;

/// `bench SUBCOMMAND`.
pub(super) fn bench(command: BenchCommand) -> anyhow::Result<i32> {
    match command {
        BenchCommand::Matrix {
            stages,
            repeats,
            json,
        } => matrix(stages, repeats, json),
        BenchCommand::Noop {
            stages,
            repeats,
            json,
        } => noop(stages, repeats, json),
        BenchCommand::Verdicts {
            repeats,
            seed,
            alpha,
            margin,
            json,
        } => super::compare::bench_verdicts(repeats, seed, alpha, margin, json),
        BenchCommand::Data {
            images,
            neurons,
            seed,
            json,
        } => data(images, neurons, seed, json),
        BenchCommand::Train(args) => {
            let mut words = vec!["bench-train".to_string()];
            words.extend(args.to_args());
            run_worker(&words)
        }
    }
}

fn matrix(stages: usize, repeats: usize, json: bool) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("cannot locate the sapipe binary")?;
    let b = ops::bench_matrix::bench_matrix(&exe, stages, repeats)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&b)?);
    } else {
        crate::out!("{}", terminal::bench_matrix(&b));
    }
    Ok(0)
}

fn noop(stages: usize, repeats: usize, json: bool) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("cannot locate the sapipe binary")?;
    let b = ops::bench_noop::bench_noop(&exe, stages, repeats)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&b)?);
    } else {
        crate::out!("{}", terminal::bench_noop(&b));
    }
    Ok(0)
}

fn data(images: usize, neurons: usize, seed: u64, json: bool) -> anyhow::Result<i32> {
    let report = crate::neuro::data::sim::bench::bench_generate(images, neurons, seed);
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::out!("{}", terminal::bench_data(&report));
    }
    Ok(0)
}

/// `doctor`: where this binary is, then the worker's report of libtorch and the devices.
pub(super) fn doctor(json: bool) -> anyhow::Result<i32> {
    let mut words = vec!["doctor".to_string()];
    if json {
        words.push("--json".into());
    } else {
        let exe = std::env::current_exe().context("cannot locate the sapipe binary")?;
        crate::outln!("sapipe:        {}", exe.display());
    }
    run_worker(&words)
}

/// Runs the libtorch worker with these arguments, its output going straight to ours.
fn run_worker(args: &[String]) -> anyhow::Result<i32> {
    let Some(worker) = crate::worker::worker_path() else {
        let exe = std::env::current_exe().context("cannot locate the sapipe binary")?;
        let dir = exe.parent().unwrap_or(Path::new("."));
        crate::outln!(
            "worker:        not found: no sapipe-torch next to {} and SAPIPE_TORCH_WORKER unset \
             (scripts/install puts both in one folder; libtorch stages cannot run)",
            dir.display()
        );
        crate::outln!("libtorch:      not loaded (only the worker loads it)");
        return Ok(1);
    };
    let status = crate::worker::worker_command(&worker)
        .args(args)
        .status()
        .with_context(|| format!("cannot run {}", worker.display()))?;
    Ok(status.code().unwrap_or(1))
}
