//! Per-neuron evaluation metrics of models.md §6, as plain numeric functions on slices of
//! responses (one neuron, one value per test image): Pearson CORR, peak tuning (PTJ / PTS),
//! tuning curves, and site summaries over neurons. Noise ceiling and FEVE, which need test
//! repeats, live in [`crate::neuro::scoring::noise`].
//!
//! A metric that is mathematically undefined for its input (a constant series, no images) is a
//! typed [`MetricError`], never a silent NaN. Computation is in `f64`.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::neuro::stats::{self, Side, StatsError};

/// Which series of a comparison a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Series {
    Recorded,
    Predicted,
}

impl std::fmt::Display for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Series::Recorded => "recorded responses",
            Series::Predicted => "predictions",
        })
    }
}

/// Why a metric has no value for a neuron.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    #[error("no images to evaluate")]
    NoImages,
    #[error("{recorded} recorded responses but {predicted} predictions")]
    LengthMismatch { recorded: usize, predicted: usize },
    #[error("undefined: the {0} are constant")]
    Constant(Series),
    #[error("the {which} contain a non-finite value at image {index}")]
    NonFinite { which: Series, index: usize },
    #[error("undefined: fewer than two images have two or more valid trials")]
    TooFewRepeats,
    #[error("undefined: the test repeats show no explainable variance (noise exceeds signal)")]
    NoExplainableVariance,
}

/// Checks that both series have the same non-zero length and only finite values.
pub fn check_pair(recorded: &[f32], predicted: &[f32]) -> Result<(), MetricError> {
    if recorded.len() != predicted.len() {
        return Err(MetricError::LengthMismatch {
            recorded: recorded.len(),
            predicted: predicted.len(),
        });
    }
    if recorded.is_empty() {
        return Err(MetricError::NoImages);
    }
    check_finite(recorded, Series::Recorded)?;
    check_finite(predicted, Series::Predicted)
}

fn check_finite(values: &[f32], which: Series) -> Result<(), MetricError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(MetricError::NonFinite { which, index }),
        None => Ok(()),
    }
}

/// Pearson correlation between recorded and predicted responses (CORR), by
/// [`stats::pearson`].
///
/// Undefined ([`MetricError::Constant`]) when either series is constant, which includes a
/// single image.
pub fn pearson(recorded: &[f32], predicted: &[f32]) -> Result<f64, MetricError> {
    check_pair(recorded, predicted)?;
    stats::pearson(&stats::widen(recorded), &stats::widen(predicted)).map_err(|e| match e {
        StatsError::Empty => MetricError::NoImages,
        StatsError::LengthMismatch { first, second } => MetricError::LengthMismatch {
            recorded: first,
            predicted: second,
        },
        StatsError::NonFinite(side, index) => MetricError::NonFinite {
            which: series(side),
            index,
        },
        StatsError::Constant(side) => MetricError::Constant(series(side)),
    })
}

/// How far the mean prediction lies from the mean recorded response, in standard deviations
/// of the recorded responses (signed: positive predicts too high). An offset CORR cannot see
/// and FEVE pays for in full (issue 29). Undefined when the recorded responses are constant.
pub fn level_offset(recorded: &[f32], predicted: &[f32]) -> Result<f64, MetricError> {
    check_pair(recorded, predicted)?;
    let (mr, vr) = stats::mean_var(&stats::widen(recorded));
    let (mp, _) = stats::mean_var(&stats::widen(predicted));
    if vr <= 0.0 {
        return Err(MetricError::Constant(Series::Recorded));
    }
    Ok((mp - mr) / vr.sqrt())
}

fn series(side: Side) -> Series {
    match side {
        Side::First => Series::Recorded,
        Side::Second => Series::Predicted,
    }
}

/// k of peak tuning: 1% of the images, rounded up (10 of 1000, 1 of 50).
pub fn peak_k(images: usize) -> usize {
    images.div_ceil(100)
}

/// Image indices ordered by value, descending; ties keep the lower image index first.
/// The values must be finite (see [`check_pair`]).
pub fn rank_descending(values: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        values[b]
            .partial_cmp(&values[a])
            .unwrap_or(Ordering::Equal)
            .then(a.cmp(&b))
    });
    order
}

