//! Evaluation of several models on one split of a prepared dataset: per-neuron metrics,
//! site summaries, tuning curves and the noise ceiling. [`Evaluation`] is the evaluation
//! results file the `evaluate` stage writes as JSON and the `report` stage reads
//! (`evaluation_file`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::neuro::array::ArrayF32;
use crate::neuro::scoring::convergence::{self, Convergence};
use crate::neuro::scoring::metrics::{
    MetricError, Summary, TuningCurve, level_offset, peak_k, peak_tuning, pearson, percent,
    population_tuning_curve, ratio, summarize, tuning_curve,
};
use crate::neuro::scoring::noise::NoiseEstimate;
use crate::neuro::train::predictions::{InitProvenance, PredictionInfo, Recipe};

/// Version of the JSON layout of [`Evaluation`]. 2: models carry `init` and `frozen`, not
/// the raw `info.json`.
pub const SCHEMA: u32 = 2;

/// How many example neurons get their full tuning curve stored.
pub const EXAMPLE_NEURONS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    #[error("predictions of stage '{stage}': expected shape {expected:?}, found {found:?}")]
    Shape {
        stage: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("test repeats: expected shape [R, {images}, {neurons}], found {found:?}")]
    RepeatsShape {
        images: usize,
        neurons: usize,
        found: Vec<usize>,
    },
    #[error("baseline '{name}' names no evaluated model; valid: {valid}")]
    UnknownBaseline { name: String, valid: String },
    #[error("baseline '{name}' is ambiguous: it matches stages {matches}; name the stage")]
    AmbiguousBaseline { name: String, matches: String },
}

/// Which split the metrics were computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The held-out test split (our default).
    Test,
    /// The validation split used for model selection (the reference protocol).
    Validation,
}

/// The model behind a set of predictions, from its train stage's `info.json`
/// ([`PredictionInfo`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The upstream stage that produced the predictions.
    pub stage: String,
    /// Architecture id, e.g. `rf-sa-cnn-star`.
    pub model: String,
    /// Display label, e.g. `rf+sa-CNN* (Incr.)`.
    pub label: String,
    pub trainable_params: Option<u64>,
    /// Fraction of the training set the model saw.
    pub fraction: f64,
    /// Trained incrementally (from an upstream checkpoint's blocks), as `info.json` says.
    pub incremental: bool,
    /// The upstream stage and blocks an incremental step started from.
    pub init: Option<InitProvenance>,
    /// Blocks held frozen while training.
    pub frozen: Vec<String>,
    /// Whether training had converged, where `info.json` records it.
    pub convergence: Option<Convergence>,
    /// How it was trained, where `info.json` records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<Recipe>,
}

impl ModelInfo {
    /// The model of `info` as evaluated from stage `stage`: `label` defaults to the model id,
    /// `fraction` to the evaluated dataset's.
    pub fn from_info(stage: &str, info: PredictionInfo, dataset_fraction: f64) -> Self {
        let convergence = convergence::of(&info);
        Self {
            stage: stage.to_owned(),
            label: info.label.unwrap_or_else(|| info.model.clone()),
            model: info.model,
            trainable_params: info.trainable_params,
            fraction: info.fraction.unwrap_or(dataset_fraction),
            incremental: info.incremental,
            init: info.init,
            frozen: info.frozen,
            convergence,
            recipe: info.recipe,
        }
    }
}

/// One neuron's metrics for one model; `undefined` says why a missing one is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronMetrics {
    pub neuron: usize,
    pub corr: Option<f64>,
    pub ptj: Option<f64>,
    pub pts: Option<f64>,
    pub feve: Option<f64>,
    /// Mean prediction minus mean recorded response, in recorded s.d. ([`level_offset`]);
    /// absent in evaluations written before it was measured.
    #[serde(default)]
    pub offset: Option<f64>,
    /// CORR against the simulated noise-free response (simulated data, test split only).
    pub corr_noise_free: Option<f64>,
    pub undefined: BTreeMap<String, String>,
}

/// Site summaries of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub corr: Summary,
    pub ptj_percent: Summary,
    pub pts_percent: Summary,
    pub feve: Summary,
    pub corr_noise_free: Summary,
    /// Mean CORR divided by the baseline model's mean CORR.
    pub corr_ratio_to_baseline: Option<f64>,
}

