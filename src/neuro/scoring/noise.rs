//! Noise ceiling and fraction of explainable variance explained (FEVE) of one neuron, from its
//! repeated test trials (models.md §6). A missing trial is NaN.
//!
//! The estimator. For image i with n_i valid trials y_ir, let m_i be the trial mean and s_i²
//! the unbiased trial variance (images with n_i >= 2). Over the images with a valid trial:
//!
//! - total variance V = unbiased variance over images of m_i;
//! - noise variance σ² = mean of s_i² over the images with n_i >= 2;
//! - noise left in the means N = σ² · mean_i(1 / n_i)  (= σ² / R with R repeats everywhere);
//! - explainable variance E = V − N, the variance of the noise-free response;
//! - noise ceiling = sqrt(E / V): the expected Pearson r between the trial means and a
//!   perfect predictor of the noise-free response (the best CORR any model can reach);
//! - FEVE = 1 − (MSE − N) / E, with MSE = mean_i (m_i − p_i)²: 1 for a perfect predictor of
//!   the noise-free response (its FEVE ceiling), 0 for predicting the mean.
//!
//! E <= 0 (noise swamps the signal) makes both undefined, as do fewer than two images with a
//! trial or no image with two trials.

use crate::neuro::scoring::metrics::{MetricError, Series};

/// The noise decomposition of one neuron's test responses.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseEstimate {
    /// Trial mean per image; `None` where the image has no valid trial.
    pub means: Vec<Option<f64>>,
    /// V: variance over images of the trial means.
    pub total_variance: f64,
    /// σ²: mean per-image trial variance.
    pub noise_variance: f64,
    /// N: expected noise variance remaining in the trial means.
    pub noise_of_means: f64,
    /// E = V − N (positive).
    pub explainable_variance: f64,
}

/// Mean and unbiased variance of the valid trials of one image.
struct ImageTrials {
    count: usize,
    mean: f64,
    variance: Option<f64>,
}

fn image_trials(trials: &[f32], images: usize, image: usize) -> Result<ImageTrials, MetricError> {
    let mut valid = Vec::new();
    for (r, &v) in trials.iter().skip(image).step_by(images).enumerate() {
        if v.is_nan() {
            continue;
        }
        if !v.is_finite() {
            return Err(MetricError::NonFinite {
                which: Series::Recorded,
                index: r * images + image,
            });
        }
        valid.push(v as f64);
    }
    let count = valid.len();
    let mean = valid.iter().sum::<f64>() / count.max(1) as f64;
    let variance = (count >= 2)
        .then(|| valid.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1) as f64);
    Ok(ImageTrials {
        count,
        mean,
        variance,
    })
}

fn unbiased_variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

impl NoiseEstimate {
    /// Estimates from one neuron's trials laid out repeat-major: `trials[r * images + i]` is
    /// repeat r of image i (NaN = missing).
    pub fn from_trials(trials: &[f32], images: usize) -> Result<Self, MetricError> {
        if images == 0 || trials.is_empty() {
            return Err(MetricError::NoImages);
        }
        if !trials.len().is_multiple_of(images) {
            return Err(MetricError::LengthMismatch {
                recorded: trials.len(),
                predicted: images,
            });
        }
        let per_image: Vec<ImageTrials> = (0..images)
            .map(|i| image_trials(trials, images, i))
            .collect::<Result<_, _>>()?;
        let present: Vec<&ImageTrials> = per_image.iter().filter(|t| t.count > 0).collect();
        let variances: Vec<f64> = present.iter().filter_map(|t| t.variance).collect();
        if present.len() < 2 || variances.is_empty() {
            return Err(MetricError::TooFewRepeats);
        }
        let means: Vec<f64> = present.iter().map(|t| t.mean).collect();
        let total_variance = unbiased_variance(&means);
        let noise_variance = variances.iter().sum::<f64>() / variances.len() as f64;
        let inverse_counts =
            present.iter().map(|t| 1.0 / t.count as f64).sum::<f64>() / present.len() as f64;
        let noise_of_means = noise_variance * inverse_counts;
        let explainable_variance = total_variance - noise_of_means;
        if explainable_variance <= 0.0 || !explainable_variance.is_finite() {
            return Err(MetricError::NoExplainableVariance);
        }
        Ok(Self {
            means: per_image
                .iter()
                .map(|t| (t.count > 0).then_some(t.mean))
                .collect(),
            total_variance,
            noise_variance,
            noise_of_means,
            explainable_variance,
        })
    }

    /// Fraction of the trial means' variance that is explainable: E / V.
    pub fn explainable_fraction(&self) -> f64 {
        self.explainable_variance / self.total_variance
    }

    /// The noise ceiling on CORR: sqrt(E / V).
    pub fn noise_ceiling(&self) -> f64 {
        self.explainable_fraction().sqrt()
    }

