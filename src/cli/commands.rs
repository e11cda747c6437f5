//! One small adapter per subcommand: call the operation, print its result, return the exit
//! code. `dispatch` only picks the adapter; `run`, `push` and `pull` are in `run`, the
//! benchmarks and the worker's commands in `bench`, the comparisons of results in `compare`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::args::{Cli, Command, DeviceArg, PredictArgs, StagesCommand};
use crate::exec::{Environment, host_name};
use crate::graph::DagFormat;
use crate::key::StageKey;
use crate::kind::DeviceClass;
use crate::neuro::scoring::evaluation_file;
use crate::ops::{self, Session};
use crate::ui::{catalogue, progress::Progress, slurm, terminal};

/// The options every subcommand may take: `--cache`, `--profile`, `--set`, `--remote`.
pub(super) struct Globals<'a> {
    pub cache: Option<&'a Path>,
    pub profile: Option<&'a str>,
    pub sets: &'a [String],
    pub remote: Option<&'a str>,
}

impl Globals<'_> {
    /// Opens `pipeline` with the profile and the `--set` overrides.
    pub fn open(&self, pipeline: &Path) -> anyhow::Result<Session> {
        open(pipeline, self.profile, self.sets, self.cache)
    }
}

/// Runs the command line; returns the process exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    if !cli.set.is_empty() && !loads_pipeline(&cli.command) {
        anyhow::bail!(
            "--set sets a pipeline stage's parameter: it applies to commands that load a \
             pipeline (run, status, explain, show, diff, dag, audit, push, pull)"
        );
    }
    let g = Globals {
        cache: cli.cache.as_deref(),
        profile: cli.profile.as_deref(),
        sets: &cli.set,
        remote: cli.remote.as_deref(),
    };
    match cli.command {
        Command::Run(args) => super::run::run(&g, args),
        Command::Push(args) => super::run::transfer(&g, &args, true),
        Command::Pull(args) => super::run::transfer(&g, &args, false),
        Command::Status {
            pipeline,
            stages,
            json,
        } => status(&g, &pipeline, &stages, json),
        Command::Explain {
            pipeline,
            stage,
            json,
        } => explain(&g, &pipeline, &stage, json),
        Command::Dag { pipeline, format } => dag(&g, &pipeline, format),
        Command::Show {
            pipeline,
            stage,
            metrics,
            json,
        } => show(&g, &pipeline, stage.as_deref(), metrics, json),
        Command::Predict(args) => predict(&g, args),
        Command::Diff { files, rev, json } => {
            super::compare::diff(&files, rev.as_deref(), json, g.profile, g.sets, g.cache)
        }
        Command::Results {
            pipelines,
            format,
            project,
        } => super::compare::results(&pipelines, format, project.as_deref(), g.profile, g.cache),
        Command::Compare(args) => super::compare::compare(&args, g.profile, g.cache),
        Command::Audit {
            pipeline,
            stages,
            against,
            tolerance,
            device,
            json,
        } => {
            let req = ops::audit::AuditRequest {
                targets: stages,
                reference: against,
                tolerance,
                device: device_class(device),
            };
            audit(&g, &pipeline, &req, json)
        }
        Command::Verify { repair, project } => verify(&g, repair, project.as_deref()),
        Command::Gc {
            dry_run,
            keep_recent,
            project,
        } => gc(&g, dry_run, keep_recent, project.as_deref()),
        Command::Bench(command) => super::bench::bench(command),
        Command::Init { dir } => init(&dir),
        Command::Stages {
            show,
            project,
            json,
        } => stages(show, project, json),
        Command::Models { json } => models(json),
        Command::ExecStage {
            pipeline,
            stage,
            key,
            force,
        } => exec_stage(&g, &pipeline, stage, key.as_deref(), force),
        Command::Doctor { json } => super::bench::doctor(json),
    }
}

fn status(g: &Globals, pipeline: &Path, stages: &[String], json: bool) -> anyhow::Result<i32> {
    let session = g.open(pipeline)?;
    let statuses = ops::status::status(&session, stages)?;
    let queue = ops::slurm::queue(&session)?;
    if json {
        let reports = ops::status::with_jobs(statuses, queue.as_ref());
        crate::outln!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        let shown: Vec<String> = statuses.iter().map(|s| s.stage.clone()).collect();
        let definitions = catalogue::definitions_used(&session.pipeline, &shown);
        crate::out!("{}", terminal::status(&statuses, &definitions));
        if let Some(queue) = queue {
            crate::out!("{}", slurm::queue(&queue));
        }
    }
    Ok(0)
}

