//! The `evaluate` stage kind: reads a prepared dataset and the predictions of every bound
//! train stage, computes the metrics of models.md §6 with [`crate::neuro::scoring::evaluation`], and
//! writes them as JSON (`metrics`) and as a per-neuron CSV (`table`).
//!
//! Each `predictions` input is a directory in the format of
//! [`crate::neuro::train::predictions`]: `test.npy` and `val.npy` (f32 [images, neurons]) and
//! `info.json`, which says what the model is and whether it was trained incrementally.
//!
//! Its parameters are read once into [`EvaluateParams`] (the test below keeps the struct and
//! `stages/evaluate.yaml` in step).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::scoring::evaluation::{Evaluation, ModelInfo, Split, SplitData, evaluate};
use crate::neuro::scoring::evaluation_file;
use crate::neuro::train::predictions::{self, PredictedSplit};
use crate::report::seeds::{self, Spread};
use crate::reproducibility::compared::NEURON_CORR;

pub struct Evaluate;

/// An `evaluate` stage's parameters, as declared in `stages/evaluate.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateParams {
    /// Stage name or label of the model CORR ratios are computed against ("" = none).
    pub baseline: String,
    /// Evaluate on the validation split, as the reference implementation does.
    pub reference_protocol: bool,
}

impl EvaluateParams {
    /// The split evaluated.
    pub fn split(&self) -> Split {
        match self.reference_protocol {
            true => Split::Validation,
            false => Split::Test,
        }
    }
}

impl StageKind for Evaluate {
    fn name(&self) -> &'static str {
        "evaluate"
    }

    /// 2: models carry the typed `init`/`frozen` of `info.json` (evaluation schema 2) and are
    /// incremental only when `info.json` says so.
    /// 3: each neuron's level offset (`offset` column; `{stage}.max_abs_offset`).
    ///    Also, the metrics carry each model's per-neuron CORR (`{stage}.neuron_corr`), compared
    /// across reproducibility classes; a cached record of version 2 lacks it.
    fn version(&self) -> u32 {
        3
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let params: EvaluateParams = super::params::read_stage(ctx)?;
        let prepared_dir = ctx.input("prepared")?;
        let prepared = PreparedDataset::read(prepared_dir).map_err(|e| {
            KindError::Invalid(format!("stage '{}': input 'prepared': {e}", ctx.stage))
        })?;
        let split = params.split();
        let models = read_predictions(ctx, split, prepared.meta.fraction)?;
        let data = split_data(&prepared, split);
        let evaluation = evaluate(&data, models, &params.baseline).map_err(|e| {
            KindError::Invalid(format!("stage '{}': {e} (parameter 'baseline')", ctx.stage))
        })?;
        write_outputs(ctx, &evaluation)?;
        ctx.log(&format!("evaluated {} models", evaluation.models.len()))?;
        Ok(returned_metrics(&evaluation))
    }
}

fn split_data(prepared: &PreparedDataset, split: Split) -> SplitData<'_> {
    match split {
        Split::Validation => SplitData {
            split,
            responses: &prepared.val_responses,
            repeats: None,
            noise_free: None,
        },
        Split::Test => SplitData {
            split,
            responses: &prepared.test_responses,
            repeats: prepared.test_repeats.as_ref(),
            noise_free: prepared.truth.as_ref().map(|t| &t.noise_free),
        },
    }
}

/// Reads every bound `predictions` directory: its `info.json` and the split's array.
fn read_predictions(
    ctx: &StageContext,
    split: Split,
    dataset_fraction: f64,
) -> Result<Vec<(ModelInfo, ArrayF32)>, KindError> {
    let bound = ctx.inputs_many("predictions");
    if bound.is_empty() {
        return Err(KindError::Invalid(format!(
            "stage '{}': input 'predictions' is bound to no stage: list train stages in `needs`",
            ctx.stage
        )));
    }
    let split = match split {
        Split::Test => PredictedSplit::Test,
        Split::Validation => PredictedSplit::Validation,
    };
    let mut models = Vec::with_capacity(bound.len());
    for (i, (upstream, dir)) in bound.iter().enumerate() {
        (ctx.progress)(i as u64, bound.len() as u64, &format!("reading {upstream}"));
        let (info, predicted) = predictions::read(dir, split).map_err(|e| {
            KindError::Invalid(format!(
                "stage '{}': predictions of '{upstream}': {e}",
                ctx.stage
            ))
        })?;
        models.push((
            ModelInfo::from_info(upstream, info, dataset_fraction),
            predicted,
        ));
    }
    Ok(models)
}