    /// FEVE of a prediction (one value per image; images without a valid trial are skipped).
    pub fn feve(&self, predicted: &[f32]) -> Result<f64, MetricError> {
        if predicted.len() != self.means.len() {
            return Err(MetricError::LengthMismatch {
                recorded: self.means.len(),
                predicted: predicted.len(),
            });
        }
        let (mut sum, mut count) = (0.0, 0usize);
        for (index, (mean, &p)) in self.means.iter().zip(predicted).enumerate() {
            if !p.is_finite() {
                return Err(MetricError::NonFinite {
                    which: Series::Predicted,
                    index,
                });
            }
            if let Some(m) = mean {
                sum += (m - p as f64).powi(2);
                count += 1;
            }
        }
        let mse = sum / count as f64;
        Ok(1.0 - (mse - self.noise_of_means) / self.explainable_variance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::scoring::metrics::pearson;

    /// Deterministic standard normals (splitmix64 + Box-Muller), so the test cannot flake.
    struct Normal(u64);
    impl Normal {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn sample(&mut self) -> f64 {
            let u = self.uniform().max(1e-300);
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
        }
    }

    /// Noise-free responses ~ N(0, 1); trials add N(0, sigma²).
    fn simulate(images: usize, repeats: usize, sigma: f64, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Normal(seed);
        let truth: Vec<f32> = (0..images).map(|_| rng.sample() as f32).collect();
        let mut trials = Vec::with_capacity(images * repeats);
        for _ in 0..repeats {
            trials.extend(
                truth
                    .iter()
                    .map(|&t| (t as f64 + sigma * rng.sample()) as f32),
            );
        }
        (truth, trials)
    }

    #[test]
    fn perfect_predictor_reaches_the_noise_ceiling() {
        // Noise variance 4 over 16 repeats leaves 0.25 in the means: ceiling sqrt(1 / 1.25).
        let (truth, trials) = simulate(2000, 16, 2.0, 11);
        let est = NoiseEstimate::from_trials(&trials, 2000).unwrap();
        assert!((est.noise_variance - 4.0).abs() < 0.1, "{est:?}");
        assert!((est.noise_of_means - 0.25).abs() < 0.01);
        assert!((est.noise_ceiling() - (1.0f64 / 1.25).sqrt()).abs() < 0.02);
        let feve = est.feve(&truth).unwrap();
        assert!(
            (feve - 1.0).abs() < 0.03,
            "FEVE of the noise-free response: {feve}"
        );
        let means: Vec<f32> = est.means.iter().map(|m| m.unwrap() as f32).collect();
        let corr = pearson(&means, &truth).unwrap();
        assert!(
            (corr - est.noise_ceiling()).abs() < 0.02,
            "{corr} vs {}",
            est.noise_ceiling()
        );
    }

    #[test]
    fn feve_of_the_mean_is_zero_and_of_half_the_signal_is_partial() {
        let (truth, trials) = simulate(2000, 8, 1.0, 5);
        let est = NoiseEstimate::from_trials(&trials, 2000).unwrap();
        let grand = est.means.iter().flatten().sum::<f64>() / 2000.0;
        let flat = est.feve(&vec![grand as f32; 2000]).unwrap();
        assert!(flat.abs() < 0.03, "{flat}");
        // Predicting t/2 leaves (t/2)² unexplained: FEVE ≈ 1 − 1/4.
        let half: Vec<f32> = truth.iter().map(|t| t / 2.0).collect();
        assert!((est.feve(&half).unwrap() - 0.75).abs() < 0.04);
    }

    #[test]
    fn missing_trials_are_skipped() {
        let (truth, mut trials) = simulate(1000, 10, 1.0, 3);
        for (j, v) in trials.iter_mut().enumerate() {
            if j % 7 == 0 {
                *v = f32::NAN;
            }
        }
        let est = NoiseEstimate::from_trials(&trials, 1000).unwrap();
        assert!((est.noise_variance - 1.0).abs() < 0.06, "{est:?}");
        assert!((est.feve(&truth).unwrap() - 1.0).abs() < 0.05);
    }

    #[test]
    fn hand_computed_small_case() {
        // Two images, two repeats: image 0 trials {1, 3}, image 1 trials {5, 7}.
        // means 2, 6 -> V = 8; s² = 2, 2 -> σ² = 2; N = 2 · 1/2 = 1; E = 7.
        let est = NoiseEstimate::from_trials(&[1., 5., 3., 7.], 2).unwrap();
        assert_eq!(est.means, vec![Some(2.0), Some(6.0)]);
        assert_eq!((est.total_variance, est.noise_variance), (8.0, 2.0));
        assert_eq!((est.noise_of_means, est.explainable_variance), (1.0, 7.0));
        assert_eq!(est.noise_ceiling(), (7.0f64 / 8.0).sqrt());
        // Predicting the means exactly: MSE 0 -> FEVE = 1 + 1/7.
        assert!((est.feve(&[2., 6.]).unwrap() - 8.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn undefined_cases_are_typed() {
        let single = NoiseEstimate::from_trials(&[1., 2., 3.], 3);
        assert_eq!(single, Err(MetricError::TooFewRepeats));
        // Identical means: no explainable variance.
        let flat = NoiseEstimate::from_trials(&[1., 1., 3., 3.], 2);
        assert_eq!(flat, Err(MetricError::NoExplainableVariance));
        let ragged = NoiseEstimate::from_trials(&[1., 2., 3.], 2);
        assert!(matches!(ragged, Err(MetricError::LengthMismatch { .. })));
    }
}
