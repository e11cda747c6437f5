//! Summary statistics of response datasets (simulated or imported): lifetime sparseness, how
//! often a neuron is near its peak, the noise ceiling (the one estimator of
//! [`crate::neuro::scoring::noise`], the same the `evaluate` stage reports), the noise ceiling a
//! known noise model implies (simulated data), and pooled response quantiles.
//!
//! All sums run in a fixed order in f64, so results do not depend on threads or machines.

use crate::neuro::data::raw::RawDataset;
use crate::neuro::scoring::noise::NoiseEstimate;
use crate::neuro::stats::{mean_of, mean_var, quantile, widen};

/// Vinje-Gallant lifetime sparseness of non-negative responses (negative values count as 0):
/// 0 for a neuron that responds equally to everything, 1 for one that responds to one image.
pub fn lifetime_sparseness(r: &[f64]) -> Option<f64> {
    let n = r.len() as f64;
    if r.len() < 2 {
        return None;
    }
    let s1 = r.iter().map(|v| v.max(0.0)).sum::<f64>() / n;
    let s2 = r.iter().map(|v| v.max(0.0).powi(2)).sum::<f64>() / n;
    if s2 <= 0.0 {
        return None;
    }
    Some((1.0 - s1 * s1 / s2) / (1.0 - 1.0 / n))
}

/// Fraction of images whose response exceeds half of the largest response.
pub fn fraction_above_half_peak(r: &[f64]) -> Option<f64> {
    let peak = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if r.is_empty() || peak <= 0.0 {
        return None;
    }
    Some(r.iter().filter(|&&v| v > 0.5 * peak).count() as f64 / r.len() as f64)
}

/// Noise ceiling from a known noise model: the correlation between the noise-free responses
/// and their average over `repeats` trials with per-image trial variances `noise_var`.
pub fn noise_ceiling_from_model(
    noise_free: &[f64],
    noise_var: &[f64],
    repeats: usize,
) -> Option<f64> {
    let (_, signal) = mean_var(noise_free);
    if signal <= 0.0 || repeats == 0 {
        return None;
    }
    let noise = noise_var.iter().sum::<f64>() / noise_var.len() as f64 / repeats as f64;
    Some((signal / (signal + noise)).sqrt())
}

/// The response quantiles reported in metrics, pooled over images and neurons.
pub const REPORTED_QUANTILES: [f64; 7] = [0.01, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999];

/// Pooled quantiles of all finite values, keyed like "q0.99".
pub fn pooled_quantiles(data: &[f32]) -> Vec<(String, f64)> {
    let v: Vec<f64> = data
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| x as f64)
        .collect();
    REPORTED_QUANTILES
        .iter()
        .map(|&q| (format!("q{q}"), quantile(&v, q)))
        .collect()
}

