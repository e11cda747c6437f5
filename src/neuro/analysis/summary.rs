//! Summaries of an FCL decomposition and of attention highlighting (models.md §7), and their
//! comparison with a simulated population's ground truth. Pure arithmetic on the arrays that
//! [`crate::neuro::analysis::fcl`] computes; the `decompose` stage writes what this returns
//! ([`crate::neuro::analysis::files`]; fields are declared alphabetically, the order written).
//!
//! Definitions (per neuron, over the images of the analysed split):
//! - `centre_mean` / `surround_mean`: the mean (signed) centre and surround contributions.
//! - `centre_strength` / `surround_strength`: their standard deviations over images, i.e. how
//!   much each term moves the prediction (a constant offset is indistinguishable from the bias).
//! - `centre_share` = centre_strength / (centre_strength + surround_strength); a neuron's model
//!   is **centre-dominated** when its share exceeds 0.5.
//! - With ground truth: `centre_corr` = Pearson r between the model's centre contribution and
//!   the true centre-only response; `surround_corr` = r between the surround contribution and
//!   the true surround modulation (noise-free response minus centre-only response);
//!   `truth_centre_share` is the share computed the same way from those two true terms.
//!   Correlations are `None` where a series is constant (e.g. a neuron without surround).

use serde::{Deserialize, Serialize};

use super::files::f64_or_nan;
use crate::neuro::array::ArrayF32;
use crate::neuro::data::truth::Truth;
use crate::neuro::scoring::metrics::pearson;
use crate::neuro::stats::{mean_of, mean_var, widen};

/// One neuron's decomposition summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronSummary {
    #[serde(deserialize_with = "f64_or_nan")]
    pub centre_mean: f64,
    pub centre_share: Option<f64>,
    #[serde(deserialize_with = "f64_or_nan")]
    pub centre_strength: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub surround_mean: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub surround_strength: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<NeuronTruth>,
}

/// One neuron's comparison with the simulated truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronTruth {
    pub centre_corr: Option<f64>,
    pub surround_corr: Option<f64>,
    pub truth_centre_share: Option<f64>,
}

/// Population means of [`NeuronSummary`] (means skip undefined values; `None` if all are).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationSummary {
    /// Fraction of neurons whose model is centre-dominated (share > 0.5).
    pub centre_fraction: Option<f64>,
    #[serde(deserialize_with = "f64_or_nan")]
    pub centre_mean: f64,
    pub centre_share_mean: Option<f64>,
    pub neurons: usize,
    #[serde(deserialize_with = "f64_or_nan")]
    pub surround_mean: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<PopulationTruth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationTruth {
    /// Mean over neurons of the per-neuron correlations.
    pub centre_corr: Option<f64>,
    /// Fraction of neurons where model and truth agree on centre dominance.
    pub dominance_agreement: Option<f64>,
    /// Pearson r across neurons between the model's and the truth's centre share.
    pub share_corr: Option<f64>,
    pub surround_corr: Option<f64>,
    /// Fraction of neurons that are centre-dominated in the truth.
    pub truth_centre_fraction: Option<f64>,
}

/// Standard deviation over images (ddof 0): how much a term moves the prediction.
fn sd(values: &[f64]) -> f64 {
    mean_var(values).1.sqrt()
}

fn share(centre: f64, surround: f64) -> Option<f64> {
    let total = centre + surround;
    (total > 0.0 && total.is_finite()).then(|| centre / total)
}

/// Per-neuron summaries of `[n, neurons]` centre and surround contributions; `truth` (same
/// shape) adds the comparison with the simulated population.
pub fn summarise_neurons(
    centre: &ArrayF32,
    surround: &ArrayF32,
    truth: Option<&Truth>,
) -> Vec<NeuronSummary> {
    let neurons = centre.shape.get(1).copied().unwrap_or(0);
    (0..neurons)
        .map(|j| {
            let (c, s) = (centre.column(j), surround.column(j));
            let (cw, sw) = (widen(&c), widen(&s));
            let (cs, ss) = (sd(&cw), sd(&sw));
            let truth = truth.map(|t| {
                let true_centre = t.centre.column(j);
                let modulation: Vec<f32> = t
                    .noise_free
                    .column(j)
                    .iter()
                    .zip(&true_centre)
                    .map(|(nf, c)| nf - c)
                    .collect();
                NeuronTruth {
                    centre_corr: pearson(&true_centre, &c).ok(),
                    surround_corr: pearson(&modulation, &s).ok(),
                    truth_centre_share: share(sd(&widen(&true_centre)), sd(&widen(&modulation))),
                }
            });
            NeuronSummary {
                centre_mean: mean_var(&cw).0,
                surround_mean: mean_var(&sw).0,
                centre_strength: cs,
                surround_strength: ss,
                centre_share: share(cs, ss),
                truth,
            }
        })
        .collect()
}

