//! `sapipe status` (what would run and why) and `sapipe explain` (one stage's key components
//! and what changed since its last record).

use std::collections::BTreeSet;

use super::{Session, no_events};
use crate::exec::plan::{StageStatus, plan};

pub fn status(session: &Session, targets: &[String]) -> anyhow::Result<Vec<StageStatus>> {
    let stages = session.selection(targets)?;
    let lock = session.lock_file()?;
    let engine = session.engine(&no_events);
    Ok(plan(&engine, &stages, &BTreeSet::new(), lock.as_ref())?)
}

/// The status of one stage, with its key record and previous record filled in.
pub fn explain(session: &Session, stage: &str) -> anyhow::Result<StageStatus> {
    session.pipeline.require_stage(stage)?;
    let all = status(session, &[stage.to_string()])?;
    Ok(all
        .into_iter()
        .find(|s| s.stage == stage)
        .expect("the target is in its own closure"))
}
