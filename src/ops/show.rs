//! `sapipe show`: each stage's current result — outputs and where their files are, the files
//! its inputs were bound to (a train stage's prepared dataset beside its checkpoint, for a
//! notebook), metrics, timings, device — or that it is not up to date.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::Session;
use super::status::status;
use crate::exec::plan::State;
use crate::store::{OutputRecord, StageRecord, StoreError};

#[derive(Debug, Serialize)]
pub struct ShowEntry {
    pub stage: String,
    pub definition: String,
    pub description: String,
    pub state: State,
    /// The record of the current key, or else the last completed one (then stale).
    pub record: Option<StageRecord>,
    pub stale: bool,
    /// Output name -> a path to read it (in the cache, or where it is published).
    pub files: BTreeMap<String, PathBuf>,
    /// Input name -> the upstream outputs bound to it, with a path to read each (as `files`
    /// shows them for the upstream stage), in binding order.
    pub inputs: BTreeMap<String, Vec<InputFile>>,
    /// Outputs of the record that are missing from the cache (the next run recomputes them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// One upstream output bound to an input.
#[derive(Debug, Serialize)]
pub struct InputFile {
    pub stage: String,
    pub output: String,
    /// `None` while the upstream stage has no result with that output.
    pub path: Option<PathBuf>,
}

pub fn show(session: &Session, stage: Option<&str>) -> anyhow::Result<Vec<ShowEntry>> {
    let targets: Vec<String> = stage.map(|s| vec![s.to_string()]).unwrap_or_default();
    let wanted = session.stages_named(&targets)?;
    let statuses = status(session, &targets)?;
    let mut out = Vec::new();
    // Every stage's files, upstream first (status lists stages in dependency order).
    let mut files_of: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for st in statuses {
        let current = match (&st.key, st.state) {
            (Some(k), State::UpToDate) => session.store.record(k)?,
            _ => None,
        };
        let stale = current.is_none();
        let record = current.or(st.previous);
        let def = &session
            .pipeline
            .stage(&st.stage)
            .expect("status names stages")
            .definition;
        let published = &session
            .pipeline
            .stage(&st.stage)
            .expect("status names stages")
            .publish;
        let mut files = BTreeMap::new();
        let mut missing = Vec::new();
        if let Some(r) = &record {
            for (name, o) in &r.outputs {
                match published.get(name) {
                    Some(p) if p.exists() && !stale => {
                        files.insert(name.clone(), p.clone());
                    }
                    _ => match checked_path(session, &st.stage, r, name, o)? {
                        Some(path) => {
                            files.insert(name.clone(), path);
                        }
                        None => missing.push(name.clone()),
                    },
                }
            }
        }
        let inputs = session
            .pipeline
            .stage(&st.stage)
            .expect("status names stages")
            .inputs
            .iter()
            .map(|(name, bindings)| {
                let bound = bindings
                    .iter()
                    .map(|b| InputFile {
                        stage: b.stage.clone(),
                        output: b.output.clone(),
                        path: files_of
                            .get(&b.stage)
                            .and_then(|f| f.get(&b.output))
                            .cloned(),
                    })
                    .collect();
                (name.clone(), bound)
            })
            .collect();
        files_of.insert(st.stage.clone(), files.clone());
        if stage.is_some() && !wanted.contains(&st.stage) {
            continue;
        }
        out.push(ShowEntry {
            stage: st.stage.clone(),
            definition: def.name.clone(),
            description: def.description.clone(),
            state: st.state,
            record,
            stale,
            files,
            inputs,
            missing,
        });
    }
    Ok(out)
}

/// The path of output `name` of record `r` in the cache, its content checked against its
/// digest first, since `show` names files for people and notebooks to read (issue 30, case
/// 3: a flipped byte of unchanged size was served until `verify`). `None` when it is missing,
/// or damaged: then it is quarantined and the record removed, so the next run recomputes it.
fn checked_path(
    session: &Session,
    stage: &str,
    r: &StageRecord,
    name: &str,
    o: &OutputRecord,
) -> Result<Option<PathBuf>, StoreError> {
    let store = &session.store;
    let mut path = match store.artifact_path(&o.digest, o.ty) {
        Ok(path) => path,
        Err(StoreError::Missing { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    match store.check_input(&o.digest, o.ty) {
        Ok(false) => {}
        // A folder's view with files added or replaced was dropped: rebuilt from its blobs.
        Ok(true) => path = store.artifact_path(&o.digest, o.ty)?,
        Err(damage) => {
            tracing::warn!(
                "stage '{stage}': output '{name}' is damaged in the cache ({damage}); \
                 quarantined, `sapipe run` recomputes it"
            );
            store.condemn(Some(&r.key), &damage)?;
            return Ok(None);
        }
    }
    Ok(Some(path))
}
