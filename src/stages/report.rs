//! The `report` stage kind: gathers `evaluate` stages' metrics, train stages' curves and FCL
//! decomposition summaries and in-silico probes into a report directory (`report.md` and the
//! PNG figures it shows), rendered by [`crate::report`]. Its parameters are read once into
//! [`ReportParams`] (the test below keeps the struct and `stages/report.yaml` in step).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::analysis::files::{DecompositionFigure, DecompositionSummary, SUMMARY_FILE};
use crate::neuro::analysis::probe::files::{
    FIGURE_FILE, ProbeSummary, SUMMARY_FILE as PROBE_SUMMARY,
};
use crate::neuro::scoring::evaluation_file;
use crate::report::training::{TrainingCurve, parse_curves};
use crate::report::{ProbeInput, ReportInputs, StageFigure, TableKind, write_report};

pub struct Report;

/// A `report` stage's parameters, as declared in `stages/report.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// The report's heading.
    pub title: String,
    /// The tables rendered, in order.
    pub tables: Vec<TableKind>,
}

impl StageKind for Report {
    fn name(&self) -> &'static str {
        "report"
    }

    /// 2: the protocol section, and decomposition tables instead of a dump of fields.
    /// 3: claims decided by `neuro::scoring::verdict` and convergence failing closed
    /// (issue 27), so that reports cached under the old rules are recomputed.
    /// 4: claims whose models a run did not train leave the table for a list naming the
    /// pipeline that checks them.
    fn version(&self) -> u32 {
        4
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let ReportParams { title, tables } = super::params::read_stage(ctx)?;
        let invalid =
            |message: String| KindError::Invalid(format!("stage '{}': {message}", ctx.stage));
        let bound = ctx.inputs_many("metrics");
        if bound.is_empty() {
            return Err(invalid(
                "input 'metrics' is bound to no stage: list evaluate stages in `needs`".into(),
            ));
        }
        let evaluations = bound
            .iter()
            .map(|(stage, path)| {
                Ok((
                    stage.to_string(),
                    evaluation_file::read(path).map_err(|e| invalid(e.to_string()))?,
                ))
            })
            .collect::<Result<Vec<_>, KindError>>()?;
        let inputs = ReportInputs {
            title,
            evaluations,
            curves: read_curves(ctx)?,
            decompositions: read_decompositions(ctx)?,
            decomposition_figures: decomposition_figures(ctx)?,
            probes: read_probes(ctx)?,
            tables,
        };
        let dir = ctx.output("report")?;
        let written = write_report(&inputs, dir)
            .map_err(|e| KindError::Failed(format!("stage '{}': {e}", ctx.stage)))?;
        tracing::info!(
            stage = ctx.stage,
            "report with {} figures in {}",
            written.figures.len(),
            dir.display()
        );
        let mut metrics = Metrics::new();
        metrics.insert("models".into(), json!(written.models));
        metrics.insert("figures".into(), json!(written.figures.len()));
        metrics.insert("claims_measured".into(), json!(written.claims_measured));
        metrics.insert("claims_holding".into(), json!(written.claims_holding));
        Ok(metrics)
    }
}

/// A bound artifact's file: the path itself, or `file` inside it when it is a directory.
fn file_in(path: &Path, file: &str) -> PathBuf {
    if path.is_dir() {
        path.join(file)
    } else {
        path.to_owned()
    }
}

fn read_text(ctx: &StageContext, input: &str, path: &Path) -> Result<String, KindError> {
    std::fs::read_to_string(path).map_err(|e| {
        KindError::Invalid(format!(
            "stage '{}': input '{input}': {}: {e}",
            ctx.stage,
            path.display()
        ))
    })
}

/// Train stages' `curves` CSV files (or directories holding `curves.csv`).
fn read_curves(ctx: &StageContext) -> Result<Vec<(String, TrainingCurve)>, KindError> {
    let mut curves = Vec::new();
    for (stage, path) in ctx.inputs_many("curves") {
        let path = file_in(path, "curves.csv");
        let curve = parse_curves(&read_text(ctx, "curves", &path)?).map_err(|e| {
            KindError::Invalid(format!(
                "stage '{}': input 'curves': {}: {e}",
                ctx.stage,
                path.display()
            ))
        })?;
        curves.push((stage.to_string(), curve));
    }
    Ok(curves)
}

/// Each artifact bound to `input`: (upstream stage, its path, its `file` read with `read`);
/// errors name the input and the upstream stage.
fn read_each<T, E: std::fmt::Display>(
    ctx: &StageContext,
    input: &str,
    file: &str,
    read: impl Fn(&Path) -> Result<T, E>,
) -> Result<Vec<(String, PathBuf, T)>, KindError> {
    ctx.inputs_many(input)
        .into_iter()
        .map(|(stage, path)| {
            let value = read(&file_in(path, file)).map_err(|e| {
                KindError::Invalid(format!(
                    "stage '{}': input '{input}' (stage '{stage}'): {e}",
                    ctx.stage
                ))
            })?;
            Ok((stage.to_string(), path.clone(), value))
        })
        .collect()
}