/// A stored per-neuron tuning curve (for the example figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleCurve {
    pub neuron: usize,
    pub curve: TuningCurve,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEvaluation {
    #[serde(flatten)]
    pub model: ModelInfo,
    pub summary: ModelSummary,
    pub neurons: Vec<NeuronMetrics>,
    pub population_tuning: Option<TuningCurve>,
    pub examples: Vec<ExampleCurve>,
}

/// The noise ceiling of one neuron (needs test repeats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronNoise {
    pub neuron: usize,
    pub noise_ceiling: Option<f64>,
    pub explainable_fraction: Option<f64>,
    pub undefined: Option<String>,
}

/// The `metrics` artifact of an `evaluate` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub schema: u32,
    pub split: Split,
    pub images: usize,
    pub neurons: usize,
    /// k of peak tuning for this image count.
    pub k: usize,
    /// Stage name of the baseline model of `corr_ratio_to_baseline`.
    pub baseline: Option<String>,
    /// Per-neuron noise ceiling; absent without test repeats.
    pub noise: Option<Vec<NeuronNoise>>,
    pub noise_ceiling: Option<Summary>,
    pub example_neurons: Vec<usize>,
    pub models: Vec<ModelEvaluation>,
}

/// The recorded side of a split: responses [images, neurons], and on the test split the
/// optional repeats [R, images, neurons] and simulated noise-free responses.
pub struct SplitData<'a> {
    pub split: Split,
    pub responses: &'a ArrayF32,
    pub repeats: Option<&'a ArrayF32>,
    pub noise_free: Option<&'a ArrayF32>,
}

fn defined<T>(
    result: Result<T, MetricError>,
    name: &str,
    undefined: &mut BTreeMap<String, String>,
) -> Option<T> {
    result
        .map_err(|e| undefined.insert(name.to_owned(), e.to_string()))
        .ok()
}

/// Estimates each neuron's noise from the repeats (`None` for a neuron: undefined there).
fn noise_estimates(
    repeats: &ArrayF32,
    images: usize,
    neurons: usize,
) -> Result<Vec<Result<NoiseEstimate, MetricError>>, EvaluationError> {
    if repeats.shape.len() != 3 || repeats.shape[1] != images || repeats.shape[2] != neurons {
        let found = repeats.shape.clone();
        return Err(EvaluationError::RepeatsShape {
            images,
            neurons,
            found,
        });
    }
    Ok((0..neurons)
        .map(|j| NoiseEstimate::from_trials(&repeats.column(j), images))
        .collect())
}

fn neuron_noise(estimates: &[Result<NoiseEstimate, MetricError>]) -> Vec<NeuronNoise> {
    let one = |(neuron, e): (usize, &Result<NoiseEstimate, MetricError>)| NeuronNoise {
        neuron,
        noise_ceiling: e.as_ref().ok().map(NoiseEstimate::noise_ceiling),
        explainable_fraction: e.as_ref().ok().map(NoiseEstimate::explainable_fraction),
        undefined: e.as_ref().err().map(ToString::to_string),
    };
    estimates.iter().enumerate().map(one).collect()
}

/// Neuron `j`'s recorded responses and predictions on the images where it was recorded
/// (a NaN response is a missing entry, skipped by every metric).
pub fn recorded_pairs(
    responses: &ArrayF32,
    predicted: &ArrayF32,
    j: usize,
) -> (Vec<f32>, Vec<f32>) {
    responses
        .column(j)
        .into_iter()
        .zip(predicted.column(j))
        .filter(|(r, _)| !r.is_nan())
        .unzip()
}