/// A JSON number, or null for a missing or non-finite value.
pub fn json_number(v: Option<f64>) -> serde_json::Value {
    v.filter(|x| x.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// Summary metrics of a raw dataset, with or without ground truth: per-neuron statistics of
/// the test responses (repeat means) averaged over neurons, the noise ceiling from repeats,
/// and pooled quantiles of the training responses.
pub fn dataset_metrics(raw: &RawDataset) -> serde_json::Map<String, serde_json::Value> {
    let k = raw.meta.neurons;
    let mut m = serde_json::Map::new();
    let count =
        |m: &mut serde_json::Map<String, serde_json::Value>, key: &str, v: Option<usize>| {
            m.insert(
                key.to_owned(),
                v.map_or(serde_json::Value::Null, serde_json::Value::from),
            );
        };
    count(&mut m, "images", Some(raw.meta.images));
    count(&mut m, "neurons", Some(k));
    count(&mut m, "train_images", Some(raw.split.train.len()));
    count(
        &mut m,
        "validation_images",
        raw.split.validation.as_ref().map(Vec::len),
    );
    count(&mut m, "test_images", Some(raw.split.test.len()));
    count(&mut m, "repeats", raw.meta.repeats);
    // The noise ceiling of each neuron with a defined one, by the evaluate stage's estimator.
    let ceilings: Option<Vec<Option<f64>>> = raw.test_repeats.as_ref().map(|rep| {
        (0..k)
            .map(|n| {
                NoiseEstimate::from_trials(&rep.column(n), rep.shape[1])
                    .ok()
                    .map(|e| e.noise_ceiling())
            })
            .collect()
    });
    if let (Some(rep), Some(ceilings)) = (&raw.test_repeats, &ceilings) {
        count(
            &mut m,
            "missing_trials",
            Some(rep.data.iter().filter(|v| v.is_nan()).count()),
        );
        count(
            &mut m,
            "noise_ceiling_neurons",
            Some(ceilings.iter().flatten().count()),
        );
    }
    let mut put = |key: &str, v: Option<f64>| {
        m.insert(key.to_owned(), json_number(v));
    };
    let test = raw.responses.select_rows(&raw.split.test);
    let cols: Vec<Vec<f64>> = (0..k).map(|n| widen(&test.column(n))).collect();
    put(
        "test_lifetime_sparseness",
        mean_of(cols.iter().map(|c| lifetime_sparseness(c))),
    );
    put(
        "test_fraction_above_half_peak",
        mean_of(cols.iter().map(|c| fraction_above_half_peak(c))),
    );
    if let Some(ceilings) = ceilings {
        put("noise_ceiling", mean_of(ceilings));
    }
    let train = raw.responses.select_rows(&raw.split.train);
    for (key, v) in pooled_quantiles(&train.data) {
        put(&format!("train_response_{key}"), Some(v));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparseness_and_peak_fraction_extremes() {
        assert!(lifetime_sparseness(&[1.0; 10]).unwrap().abs() < 1e-12);
        let mut one = vec![0.0; 10];
        one[3] = 5.0;
        assert!((lifetime_sparseness(&one).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(fraction_above_half_peak(&one), Some(0.1));
    }

    #[test]
    fn model_ceiling_is_one_without_noise_and_drops_with_it() {
        let clean: Vec<f64> = (0..20).map(f64::from).collect();
        assert_eq!(noise_ceiling_from_model(&clean, &[0.0; 20], 3), Some(1.0));
        let m = noise_ceiling_from_model(&clean, &[9.0; 20], 3).unwrap();
        assert!(m < 1.0 && m > 0.8, "{m}");
    }

    /// The data stage and the evaluate stage report the same noise ceiling on the same
    /// repeats: both use `NoiseEstimate`, averaged over the neurons where it is defined.
    #[test]
    fn dataset_noise_ceiling_is_the_evaluations() {
        use crate::neuro::array::ArrayF32;
        use crate::neuro::data::raw::{RawMeta, Split};
        use crate::neuro::scoring::evaluation::{Split as Scored, SplitData, evaluate};
        let (images, neurons, repeats) = (6, 3, 3);
        // Neuron 2 is pure noise around a constant: its ceiling is undefined.
        let trial = |r: usize, i: usize, n: usize| match n {
            2 => [0.1, -0.1, 0.0][(r + i) % 3],
            _ => (i * (n + 1)) as f32 + [0.3, -0.2, 0.1][(r * 2 + i + n) % 3],
        };
        let rep: Vec<f32> = (0..repeats)
            .flat_map(|r| (0..images).flat_map(move |i| (0..neurons).map(move |n| trial(r, i, n))))
            .collect();
        let rep = ArrayF32::new(vec![repeats, images, neurons], rep);
        let means: Vec<f32> = (0..images)
            .flat_map(|i| {
                (0..neurons).map(move |n| (0..repeats).map(|r| trial(r, i, n)).sum::<f32>() / 3.0)
            })
            .collect();
        let responses = ArrayF32::new(vec![images, neurons], means);
        let raw = RawDataset {
            images: ArrayF32::zeros(vec![images, 1, 1]),
            responses: responses.clone(),
            split: Split {
                train: vec![],
                validation: None,
                test: (0..images).collect(),
            },
            test_repeats: Some(rep.clone()),
            truth: None,
            neurons: None,
            meta: RawMeta {
                format: 1,
                source: "import".into(),
                images,
                height: 1,
                width: 1,
                neurons,
                repeats: Some(repeats),
                seed: None,
            },
        };
        let metrics = dataset_metrics(&raw);
        assert_eq!(metrics["noise_ceiling_neurons"], serde_json::json!(2));
        let data = SplitData {
            split: Scored::Test,
            responses: &responses,
            repeats: Some(&rep),
            noise_free: None,
        };
        let evaluation = evaluate(&data, Vec::new(), "").unwrap();
        let evaluated = evaluation.noise_ceiling.unwrap().mean.unwrap();
        assert_eq!(metrics["noise_ceiling"].as_f64(), Some(evaluated));
    }
}
