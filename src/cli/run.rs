//! `sapipe run` (locally, on Slurm, or with a remote: `--pull`/`--push`, `--detach`), and
//! `sapipe push` / `sapipe pull`.

use std::path::Path;

use anyhow::Context;

use super::args::{RunArgs, TransferArgs};
use super::commands::{Globals, environment};
use crate::ops::{self, Session};
use crate::spec::Executor;
use crate::ui::transfer::{self, TransferBar};
use crate::ui::{progress::Progress, slurm, terminal};

/// `run`: exit 1 when a stage failed (or, with `--push`, something could not move).
pub(super) fn run(g: &Globals, args: RunArgs) -> anyhow::Result<i32> {
    let RunArgs {
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
    } = args;
    let mut env = environment();
    if executor == Some(Executor::Slurm) {
        env.cuda_available = true; // Slurm jobs check CUDA on their own nodes
    }
    let mut session = Session::open_profile(
        &pipeline,
        g.profile,
        g.sets,
        g.cache,
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
        let remote = open_remote(g.remote, &session.pipeline.root)?;
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
pub(super) fn transfer(g: &Globals, args: &TransferArgs, push: bool) -> anyhow::Result<i32> {
    let session = g.open(&args.pipeline)?;
    let remote = open_remote(g.remote, &session.pipeline.root)?;
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
