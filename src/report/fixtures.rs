//! Test fixtures: evaluations with chosen summary numbers, and a real one computed from
//! synthetic responses (for figures).

use crate::neuro::array::ArrayF32;
use crate::neuro::scoring::evaluation::{
    Evaluation, ModelEvaluation, ModelInfo, ModelSummary, NeuronMetrics, SCHEMA, Split, SplitData,
    evaluate,
};
use crate::neuro::scoring::metrics::Summary;

fn summary(mean: Option<f64>) -> Summary {
    Summary {
        mean,
        median: mean,
        defined: 1,
        undefined: 0,
    }
}

/// Zero-mean pseudo-noise of amplitude about 0.5 for neuron `j` of model `stage`, so paired
/// comparisons between fixture models see neuron-to-neuron variation.
fn jitter(stage: &str, j: usize) -> f64 {
    let raw = |j: usize| {
        let h = stage.bytes().fold(j as u64 * 7919, |h, b| {
            h.wrapping_mul(31).wrapping_add(u64::from(b))
        });
        (h % 1000) as f64 / 1000.0 - 0.5
    };
    let mean = (0..FIXTURE_NEURONS).map(raw).sum::<f64>() / FIXTURE_NEURONS as f64;
    raw(j) - mean
}

/// Neurons of the fixture models.
pub const FIXTURE_NEURONS: usize = 8;

/// A model whose site means are (corr, ptj %, pts %), with [`FIXTURE_NEURONS`] neurons
/// scattered around them (CORR by ±0.05, PTJ/PTS by ±2 points).
pub fn model(
    stage: &str,
    id: &str,
    incremental: bool,
    fraction: f64,
    values: [f64; 3],
) -> ModelEvaluation {
    let [corr, ptj, pts] = values;
    ModelEvaluation {
        model: ModelInfo {
            stage: stage.into(),
            model: id.into(),
            label: format!("{id}{}", if incremental { " (Incr.)" } else { "" }),
            trainable_params: Some(1000),
            fraction,
            incremental,
            init: None,
            frozen: Vec::new(),
            convergence: None,
            recipe: None,
        },
        summary: ModelSummary {
            corr: summary(Some(corr)),
            ptj_percent: summary(Some(ptj)),
            pts_percent: summary(Some(pts)),
            feve: summary(None),
            corr_noise_free: summary(None),
            corr_ratio_to_baseline: None,
        },
        neurons: (0..FIXTURE_NEURONS)
            .map(|j| NeuronMetrics {
                neuron: j,
                corr: Some(corr + 0.1 * jitter(stage, j)),
                ptj: Some((ptj + 4.0 * jitter(stage, j)) / 100.0),
                pts: Some((pts + 4.0 * jitter(stage, j)) / 100.0),
                feve: None,
                offset: None,
                corr_noise_free: None,
                undefined: Default::default(),
            })
            .collect(),
        population_tuning: None,
        examples: Vec::new(),
    }
}

pub fn evaluation(models: Vec<ModelEvaluation>) -> Evaluation {
    Evaluation {
        schema: SCHEMA,
        split: Split::Test,
        images: 500,
        neurons: FIXTURE_NEURONS,
        k: 5,
        baseline: None,
        noise: None,
        noise_ceiling: None,
        example_neurons: Vec::new(),
        models,
    }
}

/// Heavy-tailed responses of 300 images x 5 neurons, and three models predicting them with
/// decreasing fidelity, evaluated for real.
pub fn computed() -> Evaluation {
    let (images, neurons) = (300usize, 5usize);
    let value = |i: usize, j: usize| {
        let x = ((i * 7919 + j * 104729) % 1000) as f32 / 1000.0;
        x.powi(6) * (1.0 + j as f32)
    };
    let data = (0..images).flat_map(|i| (0..neurons).map(move |j| value(i, j)));
    let recorded = ArrayF32::new(vec![images, neurons], data.collect());
    let blur = |amount: f32| {
        let mut p = recorded.clone();
        let wobble = |k: usize| ((k * 37) % 17) as f32 / 17.0;
        p.data
            .iter_mut()
            .enumerate()
            .for_each(|(k, v)| *v = *v * (1.0 - amount) + amount * wobble(k));
        p
    };
    let info = |stage: &str, model: &str, label: &str| {
        let value = serde_json::json!({"model": model, "label": label, "trainable_params": 46017});
        ModelInfo::from_info(
            stage,
            serde_json::from_value(value).expect("valid info"),
            1.0,
        )
    };
    let models = vec![
        (info("ff_cnn", "ff-cnn", "ff-CNN"), blur(0.3)),
        (info("ff_sa_cnn", "ff-sa-cnn", "ff+sa-CNN"), blur(0.15)),
        (info("rf_cnn", "rf-cnn", "rf-CNN"), blur(0.5)),
    ];
    let data = SplitData {
        split: Split::Test,
        responses: &recorded,
        repeats: None,
        noise_free: None,
    };
    evaluate(&data, models, "ff_cnn").expect("consistent fixture")
}
