//! The adapters of the commands that compare results: `diff`, `show --metrics` and `results`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::args::ResultsFormat;
use super::commands::{cache_of, open, project_root};
use crate::ops::{self, diff::DiffError};
use crate::store::Store;

/// `sapipe diff PIPELINE [--rev REV]` or `sapipe diff OLD.lock NEW.lock`.
pub fn diff(
    files: &[PathBuf],
    rev: Option<&str>,
    json: bool,
    profile: Option<&str>,
    sets: &[String],
    cache: Option<&Path>,
) -> anyhow::Result<i32> {
    let d = match files {
        [pipeline] => {
            let session = open(pipeline, profile, sets, cache)?;
            let old = ops::diff::lock_at_revision(&session, rev.unwrap_or("HEAD"))?;
            let new = ops::diff::current(&session)?;
            ops::diff::diff(&old, &new)
        }
        [old, new] => {
            if rev.is_some() {
                anyhow::bail!(
                    "--rev compares a pipeline's current results with its lock file at a \
                     revision: give one PIPELINE with --rev, or two lock files without it"
                );
            }
            let dir = old.parent().unwrap_or(Path::new("."));
            let project = crate::spec::project::find_root(dir);
            let dir = cache_of(cache, project.as_deref())?;
            let store = Store::open(&dir)
                .with_context(|| format!("cannot open the cache at {}", dir.display()))?;
            let lock = |p: &Path| -> Result<_, DiffError> { ops::diff::lock_file(p, &store) };
            ops::diff::diff(&lock(old)?, &lock(new)?)
        }
        _ => anyhow::bail!("diff takes a PIPELINE, or two lock files OLD NEW"),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", crate::ui::compare::diff(&d));
    }
    Ok(0)
}

/// `sapipe show --metrics`: one table, or stage -> {stale, metrics} as JSON.
pub fn show_metrics(entries: &[ops::show::ShowEntry], json: bool) -> anyhow::Result<()> {
    if !json {
        print!("{}", crate::ui::compare::metrics(entries));
        return Ok(());
    }
    let by_stage: BTreeMap<&str, serde_json::Value> = entries
        .iter()
        .map(|e| {
            let metrics = e.record.as_ref().map(|r| &r.metrics);
            let v = serde_json::json!({ "stale": e.stale, "metrics": metrics });
            (e.stage.as_str(), v)
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&by_stage)?);
    Ok(())
}

/// `sapipe results [PIPELINE ...]`: without pipelines, every one in the project's
/// `pipelines/` (one that does not load is skipped with a warning).
pub fn results(
    pipelines: &[PathBuf],
    format: ResultsFormat,
    project: Option<&Path>,
    profile: Option<&str>,
    cache: Option<&Path>,
) -> anyhow::Result<i32> {
    let files = match pipelines {
        [] => project_pipelines(&project_root(project)?)?,
        given => given.to_vec(),
    };
    let mut sessions = Vec::new();
    for f in &files {
        match open(f, profile, &[], cache) {
            Ok(s) => sessions.push(s),
            Err(e) if pipelines.is_empty() => {
                tracing::warn!("skipped {}: {e:#}", f.display())
            }
            Err(e) => return Err(e),
        }
    }
    let collected = ops::results::collect(&sessions)?;
    for (path, why) in &collected.unreadable {
        tracing::warn!(
            "{}: unreadable stage record ({why}); left out",
            path.display()
        );
    }
    let (rows, problems) = crate::stages::results::rows(&collected);
    for p in &problems {
        tracing::warn!("{p}; left out");
    }
    match format {
        ResultsFormat::Csv => print!("{}", crate::stages::results::to_csv(&rows)),
        ResultsFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
    }
    Ok(0)
}

/// The pipeline files (`*.yaml`) in the project's `pipelines/`, sorted.
fn project_pipelines(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = root.join("pipelines");
    let read = std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}
