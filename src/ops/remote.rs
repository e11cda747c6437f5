//! `sapipe push` and `sapipe pull`, and the remote side of `run --pull/--push`: which records
//! a pipeline's current results are (push), and which keys it needs, found stage by stage in
//! dependency order as pulled results make downstream keys known (pull).

use std::collections::{BTreeMap, BTreeSet};

use super::Session;
use super::run::{RunRequest, run_with};
use crate::exec::keys::{Known, key_record};
use crate::exec::plan::{State, digests, plan};
use crate::exec::scheduler::RunSummary;
use crate::exec::stage::trusted_record;
use crate::exec::{Engine, Event};
use crate::remote::launcher::RemoteLauncher;
use crate::remote::sync::{self, TransferSummary};
use crate::remote::transfer::Meter;
use crate::remote::{Backend, RemoteError};
use crate::spec::Executor;

/// How a command talks to its remote.
pub struct RemoteUse<'a> {
    pub remote: &'a dyn Backend,
    pub jobs: usize,
    pub meter: &'a dyn Meter,
}

/// Pushes the records of the selected stages' current results (and everything they name)
/// that the remote lacks. A stage that is not up to date is a problem: run it first.
pub fn push(
    session: &Session,
    targets: &[String],
    to: &RemoteUse,
) -> anyhow::Result<TransferSummary> {
    transfer(session, targets, |stages, engine| {
        let mut records = Vec::new();
        let mut stale = Vec::new();
        for st in plan(engine, stages, &BTreeSet::new(), None)? {
            let record = match (&st.state, &st.key) {
                (State::UpToDate, Some(key)) => session.store.record(key)?,
                _ => None,
            };
            match record {
                Some(r) => records.push((st.stage, r)),
                None => stale.push(st.stage),
            }
        }
        let mut summary = sync::push(&session.store, to.remote, &records, to.jobs, to.meter)?;
        for s in stale {
            summary.problems.push(format!(
                "stage '{s}': not pushed, it has no current result (run `sapipe run {}` first)",
                session.pipeline.file.display()
            ));
        }
        Ok(summary)
    })
}

/// Pulls what the selected stages need: for each stage in order, its key's record and
/// objects unless the local cache has them. A stage the remote lacks leaves its dependants
/// unknown (they are not pulled); a result that does not check out is a problem, not stored.
pub fn pull(
    session: &Session,
    targets: &[String],
    from: &RemoteUse,
) -> anyhow::Result<TransferSummary> {
    transfer(session, targets, |stages, engine| {
        let mut summary = TransferSummary {
            remote: from.remote.describe(),
            ..TransferSummary::default()
        };
        let mut known: Known = BTreeMap::new();
        for name in stages {
            let stage = session.pipeline.stage(name).expect("selected stages exist");
            let Some(rec) = key_record(engine, stage, &known)? else {
                continue;
            };
            let key = rec.key();
            if let Some(r) = trusted_record(engine, stage, &key)? {
                known.insert(name.clone(), digests(&r));
                summary.already.push(name.clone());
                continue;
            }
            let _lock = session.store.lock_key(&key, || {})?;
            match sync::pull_record(
                &session.store,
                from.remote,
                name,
                &key,
                from.jobs,
                from.meter,
            ) {
                Ok(Some((r, moved))) => {
                    known.insert(name.clone(), digests(&r));
                    summary.absorb(moved);
                }
                Ok(None) => {}
                Err(e @ RemoteError::Untrusted { .. }) => summary.problems.push(e.to_string()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(summary)
    })
}

/// A push or pull of the selected stages (`targets`; all when none), under the cache's shared
/// lock: `f` moves them; the summary gets the time it took.
fn transfer(
    session: &Session,
    targets: &[String],
    f: impl FnOnce(&[String], &Engine) -> anyhow::Result<TransferSummary>,
) -> anyhow::Result<TransferSummary> {
    let t0 = std::time::Instant::now();
    let stages = session.selection(targets)?;
    let _cache = session.store.lock_shared()?;
    let engine = session.engine(&super::no_events);
    let mut summary = f(&stages, &engine)?;
    summary.seconds = t0.elapsed().as_secs_f64();
    Ok(summary)
}

/// `run --pull` / `run --push`: the run, with remote results used before executing, new
/// results pushed after each stage, and (with push) every done stage pushed at the end.
pub fn run(
    session: &Session,
    req: &RunRequest,
    events: &(dyn Fn(Event) + Sync),
    remote: &RemoteUse,
    pull: bool,
    push: bool,
) -> anyhow::Result<(RunSummary, Option<TransferSummary>)> {
    if session.pipeline.executor != Executor::Local {
        anyhow::bail!(
            "{}: run --pull/--push work with the local executor; with Slurm, `sapipe pull` \
             before and `sapipe push` after the run",
            session.pipeline.file.display()
        );
    }
    let launcher = RemoteLauncher {
        remote: remote.remote,
        pull,
        push,
        jobs: remote.jobs,
        meter: remote.meter,
        pushed: Default::default(),
    };
    let summary = run_with(session, req, events, &launcher)?;
    let pushed = if push {
        let t0 = std::time::Instant::now();
        let records: Vec<_> = summary
            .records
            .iter()
            .map(|(s, r)| (s.clone(), r.clone()))
            .collect();
        let last = sync::push(
            &session.store,
            remote.remote,
            &records,
            remote.jobs,
            remote.meter,
        )?;
        // What each stage's push moved, and what the last push found missing still.
        let mut p = launcher
            .pushed
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        let earlier = p.objects_moved;
        p.objects_present = 0;
        p.already.clear();
        p.absorb(last);
        p.objects_present = p.objects_present.saturating_sub(earlier);
        let moved = p.stages.clone();
        p.already.retain(|s| !moved.contains(s));
        p.seconds = t0.elapsed().as_secs_f64();
        Some(p)
    } else {
        None
    };
    Ok((summary, pushed))
}