fn neuron_metrics(
    data: &SplitData,
    predicted: &ArrayF32,
    noise: Option<&Result<NoiseEstimate, MetricError>>,
    neuron: usize,
) -> NeuronMetrics {
    let (recorded, observed_prediction) = recorded_pairs(data.responses, predicted, neuron);
    let prediction = predicted.column(neuron);
    let mut undefined = BTreeMap::new();
    let corr = defined(
        pearson(&recorded, &observed_prediction),
        "corr",
        &mut undefined,
    );
    let peak = defined(
        peak_tuning(&recorded, &observed_prediction),
        "peak_tuning",
        &mut undefined,
    );
    let offset = defined(
        level_offset(&recorded, &observed_prediction),
        "offset",
        &mut undefined,
    );
    let feve = noise.and_then(|estimate| {
        let result = estimate.clone().and_then(|e| e.feve(&prediction));
        defined(result, "feve", &mut undefined)
    });
    let corr_noise_free = data.noise_free.and_then(|truth| {
        defined(
            pearson(&truth.column(neuron), &prediction),
            "corr_noise_free",
            &mut undefined,
        )
    });
    NeuronMetrics {
        neuron,
        corr,
        ptj: peak.map(|p| p.ptj),
        pts: peak.map(|p| p.pts),
        feve,
        offset,
        corr_noise_free,
        undefined,
    }
}

fn summarize_model(neurons: &[NeuronMetrics]) -> ModelSummary {
    let over = |f: fn(&NeuronMetrics) -> Option<f64>| {
        summarize(&neurons.iter().map(f).collect::<Vec<_>>())
    };
    ModelSummary {
        corr: over(|n| n.corr),
        ptj_percent: over(|n| percent(n.ptj)),
        pts_percent: over(|n| percent(n.pts)),
        feve: over(|n| n.feve),
        corr_noise_free: over(|n| n.corr_noise_free),
        corr_ratio_to_baseline: None,
    }
}

fn evaluate_model(
    data: &SplitData,
    model: ModelInfo,
    predicted: &ArrayF32,
    noise: Option<&[Result<NoiseEstimate, MetricError>]>,
) -> Result<ModelEvaluation, EvaluationError> {
    if predicted.shape != data.responses.shape {
        return Err(EvaluationError::Shape {
            stage: model.stage.clone(),
            expected: data.responses.shape.clone(),
            found: predicted.shape.clone(),
        });
    }
    let neurons: Vec<NeuronMetrics> = (0..data.responses.shape[1])
        .map(|j| neuron_metrics(data, predicted, noise.map(|n| &n[j]), j))
        .collect();
    // Neurons with a missing response are left out: every neuron of the curve ranks the same
    // images.
    let columns: Vec<(Vec<f32>, Vec<f32>)> = (0..data.responses.shape[1])
        .map(|j| recorded_pairs(data.responses, predicted, j))
        .filter(|(r, _)| r.len() == data.responses.shape[0])
        .collect();
    let pairs: Vec<(&[f32], &[f32])> = columns
        .iter()
        .map(|(r, p)| (r.as_slice(), p.as_slice()))
        .collect();
    let population_tuning = population_tuning_curve(&pairs).ok();
    Ok(ModelEvaluation {
        model,
        summary: summarize_model(&neurons),
        neurons,
        population_tuning,
        examples: Vec::new(),
    })
}

/// Resolves a baseline name to a model index: a stage name first, then a unique label, then
/// a unique architecture id. "" means no baseline.
pub fn resolve_baseline(
    models: &[ModelInfo],
    name: &str,
) -> Result<Option<usize>, EvaluationError> {
    if name.is_empty() {
        return Ok(None);
    }
    let fields: [fn(&ModelInfo) -> &str; 3] = [|m| &m.stage, |m| &m.label, |m| &m.model];
    for field in fields {
        let hits: Vec<usize> = (0..models.len())
            .filter(|&i| field(&models[i]) == name)
            .collect();
        match hits.len() {
            0 => continue,
            1 => return Ok(Some(hits[0])),
            _ => {
                let matches: Vec<&str> = hits.iter().map(|&i| models[i].stage.as_str()).collect();
                let matches = matches.join(", ");
                return Err(EvaluationError::AmbiguousBaseline {
                    name: name.into(),
                    matches,
                });
            }
        }
    }
    let valid: Vec<String> = models
        .iter()
        .map(|m| format!("{} ({}, {})", m.stage, m.label, m.model))
        .collect();
    Err(EvaluationError::UnknownBaseline {
        name: name.into(),
        valid: valid.join("; "),
    })
}