/// Decomposition directories' `summary.json`, typed.
fn read_decompositions(
    ctx: &StageContext,
) -> Result<Vec<(String, DecompositionSummary)>, KindError> {
    let read = read_each(
        ctx,
        "decomposition",
        SUMMARY_FILE,
        DecompositionSummary::read,
    )?;
    Ok(read.into_iter().map(|(stage, _, s)| (stage, s)).collect())
}

/// Probe directories' `summary.json`, typed, and their figure.
fn read_probes(ctx: &StageContext) -> Result<Vec<ProbeInput>, KindError> {
    let read = read_each(ctx, "probe", PROBE_SUMMARY, ProbeSummary::read)?;
    Ok(read
        .into_iter()
        .map(|(stage, path, summary)| {
            let figure = path.join(FIGURE_FILE);
            ProbeInput {
                stage,
                summary,
                figure: figure.is_file().then_some(figure),
            }
        })
        .collect())
}

/// The figures in decomposition directories (`fcl_map_*.png`, ...), by file name per stage.
fn decomposition_figures(ctx: &StageContext) -> Result<Vec<StageFigure>, KindError> {
    let mut figures = Vec::new();
    for (stage, path) in ctx.inputs_many("decomposition") {
        if !path.is_dir() {
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| {
            KindError::Invalid(format!(
                "stage '{}': input 'decomposition': {}: {e}",
                ctx.stage,
                path.display()
            ))
        })?;
        let mut found: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        found.sort();
        for (name, file) in found {
            if let Some((figure, model)) = DecompositionFigure::parse(&name) {
                figures.push(StageFigure {
                    stage: stage.to_string(),
                    path: file,
                    caption: format!("{model}: {}", figure.caption()),
                });
            }
        }
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::kind::{DeviceClass, Params};
    use crate::neuro::analysis::fixtures as decomposition;
    use crate::report::fixtures::{computed, evaluation, model};
    use crate::stages::fixtures::{params_from_definition, with_params};
    use crate::stages::params::read_stage;

    fn run(
        params: &Params,
        inputs: &BTreeMap<String, PathBuf>,
        out: &Path,
    ) -> Result<Metrics, KindError> {
        let outputs = BTreeMap::from([("report".to_string(), out.to_owned())]);
        let ctx = StageContext {
            stage: "report",
            params,
            inputs,
            outputs: &outputs,
            workdir: out.to_owned(),
            log_path: out.join("log"),
            device: DeviceClass::Cpu,
            deterministic: true,
            progress: &|_, _, _| {},
            numerics: &|_| {},
        };
        Report.run(&ctx)
    }

    fn params(tables: Value) -> Params {
        Params::from([
            ("title".to_string(), json!("Run 7")),
            ("tables".to_string(), tables),
        ])
    }

    /// Two evaluate stages' metrics, one train stage's curves, one decomposition.
    fn inputs(dir: &Path) -> BTreeMap<String, PathBuf> {
        let chain = evaluation(vec![
            model("rf_cnn", "rf-cnn", false, 1.0, [0.5, 6.0, 12.0]),
            model("rf_sa_inc", "rf-sa-cnn-star", true, 1.0, [0.49, 7.0, 14.0]),
            model("rf_sa_sim", "rf-sa-cnn-star", false, 1.0, [0.40, 5.0, 9.0]),
        ]);
        let files = [("main.json", computed()), ("chain.json", chain)];
        for (name, e) in &files {
            std::fs::write(dir.join(name), serde_json::to_string(e).unwrap()).unwrap();
        }
        let csv = "epoch,neuron,train_loss,val_loss,val_corr\n1,0,2,3,0.1\n2,0,1,2,0.3\n";
        std::fs::write(dir.join("curves.csv"), csv).unwrap();
        std::fs::create_dir_all(dir.join("dec")).unwrap();
        decomposition::summary().write(&dir.join("dec")).unwrap();
        let png = dir.join("dec/fcl_map_ff_sa.png");
        let zero = crate::report::maps::Reference::ZERO;
        crate::report::maps::heatmap(&[0.0, 1.0, 2.0, 3.0], 2, zero, "map", &png, false).unwrap();
        BTreeMap::from([
            ("metrics/eval_main".to_string(), dir.join("main.json")),
            ("metrics/eval_chain".to_string(), dir.join("chain.json")),
            ("curves/rf_cnn".to_string(), dir.join("curves.csv")),
            ("decomposition/decomp".to_string(), dir.join("dec")),
        ])
    }

    #[test]
    fn report_holds_every_model_table_and_figure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let all = json!(["summary", "table1", "table2", "table3"]);
        let metrics = run(&params(all), &inputs(dir.path()), &out).unwrap();
        assert_eq!(metrics["models"], json!(6));
        assert_eq!(
            metrics["figures"],
            json!(8),
            "3 per evaluation + training + the decomposition's map"
        );
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(md.starts_with("# Run 7\n"));
        for label in [
            "ff-CNN",
            "ff+sa-CNN",
            "rf-CNN",
            "rf-cnn",
            "rf-sa-cnn-star (Incr.)",
            "rf-sa-cnn-star",
        ] {
            assert!(
                md.contains(&format!("| {label} |")),
                "model {label} missing:\n{md}"
            );
        }
        for title in [
            "### All models — eval_main",
            "### Table 1: main models — eval_main",
            "### Table 2: incremental learning — eval_chain",
            "### Table 3: data efficiency",
        ] {
            assert!(md.contains(title), "{title} missing");
        }
        for entry in std::fs::read_dir(&out).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                name == "report.md" || md.contains(&format!("]({name})")),
                "{name} not referenced"
            );
        }
        let referenced = md.matches("](").count();
        assert_eq!(referenced, 8);
        assert!(
            md.contains("](decomposition_decomp_fcl_map_ff_sa.png)"),
            "{md}"
        );
        assert!(
            md.contains("_ff+sa-CNN* (ff_sa): mean FCL contribution"),
            "{md}"
        );
        assert!(
            md.contains("rf+sa-CNN* (Incr.) 0.490 ~ rf-CNN 0.500: Δ −0.010 90% t [")
                && md
                    .contains("**inconclusive: PTJ/PTS resolution too coarse (k = 3 of 300 images"),
            "{md}"
        );
        assert!(
            md.contains("### Centre and surround in the FCL — decomp")
                && md.contains("| ff+sa-CNN* (ff_sa) | 4 | 0.800 | 75% (3 of 4) |"),
            "{md}"
        );
        assert!(md.contains("| rf+sa-CNN (rf_sa) | — | 0.1111 |"), "{md}");
        // The fixture models record no training, so every claim that involves them is
        // inconclusive rather than decided (issue 27: convergence fails closed): claim 4 of
        // eval_chain, claims 1 (missing rf+sa-CNN, but ff-CNN and ff+sa-CNN untrained), 2 and
        // 3 (also k = 3 of 300 images) of eval_main.
        assert_eq!(metrics["claims_measured"], json!(4));
        assert_eq!(metrics["claims_holding"], json!(0));
    }

    /// A probe stage's table and figure follow the decomposition (issue 19 item 4).
    #[test]
    fn report_shows_a_probe_table_and_its_figure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let probe = dir.path().join("probe");
        std::fs::create_dir_all(&probe).unwrap();
        let summary = crate::neuro::analysis::probe::files::fixtures::summary();
        summary.write(&probe).unwrap();
        crate::report::probe::tuning_figure(&summary, &probe.join(FIGURE_FILE), false).unwrap();
        let mut inputs = inputs(dir.path());
        inputs.insert("probe/probe".to_string(), probe.clone());
        let metrics = run(&params(json!(["summary"])), &inputs, &out).unwrap();
        assert_eq!(metrics["figures"], json!(9), "8 as before + the probe's");
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        let section = &md[md.find("## In-silico probe").expect("a probe section")..];
        assert!(
            section.contains(
                "### In-silico probe: orientation tuning and surround suppression — probe"
            ) && section.contains("| ff+sa-CNN* (ff_sa) | 0.500 | 0.400 | 0.200 | 2 of 2 | 7.5 |")
                && section.contains("](probe_probe_orientation_tuning.png)"),
            "{section}"
        );
        assert!(out.join("probe_probe_orientation_tuning.png").is_file());
        std::fs::write(probe.join("summary.json"), "{}").unwrap();
        let err = run(&params(json!([])), &inputs, &out)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("input 'probe' (stage 'probe')") && err.contains("not a probe stage's"),
            "{err}"
        );
    }

    #[test]
    fn the_struct_and_stages_report_yaml_agree() {
        crate::stages::params::drift::<ReportParams>("report", &[]);
        // `tables` is a list, so the definition declares no choices: its default lists
        // every table, in order.
        let (defaults, _) = params_from_definition("report.yaml", json!({}));
        let defaults: Params = defaults.as_object().unwrap().clone().into_iter().collect();
        let read = with_params("report", &defaults, read_stage::<ReportParams>);
        assert_eq!(read.unwrap().tables, TableKind::ALL);
    }

    #[test]
    fn tables_param_and_missing_inputs_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = inputs(dir.path());
        let err = run(&params(json!(["table4"])), &inputs, dir.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "stage 'report': parameter 'tables': unknown value 'table4' (valid: summary, \
             table1, table2, table3)"
        );
        let err = run(&params(json!("table1")), &inputs, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stage 'report': parameter 'tables': invalid type: string \"table1\""),
            "{err}"
        );
        let only_curves: BTreeMap<_, _> = inputs
            .into_iter()
            .filter(|(k, _)| k.starts_with("curves"))
            .collect();
        let err = run(&params(json!([])), &only_curves, dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("'metrics' is bound to no stage"), "{err}");
    }

    #[test]
    fn stage_definition_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut kinds = crate::kind::KindRegistry::default();
        kinds.register(Box::new(Report));
        let file = root.join("stages/report.yaml");
        let def = crate::spec::definition::Definition::load(&file, root, &kinds).unwrap();
        assert!(def.inputs["curves"].many && def.inputs["curves"].optional);
    }
}
