//! `sapipe results`, the engine's part: every record in the cache of the given pipelines, each
//! marked stale when its key is not the current key of its stage, and a lookup of the record
//! that produced an artifact, so that the rows of evaluations (`rows`) can join a result with
//! the records of its inputs.

pub mod rows;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::Session;
use super::status::status;
use crate::key::{ContentDigest, StageKey};
use crate::store::{StageRecord, Store};

/// A record and whether it is its stage's current result.
#[derive(Debug, Clone)]
pub struct Found {
    pub record: StageRecord,
    /// Its key is not the current key of its stage (or the stage is gone from the pipeline).
    pub stale: bool,
    /// The cache it is in (where its outputs are).
    pub store: Store,
}

#[derive(Debug, Default)]
pub struct Collected {
    /// Ordered by pipeline, stage, current before stale, then finishing time.
    pub records: Vec<Found>,
    /// Record files that could not be read: (path, why). They are left as they are.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl Collected {
    /// The record of `pipeline` whose output `output` is `digest`: preferably one of `stage`,
    /// and a current one before a stale one.
    pub fn producer(
        &self,
        pipeline: &str,
        stage: &str,
        output: &str,
        digest: &ContentDigest,
    ) -> Option<&Found> {
        let produced = |f: &&Found| {
            f.record.pipeline == pipeline
                && f.record
                    .outputs
                    .get(output)
                    .is_some_and(|o| o.digest == *digest)
        };
        let mut candidates: Vec<&Found> = self.records.iter().filter(produced).collect();
        candidates.sort_by_key(|f| (f.record.stage != stage, f.stale));
        candidates.into_iter().next()
    }
}

/// A cache's readable records, and its unreadable record files (path, why).
type Scan = (Vec<StageRecord>, Vec<(PathBuf, String)>);

/// The records of every pipeline of `sessions` (each looked up in its own cache).
pub fn collect(sessions: &[Session]) -> anyhow::Result<Collected> {
    let mut out = Collected::default();
    let mut seen: BTreeSet<(String, StageKey)> = BTreeSet::new();
    // Each cache is scanned once, however many pipelines use it.
    let mut scanned: BTreeMap<PathBuf, Scan> = BTreeMap::new();
    for session in sessions {
        let current: BTreeMap<String, Option<StageKey>> = status(session, &[])?
            .into_iter()
            .map(|s| (s.stage, s.key))
            .collect();
        let (records, bad) = scanned
            .entry(session.store.root().to_owned())
            .or_insert_with(|| session.store.scan_records());
        out.unreadable.append(bad);
        for r in records.iter() {
            let pipeline = &session.pipeline.name;
            if r.pipeline != *pipeline || !seen.insert((pipeline.clone(), r.key.clone())) {
                continue;
            }
            let stale = current.get(&r.stage).cloned().flatten().as_ref() != Some(&r.key);
            out.records.push(Found {
                record: r.clone(),
                stale,
                store: session.store.clone(),
            });
        }
    }
    out.records.sort_by(|a, b| {
        let order = |f: &Found| (f.record.pipeline.clone(), f.record.stage.clone(), f.stale);
        order(a)
            .cmp(&order(b))
            .then_with(|| b.record.finished.cmp(&a.record.finished))
    });
    Ok(out)
}