/// Neurons with the highest CORR averaged over models (undefined counts as -1).
fn pick_examples(models: &[ModelEvaluation], neurons: usize) -> Vec<usize> {
    let score = |j: usize| -> f64 {
        let sum: f64 = models
            .iter()
            .map(|m| m.neurons[j].corr.unwrap_or(-1.0))
            .sum();
        sum / models.len().max(1) as f64
    };
    let mut order: Vec<(usize, f64)> = (0..neurons).map(|j| (j, score(j))).collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    order
        .into_iter()
        .take(EXAMPLE_NEURONS)
        .map(|(j, _)| j)
        .collect()
}

/// Evaluates every model's predictions ([images, neurons], same as `data.responses`).
pub fn evaluate(
    data: &SplitData,
    models: Vec<(ModelInfo, ArrayF32)>,
    baseline: &str,
) -> Result<Evaluation, EvaluationError> {
    let [images, neurons] = [data.responses.shape[0], data.responses.shape[1]];
    let infos: Vec<ModelInfo> = models.iter().map(|(m, _)| m.clone()).collect();
    let baseline = resolve_baseline(&infos, baseline)?;
    let noise = data
        .repeats
        .map(|r| noise_estimates(r, images, neurons))
        .transpose()?;
    let mut evaluated = Vec::with_capacity(models.len());
    for (info, predicted) in &models {
        evaluated.push(evaluate_model(
            data,
            info.clone(),
            predicted,
            noise.as_deref(),
        )?);
    }
    let baseline_corr = baseline.and_then(|b| evaluated[b].summary.corr.mean);
    let example_neurons = pick_examples(&evaluated, neurons);
    for (m, (_, predicted)) in evaluated.iter_mut().zip(&models) {
        m.summary.corr_ratio_to_baseline = ratio(m.summary.corr.mean, baseline_corr);
        m.examples = example_neurons
            .iter()
            .filter_map(|&j| {
                let (recorded, prediction) = recorded_pairs(data.responses, predicted, j);
                let curve = tuning_curve(&recorded, &prediction);
                curve.ok().map(|curve| ExampleCurve { neuron: j, curve })
            })
            .collect();
    }
    let noise = noise.as_deref().map(neuron_noise);
    let noise_ceiling = noise
        .as_ref()
        .map(|n| summarize(&n.iter().map(|x| x.noise_ceiling).collect::<Vec<_>>()));
    Ok(Evaluation {
        schema: SCHEMA,
        split: data.split,
        images,
        neurons,
        k: peak_k(images),
        baseline: baseline.map(|b| infos[b].stage.clone()),
        noise,
        noise_ceiling,
        example_neurons,
        models: evaluated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(stage: &str, model: &str, label: &str) -> ModelInfo {
        let info = PredictionInfo {
            label: Some(label.into()),
            trainable_params: Some(10),
            ..written(model)
        };
        ModelInfo::from_info(stage, info, 1.0)
    }

    fn written(model: &str) -> PredictionInfo {
        serde_json::from_value(json!({ "model": model })).unwrap()
    }

    /// 200 images x 2 neurons; neuron j responds (i * (j + 1)) mod 97.
    fn responses() -> ArrayF32 {
        let data = (0..200).flat_map(|i| (0..2).map(move |j| ((i * (j + 1)) % 97) as f32));
        ArrayF32::new(vec![200, 2], data.collect())
    }

    #[test]
    fn info_fields_and_incremental_detection() {
        let m = ModelInfo::from_info("s", written("rf-cnn"), 0.5);
        assert_eq!(
            (m.label.as_str(), m.fraction, m.incremental),
            ("rf-cnn", 0.5, false)
        );
        // Incremental is what the file says, never guessed from a label or a freeze list.
        let labelled = PredictionInfo {
            label: Some("ff+sa-CNN* (Incr. FC2)".into()),
            fraction: Some(0.25),
            ..written("x")
        };
        let m = ModelInfo::from_info("s", labelled, 1.0);
        assert_eq!((m.fraction, m.incremental), (0.25, false));
        let stepped = PredictionInfo {
            incremental: true,
            init: Some(InitProvenance {
                from: "rf".into(),
                blocks: vec!["alpha".into()],
            }),
            ..written("rf-sa-cnn-star")
        };
        let m = ModelInfo::from_info("s", stepped, 1.0);
        assert!(m.incremental && m.init.unwrap().from == "rf");
    }

    #[test]
    fn evaluates_models_with_baseline_ratio_and_undefined_reasons() {
        let recorded = responses();
        let perfect = recorded.clone();
        let mut noisy = recorded.clone();
        noisy
            .data
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v += ((i * 37) % 11) as f32 * 4.0);
        let mut constant = recorded.clone();
        constant
            .data
            .iter_mut()
            .skip(1)
            .step_by(2)
            .for_each(|v| *v = 3.0);
        let data = SplitData {
            split: Split::Test,
            responses: &recorded,
            repeats: None,
            noise_free: None,
        };
        let models = vec![
            (info("a", "ff-cnn", "ff-CNN"), perfect),
            (info("b", "rf-cnn", "rf-CNN"), noisy),
            (info("c", "rf-cnn", "rf-CNN 2"), constant),
        ];
        let eval = evaluate(&data, models, "ff-CNN").unwrap();
        assert_eq!((eval.images, eval.neurons, eval.k), (200, 2, 2));
        assert_eq!(eval.baseline.as_deref(), Some("a"));
        let [a, b, c] = [&eval.models[0], &eval.models[1], &eval.models[2]];
        assert!((a.summary.corr.mean.unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(a.summary.ptj_percent.mean, Some(100.0));
        let rb = b.summary.corr_ratio_to_baseline.unwrap();
        assert!(rb < 1.0 && (rb - b.summary.corr.mean.unwrap()).abs() < 1e-9);
        assert_eq!(c.neurons[1].corr, None);
        assert!(c.neurons[1].undefined["corr"].contains("predictions are constant"));
        assert_eq!((c.summary.corr.defined, c.summary.corr.undefined), (1, 1));
        assert_eq!(a.examples.len(), 2);
        assert_eq!(a.population_tuning.as_ref().unwrap().recorded.len(), 200);
        assert!(eval.noise.is_none() && a.neurons[0].feve.is_none());
    }

    #[test]
    fn repeats_give_feve_and_noise_ceiling() {
        let recorded = responses();
        let mut trials = recorded.data.clone();
        trials.extend(
            recorded
                .data
                .iter()
                .enumerate()
                .map(|(i, v)| v + (i % 3) as f32 - 1.0),
        );
        let repeats = ArrayF32::new(vec![2, 200, 2], trials);
        let data = SplitData {
            split: Split::Test,
            responses: &recorded,
            repeats: Some(&repeats),
            noise_free: Some(&recorded),
        };
        let eval = evaluate(
            &data,
            vec![(info("a", "ff-cnn", "ff"), recorded.clone())],
            "",
        )
        .unwrap();
        let noise = eval.noise.as_ref().unwrap();
        assert!(
            noise
                .iter()
                .all(|n| n.noise_ceiling.unwrap() > 0.9 && n.noise_ceiling.unwrap() < 1.0)
        );
        assert!(
            eval.models[0]
                .neurons
                .iter()
                .all(|n| n.feve.is_some() && n.corr_noise_free == Some(1.0))
        );
        assert_eq!(eval.baseline, None);
        let bad = ArrayF32::zeros(vec![2, 199, 2]);
        let data = SplitData {
            repeats: Some(&bad),
            ..data
        };
        let err = evaluate(&data, vec![], "").unwrap_err();
        assert!(err.to_string().contains("[R, 200, 2]"), "{err}");
    }

    #[test]
    fn shape_mismatch_and_baseline_errors_name_the_stage() {
        let recorded = responses();
        let data = SplitData {
            split: Split::Validation,
            responses: &recorded,
            repeats: None,
            noise_free: None,
        };
        let short = ArrayF32::zeros(vec![199, 2]);
        let err = evaluate(&data, vec![(info("rf_cnn", "rf-cnn", "rf"), short)], "").unwrap_err();
        assert!(err.to_string().contains("stage 'rf_cnn'") && err.to_string().contains("[199, 2]"));
        let infos = [info("x", "rf-cnn", "rf"), info("y", "rf-cnn", "rf")];
        assert_eq!(resolve_baseline(&infos, "x").unwrap(), Some(0));
        assert!(matches!(
            resolve_baseline(&infos, "rf"),
            Err(EvaluationError::AmbiguousBaseline { .. })
        ));
        let err = resolve_baseline(&infos, "ff").unwrap_err().to_string();
        assert!(err.contains("valid: x (rf, rf-cnn)"), "{err}");
    }
}