fn explain(g: &Globals, pipeline: &Path, stage: &str, json: bool) -> anyhow::Result<i32> {
    let session = g.open(pipeline)?;
    let st = ops::status::explain(&session, stage)?;
    let definition = &session.pipeline.require_stage(stage)?.definition;
    if json {
        let value = serde_json::json!({ "status": st, "key_record": st.record, "previous_key": st.previous.as_ref().map(|p| &p.key), "definition": definition.source });
        crate::outln!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        crate::out!("{}", terminal::explain(&st));
        crate::out!("{}", catalogue::definition_line(definition));
    }
    Ok(0)
}

fn dag(g: &Globals, pipeline: &Path, format: DagFormat) -> anyhow::Result<i32> {
    let session = g.open(pipeline)?;
    let label = |s: &str| {
        session
            .pipeline
            .stage(s)
            .map(|st| st.definition.name.clone())
            .unwrap_or_default()
    };
    crate::out!(
        "{}",
        crate::graph::render(&session.pipeline, format, &label)
    );
    Ok(0)
}

fn show(
    g: &Globals,
    pipeline: &Path,
    stage: Option<&str>,
    metrics: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let session = g.open(pipeline)?;
    let entries = ops::show::show(&session, stage)?;
    if metrics {
        super::compare::show_metrics(&entries, json)?;
    } else if json {
        crate::outln!("{}", super::predict::show_json(&session, &entries)?);
    } else {
        crate::out!("{}", terminal::show(&entries));
        crate::out!("{}", evaluation_tables(&entries));
    }
    Ok(0)
}

fn predict(g: &Globals, args: PredictArgs) -> anyhow::Result<i32> {
    let session = g.open(&args.pipeline)?;
    let req = super::predict::Request {
        stage: args.stage,
        images: args.images,
        neurons: args.neurons,
        out: args.out,
        device: device_class(args.device),
        json: args.json,
    };
    super::predict::predict(&session, &req)
}

fn audit(
    g: &Globals,
    pipeline: &Path,
    req: &ops::audit::AuditRequest,
    json: bool,
) -> anyhow::Result<i32> {
    let mut session = g.open(pipeline)?;
    if req.device == Some(DeviceClass::Cuda) {
        session.env.cuda_available = true; // the worker verifies CUDA really works
    }
    let progress = Progress::new();
    let report = ops::audit::audit(&session, req, &|e| progress.handle(e))?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::out!("{}", terminal::audit(&report));
    }
    Ok(if report.passed { 0 } else { 1 })
}

fn verify(g: &Globals, repair: bool, project: Option<&Path>) -> anyhow::Result<i32> {
    let dir = cache_of(g.cache, project)?;
    let report = ops::verify::verify(&dir, repair)?;
    crate::out!("{}", terminal::verify(&report));
    Ok(if report.problems.is_empty() || repair {
        0
    } else {
        1
    })
}

fn gc(
    g: &Globals,
    dry_run: bool,
    keep_recent: std::time::Duration,
    project: Option<&Path>,
) -> anyhow::Result<i32> {
    let root = project_root(project)?;
    let dir = ops::cache_dir(g.cache, &root);
    let report = ops::gc::gc(&dir, &root, keep_recent, dry_run)?;
    crate::out!("{}", terminal::gc(&report));
    Ok(0)
}

fn init(dir: &Path) -> anyhow::Result<i32> {
    let created = ops::init::init(dir)?;
    crate::out!("{}", catalogue::created(&created));
    Ok(0)
}

fn stages(
    show: Option<StagesCommand>,
    project: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<i32> {
    let root = match project {
        Some(p) => Some(p),
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            crate::spec::project::find_root(&cwd)
        }
    };
    let kinds = crate::stages::registry();
    match show {
        None => {
            let all = ops::stages::list(root.as_deref(), &kinds);
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                crate::out!("{}", catalogue::list(&all));
            }
        }
        Some(StagesCommand::Show { name }) => {
            let d = ops::stages::find(root.as_deref(), &name, &kinds)?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&definition_json(&d))?);
            } else {
                crate::out!("{}", catalogue::show(&d));
            }
        }
    }
    Ok(0)
}

fn models(json: bool) -> anyhow::Result<i32> {
    let archs = crate::neuro::model::architectures();
    let chain = crate::neuro::model::incremental_chain();
    if json {
        let v = serde_json::json!({ "architectures": archs, "incremental_chain": chain });
        crate::outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        crate::out!("{}", terminal::models(&archs, &chain));
    }
    Ok(0)
}