/// Peak tuning of one neuron (models.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeakTuning {
    /// Number of peak images: [`peak_k`] of the image count.
    pub k: usize,
    /// T: the k-th largest recorded response.
    pub threshold: f64,
    /// Fraction of the k top-recorded images whose prediction is >= T.
    pub ptj: f64,
    /// Fraction of the k largest predictions (over all images) that are >= T.
    pub pts: f64,
}

/// PTJ and PTS: sort images by recorded response, descending (ties: lower index first);
/// T = the k-th largest recorded response; PTJ counts the k top-recorded images whose
/// prediction reaches T, PTS counts the k largest predictions that reach T. Both are
/// multiples of 1/k, and PTS >= PTJ.
pub fn peak_tuning(recorded: &[f32], predicted: &[f32]) -> Result<PeakTuning, MetricError> {
    check_pair(recorded, predicted)?;
    let k = peak_k(recorded.len());
    let by_recorded = rank_descending(recorded);
    let threshold = recorded[by_recorded[k - 1]];
    let reaches = |i: &&usize| predicted[**i] >= threshold;
    let joint = by_recorded[..k].iter().filter(reaches).count();
    let by_predicted = rank_descending(predicted);
    let sorted = by_predicted[..k].iter().filter(reaches).count();
    Ok(PeakTuning {
        k,
        threshold: threshold as f64,
        ptj: joint as f64 / k as f64,
        pts: sorted as f64 / k as f64,
    })
}

/// Responses ordered by recorded response (descending; ties lower index first): the recorded
/// and predicted response at each rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningCurve {
    pub recorded: Vec<f64>,
    pub predicted: Vec<f64>,
}

/// One neuron's tuning curve: its images ranked by recorded response.
pub fn tuning_curve(recorded: &[f32], predicted: &[f32]) -> Result<TuningCurve, MetricError> {
    check_pair(recorded, predicted)?;
    let order = rank_descending(recorded);
    Ok(TuningCurve {
        recorded: order.iter().map(|&i| recorded[i] as f64).collect(),
        predicted: order.iter().map(|&i| predicted[i] as f64).collect(),
    })
}

/// Population tuning curve: each neuron's images ranked by its recorded response, then the
/// recorded and predicted responses averaged across neurons at each rank. `neurons` holds
/// (recorded, predicted) per neuron; all neurons must have the same number of images.
pub fn population_tuning_curve(neurons: &[(&[f32], &[f32])]) -> Result<TuningCurve, MetricError> {
    let Some(&(first, _)) = neurons.first() else {
        return Err(MetricError::NoImages);
    };
    let n = first.len();
    let mut sum = TuningCurve {
        recorded: vec![0.0; n],
        predicted: vec![0.0; n],
    };
    for &(recorded, predicted) in neurons {
        if recorded.len() != n {
            return Err(MetricError::LengthMismatch {
                recorded: recorded.len(),
                predicted: n,
            });
        }
        let curve = tuning_curve(recorded, predicted)?;
        for rank in 0..n {
            sum.recorded[rank] += curve.recorded[rank];
            sum.predicted[rank] += curve.predicted[rank];
        }
    }
    let count = neurons.len() as f64;
    sum.recorded
        .iter_mut()
        .chain(sum.predicted.iter_mut())
        .for_each(|v| *v /= count);
    Ok(sum)
}

/// A site summary of one metric over neurons; neurons where the metric is undefined are
/// counted, not averaged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub mean: Option<f64>,
    pub median: Option<f64>,
    /// Neurons where the metric is defined.
    pub defined: usize,
    /// Neurons where it is not (constant predictions, no repeats, ...).
    pub undefined: usize,
}