/// Population means of per-neuron summaries.
pub fn summarise_population(neurons: &[NeuronSummary]) -> PopulationSummary {
    let dominated = |s: Option<f64>| s.map(|s| if s > 0.5 { 1.0 } else { 0.0 });
    let truths: Vec<&NeuronTruth> = neurons.iter().filter_map(|n| n.truth.as_ref()).collect();
    let truth = (!truths.is_empty()).then(|| {
        let pairs: Vec<(f32, f32)> = neurons
            .iter()
            .filter_map(|n| {
                let t = n.truth.as_ref()?.truth_centre_share?;
                Some((t as f32, n.centre_share? as f32))
            })
            .collect();
        let (t, m): (Vec<f32>, Vec<f32>) = pairs.iter().copied().unzip();
        PopulationTruth {
            centre_corr: mean_of(truths.iter().map(|t| t.centre_corr)),
            surround_corr: mean_of(truths.iter().map(|t| t.surround_corr)),
            truth_centre_fraction: mean_of(truths.iter().map(|t| dominated(t.truth_centre_share))),
            dominance_agreement: mean_of(
                pairs
                    .iter()
                    .map(|&(t, m)| Some(if (t > 0.5) == (m > 0.5) { 1.0 } else { 0.0 })),
            ),
            share_corr: pearson(&t, &m).ok(),
        }
    });
    PopulationSummary {
        neurons: neurons.len(),
        centre_mean: mean_var(&neurons.iter().map(|n| n.centre_mean).collect::<Vec<_>>()).0,
        surround_mean: mean_var(&neurons.iter().map(|n| n.surround_mean).collect::<Vec<_>>()).0,
        centre_share_mean: mean_of(neurons.iter().map(|n| n.centre_share)),
        centre_fraction: mean_of(neurons.iter().map(|n| dominated(n.centre_share))),
        truth,
    }
}

/// The average over neurons of `[neurons, G, G]` maps, as `G * G` values in raster order.
pub fn mean_over_neurons(maps: &ArrayF32) -> Vec<f64> {
    let neurons = maps.shape.first().copied().unwrap_or(0);
    let width: usize = maps.shape.iter().skip(1).product();
    let mut out = vec![0.0; width];
    for row in maps.data.chunks(width.max(1)).take(neurons) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += f64::from(v) / neurons as f64;
        }
    }
    out
}

/// The weight every position gets under uniform attention over `positions` positions.
pub fn uniform_weight(positions: usize) -> f64 {
    1.0 / positions.max(1) as f64
}

/// The largest distance of a mean attention map from uniform attention over its positions,
/// relative to the uniform weight: 0.1 means some position gets 10% more (or less) than
/// uniform. `None` for an empty map or one with non-finite values.
pub fn deviation_from_uniform(mean: &[f64]) -> Option<f64> {
    let u = uniform_weight(mean.len());
    let finite = !mean.is_empty() && mean.iter().all(|v| v.is_finite());
    finite.then(|| mean.iter().map(|v| (v - u).abs() / u).fold(0.0, f64::max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(rows: &[[f32; 2]]) -> ArrayF32 {
        ArrayF32::new(
            vec![rows.len(), 2],
            rows.iter().flat_map(|r| r.iter().copied()).collect(),
        )
    }

    #[test]
    fn shares_means_and_truth_correlations() {
        // Neuron 0: centre varies by 2, surround by 1 -> share 2/3; neuron 1: surround only.
        let centre = arr(&[[1.0, 5.0], [3.0, 5.0], [1.0, 5.0], [3.0, 5.0]]);
        let surround = arr(&[[0.0, 0.0], [0.0, 2.0], [1.0, 0.0], [1.0, 2.0]]);
        let truth = Truth {
            centre: arr(&[[0.0, 1.0], [2.0, 1.0], [0.0, 1.0], [2.0, 1.0]]),
            // Modulation: neuron 0 = [0, 0, 1, 1] (matches), neuron 1 = [1, -1, 1, -1].
            noise_free: arr(&[[0.0, 2.0], [2.0, 0.0], [1.0, 2.0], [3.0, 0.0]]),
            surround_factor: arr(&[[1.0; 2]; 4]),
        };
        let n = summarise_neurons(&centre, &surround, Some(&truth));
        assert_eq!((n[0].centre_mean, n[0].surround_mean), (2.0, 0.5));
        assert_eq!((n[0].centre_strength, n[0].surround_strength), (1.0, 0.5));
        assert!((n[0].centre_share.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(n[1].centre_share, Some(0.0));
        let t0 = n[0].truth.as_ref().unwrap();
        assert_eq!((t0.centre_corr, t0.surround_corr), (Some(1.0), Some(1.0)));
        let t1 = n[1].truth.as_ref().unwrap();
        assert_eq!(t1.centre_corr, None, "the model's centre term is constant");
        assert_eq!(t1.surround_corr, Some(-1.0));
        assert_eq!(t1.truth_centre_share, Some(0.0));
        let p = summarise_population(&n);
        assert_eq!(p.centre_fraction, Some(0.5));
        let pt = p.truth.unwrap();
        assert_eq!((pt.centre_corr, pt.surround_corr), (Some(1.0), Some(0.0)));
        assert_eq!(pt.truth_centre_fraction, Some(0.5));
        assert_eq!(pt.dominance_agreement, Some(1.0));
        assert!((pt.share_corr.unwrap() - 1.0).abs() < 1e-9);
        let without = summarise_population(&summarise_neurons(&centre, &surround, None));
        assert!(without.truth.is_none());
        assert_eq!(without.centre_share_mean, p.centre_share_mean);
    }

    #[test]
    fn deviation_from_uniform_is_relative_to_the_uniform_weight() {
        assert_eq!(uniform_weight(4), 0.25);
        assert_eq!(deviation_from_uniform(&[0.25; 4]), Some(0.0));
        let d = deviation_from_uniform(&[0.3, 0.2, 0.25, 0.25]).unwrap();
        assert!((d - 0.2).abs() < 1e-12, "{d}");
        assert_eq!(deviation_from_uniform(&[]), None);
        assert_eq!(deviation_from_uniform(&[f64::NAN, 1.0]), None);
    }

    #[test]
    fn maps_average_over_neurons() {
        let maps = ArrayF32::new(vec![2, 1, 2], vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(mean_over_neurons(&maps), vec![0.5, 0.5]);
    }
}
