//! `sapipe bench noop`: the wall time of a no-op `sapipe run` on a cached 6-stage pipeline of
//! command stages, against the baseline of starting the same binary (`sapipe --version`),
//! both measured in this run. Reports medians and their ratio.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::neuro::stats::middle;

#[derive(Debug, serde::Serialize)]
pub struct NoopBench {
    pub stages: usize,
    pub repeats: usize,
    pub noop_run_ms: f64,
    pub process_start_ms: f64,
    /// noop_run / process_start.
    pub ratio: f64,
}

const FIRST: &str =
    "name: first\nkind: command\ncommand: \"echo 0 > {outputs.text}\"\noutputs:\n  text: {}\n";
const STEP: &str = "name: step\nkind: command\ncommand: \"cat {inputs.text} > {outputs.text}; echo {params.i} >> {outputs.text}\"\nparams:\n  i: { type: int, default: 0 }\ninputs:\n  text: {}\noutputs:\n  text: {}\n";

fn pipeline(stages: usize) -> String {
    let mut p = String::from("name: noop\nstages:\n  s0: { uses: first }\n");
    for i in 1..stages {
        p.push_str(&format!(
            "  s{i}: {{ uses: step, needs: [s{}], with: {{ i: {i} }} }}\n",
            i - 1
        ));
    }
    p
}

/// The median of `v` (one of its values), in milliseconds; 0 for none.
pub(super) fn median_ms(v: Vec<Duration>) -> f64 {
    middle(&v).unwrap_or_default().as_secs_f64() * 1000.0
}

/// The wall time of `cmd`, an error with its stderr if it fails.
pub(super) fn time(cmd: &mut Command) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let out = cmd.output().context("cannot run sapipe")?;
    let elapsed = t0.elapsed();
    if !out.status.success() {
        bail!(
            "benchmark command failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(elapsed)
}

pub fn bench_noop(exe: &Path, stages: usize, repeats: usize) -> anyhow::Result<NoopBench> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("stages"))?;
    std::fs::create_dir_all(dir.path().join("pipelines"))?;
    std::fs::write(dir.path().join("stages/first.yaml"), FIRST)?;
    std::fs::write(dir.path().join("stages/step.yaml"), STEP)?;
    std::fs::write(dir.path().join("pipelines/noop.yaml"), pipeline(stages))?;
    let run = || {
        let mut c = Command::new(exe);
        c.args(["run", "pipelines/noop.yaml"])
            .current_dir(dir.path())
            .env_remove("SAPIPE_CACHE");
        c
    };
    time(&mut run())?; // the cold run fills the cache
    let mut noop = Vec::new();
    let mut start = Vec::new();
    for _ in 0..repeats.max(1) {
        noop.push(time(&mut run())?);
        start.push(time(Command::new(exe).arg("--version"))?);
    }
    let (noop_run_ms, process_start_ms) = (median_ms(noop), median_ms(start));
    Ok(NoopBench {
        stages,
        repeats,
        noop_run_ms,
        process_start_ms,
        ratio: noop_run_ms / process_start_ms,
    })
}