fn write_outputs(ctx: &StageContext, evaluation: &Evaluation) -> Result<(), KindError> {
    evaluation_file::write(ctx.output(evaluation_file::OUTPUT)?, evaluation)
        .map_err(|e| KindError::Failed(format!("stage '{}': {e}", ctx.stage)))?;
    let table_path = ctx.output("table")?;
    std::fs::write(table_path, per_neuron_csv(evaluation))
        .map_err(KindError::io(format!("writing {}", table_path.display())))
}

pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv_number(value: Option<f64>) -> String {
    value.map(|v| format!("{v}")).unwrap_or_default()
}

/// One row per (model, neuron); an undefined metric is an empty field, explained in the
/// `undefined` column.
pub fn per_neuron_csv(evaluation: &Evaluation) -> String {
    let mut out = String::from(
        "stage,model,label,neuron,corr,ptj,pts,feve,offset,corr_noise_free,noise_ceiling,undefined\n",
    );
    for m in &evaluation.models {
        for n in &m.neurons {
            let ceiling = evaluation
                .noise
                .as_ref()
                .and_then(|v| v[n.neuron].noise_ceiling);
            let undefined: Vec<String> = n
                .undefined
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let fields = [
                csv_field(&m.model.stage),
                csv_field(&m.model.model),
                csv_field(&m.model.label),
                n.neuron.to_string(),
                csv_number(n.corr),
                csv_number(n.ptj),
                csv_number(n.pts),
                csv_number(n.feve),
                csv_number(n.offset),
                csv_number(n.corr_noise_free),
                csv_number(ceiling),
                csv_field(&undefined.join("; ")),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

/// Per model (keyed by its stage): mean CORR, PTJ %, PTS %, FEVE, the largest level offset
/// of a neuron (in recorded s.d.), each neuron's CORR (compared across reproducibility classes,
/// [`NEURON_CORR`]), and the CORR ratio to the baseline when one is named; per model trained
/// with several seeds (keyed by its stage
/// without the seed, see [`seed_metrics`]), their mean and s.d. across seeds.
fn returned_metrics(evaluation: &Evaluation) -> Metrics {
    let mut metrics = Metrics::new();
    for m in &evaluation.models {
        let s = &m.summary;
        let stage = &m.model.stage;
        metrics.insert(format!("{stage}.corr"), json!(s.corr.mean));
        metrics.insert(format!("{stage}.ptj_percent"), json!(s.ptj_percent.mean));
        metrics.insert(format!("{stage}.pts_percent"), json!(s.pts_percent.mean));
        metrics.insert(format!("{stage}.feve"), json!(s.feve.mean));
        // The largest level offset of any neuron (issue 29's target: below 1 s.d.).
        let offsets = m.neurons.iter().filter_map(|n| n.offset.map(f64::abs));
        metrics.insert(
            format!("{stage}.max_abs_offset"),
            json!(offsets.reduce(f64::max)),
        );
        let corr: Vec<Option<f64>> = m.neurons.iter().map(|n| n.corr).collect();
        metrics.insert(format!("{stage}.{NEURON_CORR}"), json!(corr));
        if evaluation.baseline.is_some() {
            metrics.insert(
                format!("{stage}.corr_ratio"),
                json!(s.corr_ratio_to_baseline),
            );
        }
    }
    seed_metrics(evaluation, &mut metrics);
    if let Some(ceiling) = &evaluation.noise_ceiling {
        metrics.insert("noise_ceiling".into(), json!(ceiling.mean));
    }
    metrics
}

/// For each model evaluated with several seeds: `{stage}.seeds` and, for CORR, PTJ %, PTS %
/// and FEVE, `{stage}.{metric}_mean` and `{stage}.{metric}_sd` across its seeds, `{stage}`
/// being its stage without the seed (`train@ff-cnn` for `train@ff-cnn,seed2`).
fn seed_metrics(evaluation: &Evaluation, metrics: &mut Metrics) {
    type Of = fn(&crate::neuro::scoring::evaluation::ModelEvaluation) -> Option<f64>;
    let all: [(&str, Of); 4] = [
        ("corr", |m| m.summary.corr.mean),
        ("ptj_percent", |m| m.summary.ptj_percent.mean),
        ("pts_percent", |m| m.summary.pts_percent.mean),
        ("feve", |m| m.summary.feve.mean),
    ];
    for g in seeds::group(&evaluation.models) {
        if g.members.len() < 2 {
            continue;
        }
        let base = &g.base;
        metrics.insert(format!("{base}.seeds"), json!(g.members.len()));
        for (name, of) in all {
            let Spread { mean, sd, .. } = g.spread(of);
            metrics.insert(format!("{base}.{name}_mean"), json!(mean));
            metrics.insert(format!("{base}.{name}_sd"), json!(sd));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::kind::{DeviceClass, Params};
    use crate::neuro::data::dataset::PreparedMeta;
    use crate::stages::fixtures::with_params;
    use crate::stages::params::read_stage;

    const IMAGES: usize = 150;
    const NEURONS: usize = 3;

    fn responses(offset: usize) -> ArrayF32 {
        let data = (0..IMAGES * NEURONS).map(|i| ((i * 31 + offset) % 101) as f32 / 10.0);
        ArrayF32::new(vec![IMAGES, NEURONS], data.collect())
    }

    fn write_prepared(dir: &Path) -> ArrayF32 {
        std::fs::create_dir_all(dir).unwrap();
        let test = responses(0);
        let mut repeat = test.data.clone();
        repeat
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v += (i % 5) as f32 * 0.1 - 0.2);
        let mut trials = test.data.clone();
        trials.extend(repeat);
        PreparedDataset {
            train_images: ArrayF32::zeros(vec![4, 2, 2]),
            train_responses: ArrayF32::zeros(vec![4, NEURONS]),
            val_images: ArrayF32::zeros(vec![IMAGES, 2, 2]),
            val_responses: responses(7),
            test_images: ArrayF32::zeros(vec![IMAGES, 2, 2]),
            test_responses: test.clone(),
            test_repeats: Some(ArrayF32::new(vec![2, IMAGES, NEURONS], trials)),
            truth: None,
            meta: PreparedMeta {
                neurons: NEURONS,
                size: 2,
                source: "synthetic-v1".into(),
                norm_mean: 0.0,
                norm_std: 1.0,
                fraction: 1.0,
            },
        }
        .write(dir)
        .unwrap();
        test
    }

    fn write_predictions(dir: &Path, info: serde_json::Value, test: &ArrayF32, val: &ArrayF32) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("info.json"), info.to_string()).unwrap();
        test.write_npy(&dir.join("test.npy")).unwrap();
        val.write_npy(&dir.join("val.npy")).unwrap();
    }

    fn run(
        params: Params,
        inputs: BTreeMap<String, PathBuf>,
        out: &Path,
    ) -> Result<Metrics, KindError> {
        let outputs = BTreeMap::from([
            ("metrics".to_string(), out.join("metrics.json")),
            ("table".to_string(), out.join("table.csv")),
        ]);
        let ctx = StageContext {
            stage: "eval",
            params: &params,
            inputs: &inputs,
            outputs: &outputs,
            workdir: out.to_owned(),
            log_path: out.join("log"),
            device: DeviceClass::Cpu,
            deterministic: true,
            progress: &|_, _, _| {},
            numerics: &|_| {},
        };
        Evaluate.run(&ctx)
    }

    fn params(baseline: &str, reference: bool) -> Params {
        Params::from([
            ("baseline".to_string(), json!(baseline)),
            ("reference_protocol".to_string(), json!(reference)),
        ])
    }

    #[test]
    fn the_struct_and_stages_evaluate_yaml_agree() {
        crate::stages::params::drift::<EvaluateParams>("evaluate", &[]);
    }

    #[test]
    fn parameters_are_read_once_and_named_when_wrong() {
        let read = |p: &Params| with_params("eval", p, read_stage::<EvaluateParams>);
        let p = read(&params("m", true)).unwrap();
        assert_eq!((p.baseline.as_str(), p.split()), ("m", Split::Validation));
        let mut wrong = params("", false);
        wrong.insert("reference_protocol".into(), json!("yes"));
        wrong.insert("split".into(), json!("test"));
        let err = read(&wrong).unwrap_err().to_string();
        assert!(
            err.contains("stage 'eval'") && err.contains("'reference_protocol'"),
            "{err}"
        );
        wrong.insert("reference_protocol".into(), json!(true));
        let err = read(&wrong).unwrap_err().to_string();
        assert!(
            err.contains("stage 'eval'")
                && err.contains("unknown field `split`")
                && err.contains("`baseline`"),
            "{err}"
        );
    }

    #[test]
    fn evaluates_bound_predictions_into_json_csv_and_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let test = write_prepared(&dir.path().join("prep"));
        let val = responses(7);
        let mut worse = test.clone();
        worse.data.iter_mut().step_by(4).for_each(|v| *v = 0.0);
        let ff = json!({"model": "ff-cnn", "label": "ff-CNN", "trainable_params": 46017});
        let rf = json!({"model": "rf-cnn", "label": "rf, \"CNN\"", "trainable_params": 28865});
        write_predictions(&dir.path().join("ff"), ff, &worse, &val);
        write_predictions(&dir.path().join("rf"), rf, &test, &val);
        let inputs = BTreeMap::from([
            ("prepared".to_string(), dir.path().join("prep")),
            ("predictions/ff_cnn".to_string(), dir.path().join("ff")),
            ("predictions/rf_cnn".to_string(), dir.path().join("rf")),
        ]);
        let metrics = run(params("ff_cnn", false), inputs.clone(), dir.path()).unwrap();
        assert!((metrics["rf_cnn.corr"].as_f64().unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(metrics["rf_cnn.ptj_percent"], json!(100.0));
        assert!(metrics["rf_cnn.corr_ratio"].as_f64().unwrap() > 1.0);
        assert!(metrics["noise_ceiling"].as_f64().unwrap() > 0.9);
        let text = std::fs::read_to_string(dir.path().join("metrics.json")).unwrap();
        let eval: Evaluation = serde_json::from_str(&text).unwrap();
        assert_eq!((eval.split, eval.models.len()), (Split::Test, 2));
        assert_eq!(eval.models[1].model.trainable_params, Some(28865));
        let csv = std::fs::read_to_string(dir.path().join("table.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + 2 * NEURONS);
        assert!(
            csv.contains("\nrf_cnn,rf-cnn,\"rf, \"\"CNN\"\"\",0,"),
            "{csv}"
        );
        // The reference protocol reads val.npy against the validation responses.
        let metrics = run(params("", true), inputs, dir.path()).unwrap();
        assert!((metrics["ff_cnn.corr"].as_f64().unwrap() - 1.0).abs() < 1e-12);
        assert!(
            !metrics.contains_key("ff_cnn.corr_ratio") && !metrics.contains_key("noise_ceiling")
        );
    }

    #[test]
    fn errors_name_the_input_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let test = write_prepared(&dir.path().join("prep"));
        write_predictions(&dir.path().join("p"), json!({"label": "x"}), &test, &test);
        let mut inputs = BTreeMap::from([("prepared".to_string(), dir.path().join("prep"))]);
        let err = run(params("", false), inputs.clone(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("'predictions' is bound to no stage"), "{err}");
        inputs.insert("predictions/m".into(), dir.path().join("p"));
        let err = run(params("", false), inputs.clone(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("info.json") && err.contains("missing field `model`"),
            "{err}"
        );
        let info = json!({"model": "rf-cnn"});
        write_predictions(
            &dir.path().join("p"),
            info,
            &ArrayF32::zeros(vec![3, NEURONS]),
            &test,
        );
        let err = run(params("", false), inputs.clone(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("stage 'm'") && err.contains("[3, 3]"), "{err}");
        let err = run(params("nope", false), inputs, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("baseline 'nope'") && err.contains("valid: m (rf-cnn, rf-cnn)"),
            "{err}"
        );
    }

    /// Missing responses (NaN) and their all-NaN repeats are skipped: a prediction that is
    /// right wherever the neuron was recorded and wild where it was not scores perfectly.
    #[test]
    fn missing_responses_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let test = write_prepared(&dir.path().join("prep"));
        let mut prepared = PreparedDataset::read(&dir.path().join("prep")).unwrap();
        let mut wild = test.clone();
        for i in 0..20 {
            let at = i * NEURONS;
            prepared.test_responses.data[at] = f32::NAN;
            let repeats = prepared.test_repeats.as_mut().unwrap();
            repeats.data[at] = f32::NAN;
            repeats.data[IMAGES * NEURONS + at] = f32::NAN;
            wild.data[at] = 1e6 * (i % 3) as f32;
        }
        prepared.write(&dir.path().join("prep")).unwrap();
        let info = json!({"model": "rf-cnn", "label": "rf"});
        write_predictions(&dir.path().join("m"), info, &wild, &responses(7));
        let inputs = BTreeMap::from([
            ("prepared".to_string(), dir.path().join("prep")),
            ("predictions/m".to_string(), dir.path().join("m")),
        ]);
        let metrics = run(params("", false), inputs, dir.path()).unwrap();
        assert!(
            (metrics["m.corr"].as_f64().unwrap() - 1.0).abs() < 1e-12,
            "{metrics:?}"
        );
        assert_eq!(metrics["m.ptj_percent"], json!(100.0));
        let text = std::fs::read_to_string(dir.path().join("metrics.json")).unwrap();
        let eval: Evaluation = serde_json::from_str(&text).unwrap();
        let first = &eval.models[0].neurons[0];
        assert!(
            first.feve.is_some() && first.undefined.is_empty(),
            "{first:?}"
        );
        assert_eq!(
            eval.models[0]
                .population_tuning
                .as_ref()
                .unwrap()
                .recorded
                .len(),
            IMAGES
        );
    }

    #[test]
    fn stage_definition_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut kinds = crate::kind::KindRegistry::default();
        kinds.register(Box::new(Evaluate));
        let file = root.join("stages/evaluate.yaml");
        let def = crate::spec::definition::Definition::load(&file, root, &kinds).unwrap();
        assert!(def.inputs["predictions"].many && !def.inputs["prepared"].many);
    }
}
