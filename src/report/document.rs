//! Assembles a report directory: `report.md` with every evaluated model, the requested
//! tables, the paper's claims checked on this run, every figure (PNG files beside it) and
//! the decomposition summaries given (typed in [`crate::neuro::analysis::files`]) and the
//! in-silico probes' table and figure ([`crate::neuro::analysis::probe::files`]).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::claims::{Verdict, check_claims, claims_markdown, convergence_markdown};
use super::decomposition::{decomposition_tables, figure_caption};
use super::figures::{self, FigureError};
use super::font::{FontStatus, ensure_font};
use super::probe::probe_table;
use super::protocol::protocol_section;
use super::tables::{TableKind, build_tables, fmt3};
use super::training::TrainingCurve;
use crate::neuro::analysis::files::{DecompositionSummary, file_part};
use crate::neuro::analysis::probe::files::{FIGURE_CAPTION, ProbeSummary};
use crate::neuro::scoring::evaluation::Evaluation;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Figure(#[from] FigureError),
}

/// Everything a report is made of, already read.
pub struct ReportInputs {
    pub title: String,
    /// (evaluate stage, its metrics).
    pub evaluations: Vec<(String, Evaluation)>,
    /// (train stage, its curves).
    pub curves: Vec<(String, TrainingCurve)>,
    /// (decompose stage, its `summary.json`).
    pub decompositions: Vec<(String, DecompositionSummary)>,
    /// PNG figures of the decomposition stages, copied into the report beside their summary.
    pub decomposition_figures: Vec<StageFigure>,
    /// The `probe` stages' summaries and figures.
    pub probes: Vec<ProbeInput>,
    pub tables: Vec<TableKind>,
}

/// A `probe` stage's `summary.json` and its figure, when it drew one.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeInput {
    pub stage: String,
    pub summary: ProbeSummary,
    pub figure: Option<PathBuf>,
}

/// A figure another stage drew: which stage, the PNG file, and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct StageFigure {
    pub stage: String,
    pub path: PathBuf,
    pub caption: String,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub figures: Vec<String>,
    pub models: usize,
    pub claims_measured: usize,
    pub claims_holding: usize,
}

/// A file-name-safe, unique stem for a stage name.
fn stem(name: &str, used: &mut BTreeSet<String>) -> String {
    let safe = file_part(name);
    let mut candidate = safe.clone();
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        candidate = format!("{safe}_{n}");
        n += 1;
    }
    candidate
}

fn models_section(inputs: &ReportInputs) -> String {
    let mut out = String::from(
        "## Models\n\n| Evaluation | Stage | Model | Label | Trainable params | Training fraction | \
         Training | Mean CORR |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (eval, e) in &inputs.evaluations {
        for m in &e.models {
            let i = &m.model;
            let params = i.trainable_params.map_or("—".into(), |p| p.to_string());
            let how = if i.incremental {
                "incremental"
            } else {
                "simultaneous"
            };
            let corr = fmt3(m.summary.corr.mean);
            let _ = writeln!(
                out,
                "| {eval} | {} | {} | {} | {params} | {} | {how} | {corr} |",
                i.stage, i.model, i.label, i.fraction
            );
        }
    }
    out
}

fn claims_section(inputs: &ReportInputs, written: &mut Written) -> String {
    let mut out = String::from("## Claims of the paper, checked on this run\n\n");
    for (eval, e) in &inputs.evaluations {
        let results = check_claims(e);
        written.claims_measured += results
            .iter()
            .filter(|r| r.verdict != Verdict::NotMeasured)
            .count();
        written.claims_holding += results
            .iter()
            .filter(|r| r.verdict == Verdict::Holds)
            .count();
        let _ = write!(
            out,
            "### {eval}\n\nTraining convergence:\n\n{}\n{}\n",
            convergence_markdown(e),
            claims_markdown(&results)
        );
    }
    out
}

fn figures_section(
    inputs: &ReportInputs,
    dir: &Path,
    text: bool,
    written: &mut Written,
) -> Result<String, ReportError> {
    let mut out = String::from("## Figures\n\n");
    let mut used = BTreeSet::new();
    let mut add = |out: &mut String, file: String, caption: String| {
        let _ = write!(out, "![{caption}]({file})\n\n_{caption}_\n\n");
        written.figures.push(file);
    };
    for (eval, e) in &inputs.evaluations {
        let s = stem(eval, &mut used);
        let _ = write!(out, "### {eval}\n\n");
        let file = format!("tuning_examples_{s}.png");
        figures::tuning_examples(e, &dir.join(&file), text)?;
        add(
            &mut out,
            file,
            format!(
                "Example tuning curves ({eval}): responses rank-ordered by recorded response, recorded vs predicted"
            ),
        );
        let file = format!("population_tuning_{s}.png");
        figures::population_tuning(e, &dir.join(&file), text)?;
        add(
            &mut out,
            file,
            format!("Population tuning curve ({eval}): mean over neurons at each rank"),
        );
        let file = format!("peak_tuning_{s}.png");
        figures::peak_bars(e, &dir.join(&file), text)?;
        add(
            &mut out,
            file,
            format!("PTJ and PTS per model ({eval}), site means in percent"),
        );
    }
    if !inputs.curves.is_empty() {
        let labelled: Vec<(String, TrainingCurve)> = inputs
            .curves
            .iter()
            .map(|(stage, c)| (curve_label(inputs, stage), c.clone()))
            .collect();
        let file = "training_curves.png".to_string();
        figures::training_curves(&labelled, &dir.join(&file), text)?;
        out += "### Training\n\n";
        add(
            &mut out,
            file,
            "Training curves: mean over neurons per epoch".into(),
        );
    }
    Ok(out)
}

