//! `sapipe gc`: removes cache entries no lock file, head or recent record reaches.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::key::StageKey;
use crate::lockfile::LockFile;
use crate::store::Store;
use crate::store::gc::GcReport;

/// Lock files of a project: every `*.lock` under `pipelines/`.
pub fn lock_files(project_root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(project_root.join("pipelines"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "lock"))
        .map(|e| e.into_path())
        .collect()
}

pub fn gc(
    cache: &Path,
    project_root: &Path,
    keep_recent: Duration,
    dry_run: bool,
) -> anyhow::Result<GcReport> {
    let store = Store::open(cache)
        .with_context(|| format!("cannot open the cache at {}", cache.display()))?;
    let mut roots: BTreeSet<StageKey> = store.head_keys().into_iter().collect();
    for path in lock_files(project_root) {
        if let Some(lock) = LockFile::read(&path)? {
            roots.extend(lock.stages.into_values().map(|s| s.key));
        }
    }
    Ok(store.gc(&roots, keep_recent, dry_run)?)
}