fn exec_stage(
    g: &Globals,
    pipeline: &Path,
    stage: String,
    key: Option<&str>,
    force: bool,
) -> anyhow::Result<i32> {
    let key = match key {
        Some(k) => Some(
            StageKey::parse(k)
                .with_context(|| format!("--key {k}: not a stage key (64 hexadecimal digits)"))?,
        ),
        None => None,
    };
    let session = g.open(pipeline)?;
    let progress = Progress::new();
    let req = ops::slurm::ExecStageRequest { stage, key, force };
    let out = ops::slurm::exec_stage(session, &req, &|e| progress.handle(e))?;
    crate::outln!("{}", slurm::exec_stage(&req.stage, &out));
    Ok(0)
}

/// The device class a `--device` names.
fn device_class(device: Option<DeviceArg>) -> Option<DeviceClass> {
    device.map(|d| match d {
        DeviceArg::Cpu => DeviceClass::Cpu,
        DeviceArg::Cuda => DeviceClass::Cuda,
    })
}

/// Whether the command loads a pipeline (so that `--set` applies).
fn loads_pipeline(command: &Command) -> bool {
    matches!(
        command,
        Command::Run(_)
            | Command::Push(_)
            | Command::Pull(_)
            | Command::Status { .. }
            | Command::Explain { .. }
            | Command::Dag { .. }
            | Command::Show { .. }
            | Command::Predict(_)
            | Command::Diff { .. }
            | Command::Audit { .. }
            | Command::ExecStage { .. }
    )
}

/// This process's compute environment.
pub fn environment() -> Environment {
    Environment {
        libtorch: crate::neuro::runtime::LIBTORCH_VERSION.map(String::from),
        cuda_available: crate::worker::cuda_driver_present(),
        host: host_name(),
        cpu_numerics: Some(crate::neuro::runtime::PORTABLE_CPU_NUMERICS.to_string()),
    }
}

pub(super) fn open(
    pipeline: &Path,
    profile: Option<&str>,
    sets: &[String],
    cache: Option<&Path>,
) -> anyhow::Result<Session> {
    Session::open_profile(
        pipeline,
        profile,
        sets,
        cache,
        crate::stages::registry(),
        environment(),
    )
}

/// `--project`, else the project around the current folder (the rule of `spec::project`).
pub(super) fn project_root(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    crate::spec::project::find_root(&cwd)
        .ok_or_else(|| anyhow::anyhow!(crate::spec::project::not_found(&cwd)))
}

pub(super) fn cache_of(cache: Option<&Path>, project: Option<&Path>) -> anyhow::Result<PathBuf> {
    if project.is_none() {
        // An explicit cache needs no project (gc, which reads lock files, does).
        let explicit = cache
            .map(Path::to_owned)
            .or_else(|| std::env::var_os("SAPIPE_CACHE").map(PathBuf::from));
        if let Some(c) = explicit {
            return Ok(c);
        }
    }
    Ok(ops::cache_dir(cache, &project_root(project)?))
}

/// A definition as JSON for `stages show --json`.
fn definition_json(d: &crate::spec::Definition) -> serde_json::Value {
    let params: serde_json::Map<String, serde_json::Value> = d
        .params
        .iter()
        .map(|(n, p)| {
            let v = serde_json::json!({
                "type": format!("{:?}", p.ty).to_lowercase(),
                "default": p.default, "choices": p.choices, "min": p.min, "max": p.max, "doc": p.doc,
            });
            (n.clone(), v)
        })
        .collect();
    let inputs: serde_json::Map<String, serde_json::Value> = d
        .inputs
        .iter()
        .map(|(n, i)| {
            (
                n.clone(),
                serde_json::json!({ "optional": i.optional, "many": i.many, "doc": i.doc }),
            )
        })
        .collect();
    let outputs: serde_json::Map<String, serde_json::Value> = d
        .outputs
        .iter()
        .map(|(n, o)| (n.clone(), serde_json::json!({ "type": o.ty, "doc": o.doc })))
        .collect();
    serde_json::json!({
        "name": d.name, "kind": d.kind, "description": d.description, "definition": d.source,
        "params": params, "inputs": inputs, "outputs": outputs,
    })
}

/// The paper-shaped tables of every up-to-date `evaluate` stage among `entries`.
fn evaluation_tables(entries: &[ops::show::ShowEntry]) -> String {
    let mut evaluations = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.definition == "evaluate" && !e.stale)
    {
        let Some(path) = e.files.get(evaluation_file::OUTPUT) else {
            continue;
        };
        match evaluation_file::read(path) {
            Ok(ev) => evaluations.push((e.stage.clone(), ev)),
            Err(err) => tracing::warn!(stage = %e.stage, "cannot read its metrics: {err}"),
        }
    }
    if evaluations.is_empty() {
        return String::new();
    }
    format!(
        "\n{}",
        crate::report::render_tables_for_terminal(
            &evaluations,
            &crate::report::tables::TableKind::ALL
        )
    )
}