/// A train stage's model label, if an evaluation knows it.
fn curve_label(inputs: &ReportInputs, stage: &str) -> String {
    let models = inputs.evaluations.iter().flat_map(|(_, e)| &e.models);
    models
        .map(|m| &m.model)
        .find(|m| m.stage == stage)
        .map_or(stage.to_string(), |m| format!("{} ({stage})", m.label))
}

fn decomposition_section(
    inputs: &ReportInputs,
    dir: &Path,
    written: &mut Written,
) -> Result<String, ReportError> {
    let mut out = String::from("## FCL decomposition\n\n");
    let mut used = BTreeSet::new();
    for (stage, summary) in &inputs.decompositions {
        let _ = write!(out, "### {stage}\n\n");
        out += &decomposition_tables(stage, summary);
        let s = stem(stage, &mut used);
        for figure in inputs
            .decomposition_figures
            .iter()
            .filter(|f| &f.stage == stage)
        {
            let name = figure
                .path
                .file_name()
                .map_or_else(|| "figure.png".into(), |n| n.to_string_lossy().into_owned());
            let file = format!("decomposition_{s}_{name}");
            let caption = figure_caption(&name, summary).unwrap_or_else(|| figure.caption.clone());
            copy_figure(&figure.path, file, &caption, dir, &mut out, written)?;
        }
    }
    Ok(out)
}

/// Copies another stage's figure into the report as `file` and shows it with `caption`.
fn copy_figure(
    from: &Path,
    file: String,
    caption: &str,
    dir: &Path,
    out: &mut String,
    written: &mut Written,
) -> Result<(), ReportError> {
    let path = dir.join(&file);
    std::fs::copy(from, &path).map_err(|source| ReportError::Write { path, source })?;
    let _ = write!(out, "![{caption}]({file})\n\n_{caption}_\n\n");
    written.figures.push(file);
    Ok(())
}

/// One table per probe stage, then its figure.
fn probe_section(
    inputs: &ReportInputs,
    dir: &Path,
    written: &mut Written,
) -> Result<String, ReportError> {
    let mut out = String::from("## In-silico probe\n\n");
    let mut used = BTreeSet::new();
    for probe in &inputs.probes {
        out += &probe_table(&probe.stage, &probe.summary).to_markdown();
        out.push('\n');
        if let Some(figure) = &probe.figure {
            let file = format!(
                "probe_{}_orientation_tuning.png",
                stem(&probe.stage, &mut used)
            );
            let caption = format!("{}: {FIGURE_CAPTION}", probe.stage);
            copy_figure(figure, file, &caption, dir, &mut out, written)?;
        }
    }
    Ok(out)
}

/// Writes `report.md` and its figures into `dir`.
pub fn write_report(inputs: &ReportInputs, dir: &Path) -> Result<Written, ReportError> {
    let font = ensure_font();
    let text = matches!(font, FontStatus::Registered(_));
    let models = inputs.evaluations.iter().map(|(_, e)| e.models.len()).sum();
    let mut written = Written {
        figures: Vec::new(),
        models,
        claims_measured: 0,
        claims_holding: 0,
    };
    let mut md = format!("# {}\n\n", inputs.title);
    md += &models_section(inputs);
    md.push('\n');
    md += &protocol_section(&inputs.evaluations);
    md += "\n## Tables\n\n";
    for table in build_tables(&inputs.evaluations, &inputs.tables) {
        md += &table.to_markdown();
        md.push('\n');
    }
    md += &claims_section(inputs, &mut written);
    md += &figures_section(inputs, dir, text, &mut written)?;
    if !inputs.decompositions.is_empty() {
        md += &decomposition_section(inputs, dir, &mut written)?;
    }
    if !inputs.probes.is_empty() {
        md += &probe_section(inputs, dir, &mut written)?;
    }
    if let FontStatus::Missing(why) = font {
        let _ = writeln!(md, "## Notes\n\nFigures were drawn without text: {why}.");
    }
    let path = dir.join("report.md");
    std::fs::write(&path, md).map_err(|source| ReportError::Write { path, source })?;
    Ok(written)
}