/// Mean and median over the defined values (`None` = undefined for that neuron).
pub fn summarize(values: &[Option<f64>]) -> Summary {
    let mut defined: Vec<f64> = values.iter().flatten().copied().collect();
    defined.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    let n = defined.len();
    let mean = (n > 0).then(|| defined.iter().sum::<f64>() / n as f64);
    let median = match n {
        0 => None,
        _ if n % 2 == 1 => Some(defined[n / 2]),
        _ => Some((defined[n / 2 - 1] + defined[n / 2]) / 2.0),
    };
    Summary {
        mean,
        median,
        defined: n,
        undefined: values.len() - n,
    }
}

/// `value / baseline`, e.g. a model's mean CORR relative to ff-CNN's; `None` when either is
/// missing or the baseline is zero.
pub fn ratio(value: Option<f64>, baseline: Option<f64>) -> Option<f64> {
    match (value, baseline) {
        (Some(v), Some(b)) if b != 0.0 => Some(v / b),
        _ => None,
    }
}

/// A fraction (PTJ, PTS) as a percentage, as the paper reports site means.
pub fn percent(fraction: Option<f64>) -> Option<f64> {
    fraction.map(|f| f * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_offset_is_in_recorded_standard_deviations() {
        // Recorded mean 2, s.d. 1 (population variance); predictions shifted by +1.5.
        let recorded = [1.0, 3.0, 1.0, 3.0];
        let predicted = [2.5, 4.5, 3.5, 3.5];
        assert!((level_offset(&recorded, &predicted).unwrap() - 1.5).abs() < 1e-12);
        assert!(matches!(
            level_offset(&[2.0, 2.0], &[1.0, 3.0]),
            Err(MetricError::Constant(Series::Recorded))
        ));
    }
    use proptest::prelude::*;

    #[test]
    fn pearson_matches_hand_computation() {
        // x = [1,2,3,4], y = [2,1,4,3]: dx = [-1.5,-.5,.5,1.5], dy = [-.5,-1.5,1.5,.5]
        // sxy = .75+.75+.75+.75 = 3, sxx = syy = 5  ->  r = 0.6
        let r = pearson(&[1., 2., 3., 4.], &[2., 1., 4., 3.]).unwrap();
        assert!((r - 0.6).abs() < 1e-12, "{r}");
        let neg = pearson(&[1., 2., 3.], &[3., 2., 1.]).unwrap();
        assert!((neg + 1.0).abs() < 1e-12);
    }

    #[test]
    fn pearson_of_constant_series_is_undefined_not_nan() {
        assert_eq!(
            pearson(&[1., 2., 3.], &[0.5, 0.5, 0.5]),
            Err(MetricError::Constant(Series::Predicted))
        );
        assert_eq!(
            pearson(&[0.1, 0.1, 0.1], &[1., 2., 3.]),
            Err(MetricError::Constant(Series::Recorded))
        );
        assert_eq!(
            pearson(&[1.0], &[2.0]),
            Err(MetricError::Constant(Series::Recorded))
        );
        assert_eq!(pearson(&[], &[]), Err(MetricError::NoImages));
    }

    #[test]
    fn pearson_rejects_mismatch_and_nan() {
        assert_eq!(
            pearson(&[1., 2.], &[1., 2., 3.]),
            Err(MetricError::LengthMismatch {
                recorded: 2,
                predicted: 3
            })
        );
        assert_eq!(
            pearson(&[1., 2., 3.], &[1., f32::NAN, 3.]),
            Err(MetricError::NonFinite {
                which: Series::Predicted,
                index: 1
            })
        );
    }

    #[test]
    fn peak_k_rounds_one_percent_up() {
        assert_eq!(
            [1, 50, 100, 101, 500, 1000].map(peak_k),
            [1, 1, 1, 2, 5, 10]
        );
    }

    #[test]
    fn peak_tuning_hand_computed_with_k_two() {
        // 101..200 images -> k = 2. Recorded peaks: image 3 (9.0), image 7 (8.0): T = 8.0.
        let mut recorded = vec![0.0f32; 150];
        let mut predicted = vec![0.0f32; 150];
        recorded[3] = 9.0;
        recorded[7] = 8.0;
        predicted[3] = 8.5; // top-recorded, reaches T
        predicted[7] = 1.0; // top-recorded, misses T
        predicted[50] = 20.0; // largest prediction, reaches T
        let pt = peak_tuning(&recorded, &predicted).unwrap();
        assert_eq!((pt.k, pt.threshold), (2, 8.0));
        assert_eq!(pt.ptj, 0.5);
        // k largest predictions: image 50 (20.0) and image 3 (8.5): both >= T.
        assert_eq!(pt.pts, 1.0);
    }

    #[test]
    fn peak_tuning_ties_take_the_lower_image_index() {
        // k = 2; recorded 5.0 at images 1, 4 and 6: top-2 are images 1 and 4, T = 5.0.
        let mut recorded = vec![0.0f32; 120];
        let mut predicted = vec![0.0f32; 120];
        for i in [1, 4, 6] {
            recorded[i] = 5.0;
        }
        predicted[1] = 5.0; // reaches T exactly (>=)
        predicted[4] = 4.0; // misses
        predicted[6] = 7.0; // not among the top-2 recorded by the tie rule
        let pt = peak_tuning(&recorded, &predicted).unwrap();
        assert_eq!(pt.threshold, 5.0);
        assert_eq!(pt.ptj, 0.5);
        // Largest predictions: image 6 (7.0), image 1 (5.0): both reach T.
        assert_eq!(pt.pts, 1.0);
    }

    #[test]
    fn peak_tuning_with_constant_predictions() {
        // A constant prediction: PTJ and PTS are either all or nothing.
        let recorded: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let low = peak_tuning(&recorded, &[1.0; 100]).unwrap();
        assert_eq!(
            (low.k, low.threshold, low.ptj, low.pts),
            (1, 99.0, 0.0, 0.0)
        );
        let high = peak_tuning(&recorded, &[200.0; 100]).unwrap();
        assert_eq!((high.ptj, high.pts), (1.0, 1.0));
    }

    #[test]
    fn tuning_curves_rank_by_recorded() {
        let c = tuning_curve(&[1., 3., 2.], &[10., 30., 20.]).unwrap();
        assert_eq!(c.recorded, vec![3., 2., 1.]);
        assert_eq!(c.predicted, vec![30., 20., 10.]);
        let a: (&[f32], &[f32]) = (&[1., 3., 2.], &[0., 6., 2.]);
        let b: (&[f32], &[f32]) = (&[5., 1., 3.], &[4., 0., 2.]);
        let p = population_tuning_curve(&[a, b]).unwrap();
        assert_eq!(p.recorded, vec![4., 2.5, 1.]);
        assert_eq!(p.predicted, vec![5., 2., 0.]);
    }

    #[test]
    fn summaries_skip_undefined_neurons() {
        let s = summarize(&[Some(0.2), None, Some(0.6), Some(0.4)]);
        assert_eq!((s.defined, s.undefined), (3, 1));
        assert!((s.mean.unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(s.median, Some(0.4));
        assert_eq!(summarize(&[Some(1.0), Some(3.0)]).median, Some(2.0));
        assert_eq!(summarize(&[None]).mean, None);
        assert_eq!(ratio(Some(0.5), Some(0.25)), Some(2.0));
        assert_eq!(ratio(Some(0.5), Some(0.0)), None);
        assert_eq!(percent(Some(0.087)).map(|p| (p * 10.0).round()), Some(87.0));
    }

    proptest! {
        #[test]
        fn pts_is_never_below_ptj(
            pairs in prop::collection::vec((-4i8..4, -4i8..4), 1..350)
        ) {
            // Small integer ranges force many ties in both series.
            let recorded: Vec<f32> = pairs.iter().map(|p| p.0 as f32).collect();
            let predicted: Vec<f32> = pairs.iter().map(|p| p.1 as f32 * 0.5).collect();
            let pt = peak_tuning(&recorded, &predicted).unwrap();
            prop_assert!(pt.pts >= pt.ptj, "{pt:?}");
            prop_assert!((0.0..=1.0).contains(&pt.ptj) && (0.0..=1.0).contains(&pt.pts));
            let hits = pt.ptj * pt.k as f64;
            prop_assert!((hits - hits.round()).abs() < 1e-9, "PTJ is a multiple of 1/k");
        }
    }
}
