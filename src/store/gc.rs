//! Garbage collection: keeps the records reachable from the given roots (lock files and heads,
//! collected by the caller) and those finished recently, and the objects, manifests, views and
//! logs they reach; everything else (and anything quarantined) is listed (dry run) or removed.
//! Runs under the exclusive cache lock, so no run is writing meanwhile.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::{Store, StoreError};
use crate::key::StageKey;
use crate::spec::OutputType;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct GcReport {
    pub kept_records: usize,
    /// Every path that is (or, in a dry run, would be) removed.
    pub removed: Vec<PathBuf>,
    pub bytes: u64,
    pub dry_run: bool,
}

impl Store {
    /// Keys of every head (the last completed key of each pipeline stage).
    pub fn head_keys(&self) -> Vec<StageKey> {
        walkdir::WalkDir::new(self.root.join("heads"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter_map(|e| self.read_head(e.path()))
            .collect()
    }

    pub fn gc(
        &self,
        roots: &BTreeSet<StageKey>,
        keep_recent: Duration,
        dry_run: bool,
    ) -> Result<GcReport, StoreError> {
        let _lock = self.lock_exclusive()?;
        let now = SystemTime::now();
        let mut report = GcReport {
            dry_run,
            ..Default::default()
        };
        let mut live_blobs = BTreeSet::new();
        let mut live_trees = BTreeSet::new();
        let mut live_keys = BTreeSet::new();
        for record in self.records()? {
            let recent = humantime::parse_rfc3339(&record.finished)
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age <= keep_recent);
            if !(roots.contains(&record.key) || recent) {
                continue;
            }
            report.kept_records += 1;
            live_keys.insert(record.key.hex().to_string());
            for o in record.outputs.values() {
                match o.ty {
                    OutputType::File => {
                        live_blobs.insert(o.digest.hex().to_string());
                    }
                    OutputType::Dir => {
                        live_trees.insert(o.digest.hex().to_string());
                        if let Ok(m) = self.read_manifest(&o.digest) {
                            live_blobs.extend(m.files.values().map(|d| d.hex().to_string()));
                        }
                    }
                }
            }
        }
        let mut dead: Vec<PathBuf> = Vec::new();
        dead.extend(
            self.sharded_files("objects", "")?
                .into_iter()
                .filter(|(_, n)| !live_blobs.contains(n))
                .map(|(p, _)| p),
        );
        dead.extend(
            self.sharded_files("trees", ".json")?
                .into_iter()
                .filter(|(_, n)| !live_trees.contains(n))
                .map(|(p, _)| p),
        );
        dead.extend(
            self.sharded_files("records", ".json")?
                .into_iter()
                .filter(|(_, n)| !live_keys.contains(n))
                .map(|(p, _)| p),
        );
        dead.extend(
            self.children("views")?
                .into_iter()
                .filter(|p| !name_in(p, &live_trees, "")),
        );
        dead.extend(
            self.children("logs")?
                .into_iter()
                .filter(|p| !name_in(p, &live_keys, ".log")),
        );
        dead.extend(self.children("tmp")?);
        // Damaged files moved aside: kept for inspection until the next collection.
        dead.extend(self.children("quarantine")?);
        for path in dead {
            report.bytes += size_of(&path);
            if !dry_run {
                let result = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                result.map_err(StoreError::io(&path))?;
            }
            report.removed.push(path);
        }
        report.removed.sort();
        Ok(report)
    }

    fn children(&self, folder: &str) -> Result<Vec<PathBuf>, StoreError> {
        let dir = self.root.join(folder);
        let rd = std::fs::read_dir(&dir).map_err(StoreError::io(&dir))?;
        Ok(rd.filter_map(Result::ok).map(|e| e.path()).collect())
    }
}

fn name_in(path: &std::path::Path, live: &BTreeSet<String>, suffix: &str) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(suffix))
        .is_some_and(|n| live.contains(n))
}

fn size_of(path: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
