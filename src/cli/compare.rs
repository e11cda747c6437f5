//! The adapters of the commands that compare results: `diff`, `show --metrics`, `results`,
//! `compare` (two models decided by [`crate::neuro::scoring::verdict`]) and `bench verdicts`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::args::{ClaimArg, CompareArgs, MetricArg, ResultsFormat};
use super::commands::{cache_of, open, project_root};
use crate::neuro::scoring::calibration::{self, Grid};
use crate::neuro::scoring::values::{self, ModelValues};
use crate::neuro::scoring::verdict::{self, Relation, Rule};
use crate::ops::results::rows::{FoundModel, ResultRow, RowMetric};
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
        crate::outln!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        crate::out!("{}", crate::ui::compare::diff(&d));
    }
    Ok(0)
}

/// `sapipe show --metrics`: one table, or stage -> {stale, metrics} as JSON.
pub fn show_metrics(entries: &[ops::show::ShowEntry], json: bool) -> anyhow::Result<()> {
    if !json {
        crate::out!("{}", crate::ui::compare::metrics(entries));
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
    crate::outln!("{}", serde_json::to_string_pretty(&by_stage)?);
    Ok(())
}

/// Where one side's values came from.
#[derive(serde::Serialize)]
pub struct SideSource {
    /// What was given on the command line.
    pub given: String,
    /// `csv`, or the evaluation (`pipeline/stage`) that scored the model.
    pub from: String,
    /// The model's train stages (none for a CSV file).
    pub stages: Vec<String>,
}

/// Whether a side names a CSV file rather than a model.
fn is_file(given: &str) -> bool {
    given.to_ascii_lowercase().ends_with(".csv") || Path::new(given).is_file()
}

/// Every row of `sapipe results` for these pipelines (the project's, by default).
fn result_rows(
    req: &CompareArgs,
    profile: Option<&str>,
    cache: Option<&Path>,
) -> anyhow::Result<Vec<ResultRow>> {
    let sessions = sessions(&req.pipelines, req.project.as_deref(), profile, cache)?;
    let (rows, _) = crate::ops::results::rows::rows(&ops::results::collect(&sessions)?);
    Ok(rows)
}

/// `sapipe compare LEFT RIGHT`.
pub fn compare(
    req: &CompareArgs,
    profile: Option<&str>,
    cache: Option<&Path>,
) -> anyhow::Result<i32> {
    let relation = match req.claim {
        ClaimArg::Gt => Relation::Greater,
        ClaimArg::Eq => Relation::Approx,
        ClaimArg::Gg => Relation::FarGreater,
    };
    let metric = match req.metric {
        MetricArg::Corr => RowMetric::Corr,
        MetricArg::Ptj => RowMetric::Ptj,
        MetricArg::Pts => RowMetric::Pts,
        MetricArg::Feve => RowMetric::Feve,
    };
    let margin = req.margin.unwrap_or_else(|| verdict::default_margin(1.0));
    let rule = Rule::new(req.alpha, margin).context("--alpha or --margin")?;
    let mut rows: Option<Vec<ResultRow>> = None;
    let mut sides: Vec<(ModelValues, SideSource, Option<FoundModel>)> = Vec::new();
    for given in [&req.left, &req.right] {
        if is_file(given) {
            let v = values::read_csv(Path::new(given))?;
            let source = SideSource {
                given: given.to_string(),
                from: "csv".into(),
                stages: vec![],
            };
            sides.push((v, source, None));
            continue;
        }
        if rows.is_none() {
            rows = Some(result_rows(req, profile, cache)?);
        }
        let found = crate::ops::results::rows::find_model(
            rows.as_deref().unwrap_or_default(),
            given,
            metric,
        )?;
        let source = SideSource {
            given: given.to_string(),
            from: found.evaluation.clone(),
            stages: found.stages.clone(),
        };
        sides.push((found.values.clone(), source, Some(found)));
    }
    if let [(_, _, Some(a)), (_, _, Some(b))] = sides.as_slice()
        && a.dataset != b.dataset
    {
        anyhow::bail!(
            "{} ({}) and {} ({}) were scored on different data: their neurons do not pair",
            req.left,
            a.evaluation,
            req.right,
            b.evaluation
        );
    }
    let (_, l, r) = ModelValues::pair(&sides[0].0, &sides[1].0);
    let decision = verdict::decide(relation, &l, &r, &rule);
    let [left, right] = [&sides[0].1, &sides[1].1];
    if req.json {
        let v = serde_json::json!({ "left": left, "right": right, "metric": metric, "decision": decision });
        crate::outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let names = [left.given.as_str(), right.given.as_str()];
        // --metric picks the column of models from the results; CSV files give one value.
        let from_results = sides.iter().any(|s| s.2.is_some());
        let metric_name = from_results.then(|| format!("{metric:?}").to_uppercase());
        crate::out!(
            "{}",
            crate::ui::verdict::decision(&decision, names, metric_name.as_deref())
        );
    }
    Ok(0)
}

/// `sapipe bench verdicts`.
pub fn bench_verdicts(
    repeats: usize,
    seed: u64,
    alpha: f64,
    margin: f64,
    json: bool,
) -> anyhow::Result<i32> {
    let rule = Rule::new(alpha, margin).context("--alpha or --margin")?;
    let c = calibration::simulate(&Grid::standard(repeats.max(1), seed), &rule);
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        crate::out!("{}", crate::ui::verdict::calibration(&c));
    }
    Ok(0)
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
    let sessions = sessions(pipelines, project, profile, cache)?;
    let collected = ops::results::collect(&sessions)?;
    for (path, why) in &collected.unreadable {
        tracing::warn!(
            "{}: unreadable stage record ({why}); left out",
            path.display()
        );
    }
    let (rows, problems) = crate::ops::results::rows::rows(&collected);
    for p in &problems {
        tracing::warn!("{p}; left out");
    }
    match format {
        ResultsFormat::Csv => crate::out!("{}", crate::ops::results::rows::to_csv(&rows)),
        ResultsFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&rows)?),
    }
    Ok(0)
}

/// The sessions of `pipelines`; without any, of every pipeline in the project's
/// `pipelines/` (one that does not load is skipped with a warning).
fn sessions(
    pipelines: &[PathBuf],
    project: Option<&Path>,
    profile: Option<&str>,
    cache: Option<&Path>,
) -> anyhow::Result<Vec<ops::Session>> {
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
    Ok(sessions)
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
