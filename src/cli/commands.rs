//! One adapter per subcommand: call the operation, print its result, return the exit code.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::args::{BenchCommand, Cli, Command, DeviceArg, StagesCommand, TransferArgs};
use crate::exec::{Environment, host_name};
use crate::key::StageKey;
use crate::kind::DeviceClass;
use crate::neuro::scoring::evaluation_file;
use crate::ops::{self, Session};
use crate::spec::Executor;
use crate::ui::transfer::{self, TransferBar};
use crate::ui::{catalogue, progress::Progress, slurm, terminal};

/// Runs the command line; returns the process exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let cache = cli.cache.as_deref();
    let profile = cli.profile.as_deref();
    let sets = cli.set.as_slice();
    if !sets.is_empty() && !loads_pipeline(&cli.command) {
        anyhow::bail!(
            "--set sets a pipeline stage's parameter: it applies to commands that load a \
             pipeline (run, status, explain, show, diff, dag, audit, push, pull)"
        );
    }
    match cli.command {
        Command::Run {
            pipeline,
            stages,
            force,
            jobs,
            keep_going,
            locked,
            executor,
            detach,
            pull,
            push,
        } => {
            let mut env = environment();
            if executor == Some(Executor::Slurm) {
                env.cuda_available = true; // Slurm jobs check CUDA on their own nodes
            }
            let mut session = Session::open_profile(
                &pipeline,
                profile,
                sets,
                cache,
                crate::stages::registry(),
                env,
            )?;
            if let Some(e) = executor {
                session.pipeline.executor = e;
            }
            let slurm = session.pipeline.executor == Executor::Slurm;
            let jobs = jobs.unwrap_or_else(|| match slurm {
                true => usize::MAX,
                false => std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
            });
            let req = ops::run::RunRequest {
                targets: stages,
                force,
                jobs,
                keep_going,
                locked,
            };
            if detach {
                let submitted = ops::slurm::detach(&session, &req)?;
                crate::out!("{}", slurm::detached(&submitted));
                return Ok(0);
            }
            let progress = Progress::new();
            if pull || push {
                let remote = open_remote(cli.remote.as_deref(), &session.pipeline.root)?;
                let bar = TransferBar::new("transfer");
                let use_ = ops::remote::RemoteUse {
                    remote: remote.as_ref(),
                    jobs: req.jobs.clamp(1, 8),
                    meter: &bar,
                };
                let (summary, pushed) =
                    ops::remote::run(&session, &req, &|e| progress.handle(e), &use_, pull, push)?;
                bar.finish();
                crate::out!("{}", terminal::run_summary(&summary));
                let mut ok = summary.failed.is_empty();
                if let Some(p) = pushed {
                    crate::out!("{}", transfer::summary("pushed", &p));
                    ok &= p.problems.is_empty();
                }
                return Ok(if ok { 0 } else { 1 });
            }
            let summary = ops::run::run(&session, &req, &|e| progress.handle(e))?;
            crate::out!("{}", terminal::run_summary(&summary));
            Ok(if summary.failed.is_empty() { 0 } else { 1 })
        }
        Command::Push(args) => {
            transfer_command(&args, profile, sets, cache, cli.remote.as_deref(), true)
        }
        Command::Pull(args) => {
            transfer_command(&args, profile, sets, cache, cli.remote.as_deref(), false)
        }
        Command::Status {
            pipeline,
            stages,
            json,
        } => {
            let session = open(&pipeline, profile, sets, cache)?;
            let statuses = ops::status::status(&session, &stages)?;
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
        Command::Explain {
            pipeline,
            stage,
            json,
        } => {
            let session = open(&pipeline, profile, sets, cache)?;
            let st = ops::status::explain(&session, &stage)?;
            let definition = &session.pipeline.require_stage(&stage)?.definition;
            if json {
                let value = serde_json::json!({ "status": st, "key_record": st.record, "previous_key": st.previous.as_ref().map(|p| &p.key), "definition": definition.source });
                crate::outln!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                crate::out!("{}", terminal::explain(&st));
                crate::out!("{}", catalogue::definition_line(definition));
            }
            Ok(0)
        }
        Command::Dag { pipeline, format } => {
            let session = open(&pipeline, profile, sets, cache)?;
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
        Command::Show {
            pipeline,
            stage,
            metrics,
            json,
        } => {
            let session = open(&pipeline, profile, sets, cache)?;
            let entries = ops::show::show(&session, stage.as_deref())?;
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
        Command::Predict {
            pipeline,
            stage,
            images,
            neurons,
            out,
            device,
            json,
        } => {
            let session = open(&pipeline, profile, sets, cache)?;
            let req = super::predict::Request {
                stage,
                images,
                neurons,
                out,
                device: device.map(|d| match d {
                    DeviceArg::Cpu => DeviceClass::Cpu,
                    DeviceArg::Cuda => DeviceClass::Cuda,
                }),
                json,
            };
            super::predict::predict(&session, &req)
        }
        Command::Diff { files, rev, json } => {
            super::compare::diff(&files, rev.as_deref(), json, profile, sets, cache)
        }
        Command::Results {
            pipelines,
            format,
            project,
        } => super::compare::results(&pipelines, format, project.as_deref(), profile, cache),
        Command::Compare(args) => super::compare::compare(&args, profile, cache),
        Command::Audit {
            pipeline,
            stages,
            against,
            tolerance,
            device,
            json,
        } => {
            let mut session = open(&pipeline, profile, sets, cache)?;
            if device == Some(DeviceArg::Cuda) {
                session.env.cuda_available = true; // the worker verifies CUDA really works
            }
            let progress = Progress::new();
            let device = device.map(|d| match d {
                DeviceArg::Cpu => DeviceClass::Cpu,
                DeviceArg::Cuda => DeviceClass::Cuda,
            });
            let req = ops::audit::AuditRequest {
                targets: stages,
                reference: against,
                tolerance,
                device,
            };
            let report = ops::audit::audit(&session, &req, &|e| progress.handle(e))?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                crate::out!("{}", terminal::audit(&report));
            }
            Ok(if report.passed { 0 } else { 1 })
        }
        Command::Verify { repair, project } => {
            let dir = cache_of(cache, project.as_deref())?;
            let report = ops::verify::verify(&dir, repair)?;
            crate::out!("{}", terminal::verify(&report));
            Ok(if report.problems.is_empty() || repair {
                0
            } else {
                1
            })
        }
        Command::Gc {
            dry_run,
            keep_recent,
            project,
        } => {
            let root = project_root(project.as_deref())?;
            let dir = ops::cache_dir(cache, &root);
            let report = ops::gc::gc(&dir, &root, keep_recent, dry_run)?;
            crate::out!("{}", terminal::gc(&report));
            Ok(0)
        }
        Command::Bench(BenchCommand::Matrix {
            stages,
            repeats,
            json,
        }) => {
            let exe = std::env::current_exe().context("cannot locate the sapipe binary")?;
            let b = ops::bench_matrix::bench_matrix(&exe, stages, repeats)?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                crate::out!("{}", terminal::bench_matrix(&b));
            }
            Ok(0)
        }
        Command::Bench(BenchCommand::Noop {
            stages,
            repeats,
            json,
        }) => {
            let exe = std::env::current_exe().context("cannot locate the sapipe binary")?;
            let b = ops::bench_noop::bench_noop(&exe, stages, repeats)?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                crate::out!("{}", terminal::bench_noop(&b));
            }
            Ok(0)
        }
        Command::Bench(BenchCommand::Verdicts {
            repeats,
            seed,
            alpha,
            margin,
            json,
        }) => super::compare::bench_verdicts(repeats, seed, alpha, margin, json),
        Command::Init { dir } => {
            let created = ops::init::init(&dir)?;
            crate::out!("{}", catalogue::created(&created));
            Ok(0)
        }
        Command::Stages {
            show,
            project,
            json,
        } => {
            let root = match project {
                Some(p) => Some(p),
                None => {
                    let cwd =
                        std::env::current_dir().context("cannot read the current directory")?;
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
        Command::Models { json } => {
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
        Command::Bench(BenchCommand::Data {
            images,
            neurons,
            seed,
            json,
        }) => {
            let report = crate::neuro::data::sim::bench::bench_generate(images, neurons, seed);
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                crate::out!("{}", terminal::bench_data(&report));
            }
            Ok(0)
        }
        Command::Bench(BenchCommand::Train(args)) => {
            let mut words = vec!["bench-train".to_string()];
            words.extend(args.to_args());
            run_worker(&words)
        }
        Command::ExecStage {
            pipeline,
            stage,
            key,
            force,
        } => {
            let key = match key {
                Some(k) => Some(StageKey::parse(&k).with_context(|| {
                    format!("--key {k}: not a stage key (64 hexadecimal digits)")
                })?),
                None => None,
            };
            let session = open(&pipeline, profile, sets, cache)?;
            let progress = Progress::new();
            let req = ops::slurm::ExecStageRequest { stage, key, force };
            let out = ops::slurm::exec_stage(session, &req, &|e| progress.handle(e))?;
            crate::outln!("{}", slurm::exec_stage(&req.stage, &out));
            Ok(0)
        }
        Command::Doctor { json } => {
            let mut words = vec!["doctor".to_string()];
            if json {
                words.push("--json".into());
            } else {
                let exe = std::env::current_exe().context("cannot locate the sapipe binary")?;
                crate::outln!("sapipe:        {}", exe.display());
            }
            run_worker(&words)
        }
    }
}

/// Whether the command loads a pipeline (so that `--set` applies).
fn loads_pipeline(command: &Command) -> bool {
    matches!(
        command,
        Command::Run { .. }
            | Command::Push(_)
            | Command::Pull(_)
            | Command::Status { .. }
            | Command::Explain { .. }
            | Command::Dag { .. }
            | Command::Show { .. }
            | Command::Predict { .. }
            | Command::Diff { .. }
            | Command::Audit { .. }
            | Command::ExecStage { .. }
    )
}

/// The remote to use (see `remote::config`), opened.
fn open_remote(
    explicit: Option<&str>,
    root: &Path,
) -> anyhow::Result<Box<dyn crate::remote::Backend>> {
    let spec = crate::remote::resolve(explicit, root)?;
    crate::remote::open(&spec)
        .with_context(|| format!("cannot open the remote {}", spec.location()))
}

/// `push` or `pull`: prints the summary; exit 1 when something could not move.
fn transfer_command(
    args: &TransferArgs,
    profile: Option<&str>,
    sets: &[String],
    cache: Option<&Path>,
    remote: Option<&str>,
    push: bool,
) -> anyhow::Result<i32> {
    let session = open(&args.pipeline, profile, sets, cache)?;
    let remote = open_remote(remote, &session.pipeline.root)?;
    let bar = TransferBar::new(if push { "push" } else { "pull" });
    let use_ = ops::remote::RemoteUse {
        remote: remote.as_ref(),
        jobs: args.jobs,
        meter: &bar,
    };
    let (verb, summary) = if push {
        ("pushed", ops::remote::push(&session, &args.stages, &use_)?)
    } else {
        ("pulled", ops::remote::pull(&session, &args.stages, &use_)?)
    };
    bar.finish();
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        crate::out!("{}", transfer::summary(verb, &summary));
    }
    Ok(if summary.problems.is_empty() { 0 } else { 1 })
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
