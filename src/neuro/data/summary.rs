//! Summary statistics of response datasets (simulated or imported): per-neuron columns of
//! `[images, neurons]` arrays, lifetime sparseness, how often a neuron is near its peak, noise
//! ceilings from repeats and from a known noise model, and pooled response quantiles.
//!
//! All sums run in a fixed order in f64, so results do not depend on threads or machines.

use crate::neuro::data::raw::RawDataset;

/// Mean and population variance (ddof 0); (0, 0) for an empty slice.
pub fn mean_var(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n)
}

/// The `q` quantile with linear interpolation between order statistics; NaN-free input
/// expected (NaNs sort last). 0 for an empty slice.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (i, t) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < s.len() {
        s[i] * (1.0 - t) + s[i + 1] * t
    } else {
        s[i]
    }
}

/// Pearson correlation; `None` when either side is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    if va <= 0.0 || vb <= 0.0 || a.len() != b.len() {
        return None;
    }
    let cov = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / a.len() as f64;
    Some(cov / (va * vb).sqrt())
}

/// Column `n` of a row-major `[rows, cols]` slice, as f64.
pub fn column(data: &[f32], cols: usize, n: usize) -> Vec<f64> {
    data.iter()
        .skip(n)
        .step_by(cols)
        .map(|&v| v as f64)
        .collect()
}

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

/// Noise ceiling (the correlation an ideal model reaches with the repeat average) estimated
/// from repeats of one neuron: `repeats[r][i]`, NaN = missing trial.
///
/// signal variance = var(mean_i) - mean_i(s_i^2 / k_i), ceiling = sqrt(signal / var(mean_i)),
/// clamped to [0, 1]; `None` without images having two or more trials.
pub fn noise_ceiling_from_repeats(repeats: &[Vec<f64>]) -> Option<f64> {
    let images = repeats.first()?.len();
    let mut means = Vec::with_capacity(images);
    let mut noise = Vec::new();
    for i in 0..images {
        let trials: Vec<f64> = repeats
            .iter()
            .map(|r| r[i])
            .filter(|v| v.is_finite())
            .collect();
        if trials.is_empty() {
            continue;
        }
        let (m, v) = mean_var(&trials);
        means.push(m);
        let k = trials.len() as f64;
        if trials.len() >= 2 {
            // Unbiased trial variance, divided by the trial count: variance of the mean.
            noise.push(v * k / (k - 1.0) / k);
        }
    }
    if noise.is_empty() {
        return None;
    }
    let (_, total) = mean_var(&means);
    if total <= 0.0 {
        return None;
    }
    let noise_of_mean = noise.iter().sum::<f64>() / noise.len() as f64;
    Some(((total - noise_of_mean) / total).clamp(0.0, 1.0).sqrt())
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

/// Mean of the `Some` values, or `None` if there are none.
pub fn mean_of(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.into_iter().flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
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
    if let Some(rep) = &raw.test_repeats {
        count(
            &mut m,
            "missing_trials",
            Some(rep.data.iter().filter(|v| v.is_nan()).count()),
        );
    }
    let mut put = |key: &str, v: Option<f64>| {
        m.insert(key.to_owned(), json_number(v));
    };
    let test = raw.responses.select_rows(&raw.split.test);
    let cols: Vec<Vec<f64>> = (0..k).map(|n| column(&test.data, k, n)).collect();
    put(
        "test_lifetime_sparseness",
        mean_of(cols.iter().map(|c| lifetime_sparseness(c))),
    );
    put(
        "test_fraction_above_half_peak",
        mean_of(cols.iter().map(|c| fraction_above_half_peak(c))),
    );
    if let Some(rep) = &raw.test_repeats {
        let (r, n_test) = (rep.shape[0], rep.shape[1]);
        let ceilings = (0..k).map(|n| {
            let rows: Vec<Vec<f64>> = (0..r)
                .map(|ri| {
                    (0..n_test)
                        .map(|i| rep.data[(ri * n_test + i) * k + n] as f64)
                        .collect()
                })
                .collect();
            noise_ceiling_from_repeats(&rows)
        });
        put("noise_ceiling", mean_of(ceilings));
        put(
            "missing_trials",
            Some(rep.data.iter().filter(|v| v.is_nan()).count() as f64),
        );
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
    fn basic_statistics() {
        assert_eq!(mean_var(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.5), 2.5);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]).unwrap() - 0.9934).abs() < 1e-3);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(
            column(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 1),
            vec![2.0, 5.0]
        );
    }

    #[test]
    fn sparseness_and_peak_fraction_extremes() {
        assert!(lifetime_sparseness(&[1.0; 10]).unwrap().abs() < 1e-12);
        let mut one = vec![0.0; 10];
        one[3] = 5.0;
        assert!((lifetime_sparseness(&one).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(fraction_above_half_peak(&one), Some(0.1));
    }

    #[test]
    fn ceiling_is_one_without_noise_and_drops_with_it() {
        let clean: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..20).map(|i| i as f64).collect())
            .collect();
        assert_eq!(noise_ceiling_from_repeats(&clean), Some(1.0));
        let mut noisy = clean.clone();
        for (r, row) in noisy.iter_mut().enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                *v += if (r + i) % 2 == 0 { 3.0 } else { -3.0 };
            }
        }
        noisy[0][4] = f64::NAN;
        let c = noise_ceiling_from_repeats(&noisy).unwrap();
        assert!(c < 0.99 && c > 0.5, "{c}");
        let m = noise_ceiling_from_model(&clean[0], &[9.0; 20], 3).unwrap();
        assert!(m < 1.0 && m > 0.8, "{m}");
    }
}
