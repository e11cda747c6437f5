//! `sapipe bench matrix`: a generated pipeline of N command stages (one source, a matrix stage
//! of N - 2 instances, one stage gathering them all), timed through `status`, a no-op `run` and
//! the cold `run` that fills the cache. Baselines measured in the same run: starting the binary
//! (`sapipe --version`) for the first two, and running the same shell commands directly, one
//! after another, for the cold run's overhead per stage.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::bench_noop::{median_ms, time};

#[derive(Debug, serde::Serialize)]
pub struct MatrixBench {
    pub stages: usize,
    pub repeats: usize,
    pub status_ms: f64,
    pub noop_run_ms: f64,
    pub process_start_ms: f64,
    /// The cold run's wall time, all stages executed.
    pub cold_run_ms: f64,
    /// The same commands, run by a shell one after another in this process.
    pub direct_commands_ms: f64,
    /// (cold run - direct commands) / stages: what sapipe adds to each executed stage.
    pub overhead_per_stage_ms: f64,
}

const SOURCE: &str =
    "name: source\nkind: command\ncommand: \"echo 0 > {outputs.text}\"\noutputs:\n  text: {}\n";
const STEP: &str = "name: step\nkind: command\ncommand: \"cat {inputs.text} > {outputs.text}; echo {params.i} >> {outputs.text}\"\nparams:\n  i: { type: int, default: 0 }\ninputs:\n  text: {}\noutputs:\n  text: {}\n";
const GATHER: &str = "name: gather\nkind: command\ncommand: \"cat {inputs.texts} | wc -l > {outputs.count}\"\ninputs:\n  texts: { many: true }\noutputs:\n  count: {}\n";

/// The benchmark's pipeline: `stages` stages in all (at least 3).
pub fn pipeline(stages: usize) -> String {
    let values: Vec<String> = (0..stages.max(3) - 2).map(|i| i.to_string()).collect();
    format!(
        "name: matrix\nstages:\n  source: {{ uses: source }}\n  step:\n    uses: step\n    \
         matrix: {{ i: [{}] }}\n    needs: [source]\n    with: {{ i: \"${{i}}\" }}\n  \
         gather: {{ uses: gather, inputs: {{ texts: step.text }} }}\n",
        values.join(", ")
    )
}

/// What the stages' commands do, without sapipe: the same shell lines, one after another.
fn direct_commands(dir: &Path, stages: usize) -> anyhow::Result<Duration> {
    let out = dir.join("direct");
    std::fs::create_dir_all(&out)?;
    let t0 = Instant::now();
    time(
        Command::new("sh")
            .arg("-c")
            .arg("echo 0 > source")
            .current_dir(&out),
    )?;
    for i in 0..stages.max(3) - 2 {
        let line = format!("cat source > s{i}; echo {i} >> s{i}");
        time(Command::new("sh").arg("-c").arg(line).current_dir(&out))?;
    }
    time(
        Command::new("sh")
            .arg("-c")
            .arg("cat s* | wc -l > count")
            .current_dir(&out),
    )?;
    Ok(t0.elapsed())
}

pub fn bench_matrix(exe: &Path, stages: usize, repeats: usize) -> anyhow::Result<MatrixBench> {
    let stages = stages.max(3);
    let dir = tempfile::tempdir()?;
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("stages"))?;
    std::fs::create_dir_all(project.join("pipelines"))?;
    std::fs::write(project.join("stages/source.yaml"), SOURCE)?;
    std::fs::write(project.join("stages/step.yaml"), STEP)?;
    std::fs::write(project.join("stages/gather.yaml"), GATHER)?;
    std::fs::write(project.join("pipelines/matrix.yaml"), pipeline(stages))?;
    let sapipe = |args: &[&str]| {
        let mut c = Command::new(exe);
        c.args(args)
            .current_dir(&project)
            .env_remove("SAPIPE_CACHE");
        c
    };
    let direct = direct_commands(dir.path(), stages)?;
    let cold = time(&mut sapipe(&[
        "run",
        "pipelines/matrix.yaml",
        "--jobs",
        "1",
    ]))?;
    let (mut status, mut noop, mut start) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats.max(1) {
        status.push(time(&mut sapipe(&["status", "pipelines/matrix.yaml"]))?);
        noop.push(time(&mut sapipe(&["run", "pipelines/matrix.yaml"]))?);
        start.push(time(&mut sapipe(&["--version"]))?);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(MatrixBench {
        stages,
        repeats,
        status_ms: median_ms(status),
        noop_run_ms: median_ms(noop),
        process_start_ms: median_ms(start),
        cold_run_ms: ms(cold),
        direct_commands_ms: ms(direct),
        overhead_per_stage_ms: (ms(cold) - ms(direct)) / stages as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_has_the_asked_number_of_stages() {
        let p = pipeline(10);
        assert!(p.contains("matrix: { i: [0, 1, 2, 3, 4, 5, 6, 7] }"), "{p}");
        assert!(pipeline(1).contains("matrix: { i: [0] }"));
    }
}
