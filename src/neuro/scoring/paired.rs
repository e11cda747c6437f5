//! Comparing two models on the same neurons: per-neuron paired differences (left − right),
//! their mean with a 95% bootstrap interval over neurons, and the Wilcoxon signed-rank test.
//!
//! - Pairs are the neurons where both models have a value.
//! - Interval: percentile bootstrap of the mean difference, [`BOOTSTRAP_RESAMPLES`] resamples
//!   of the neurons with replacement, drawn from a fixed counter-based stream, so the same
//!   numbers always give the same interval.
//! - Wilcoxon signed-rank (two-sided): zero differences dropped, tied |d| get their average
//!   rank; the p-value is exact (the distribution of W+ under random signs, computed on doubled
//!   ranks so that half ranks stay integers) up to [`EXACT_WILCOXON_MAX`] pairs, and the normal
//!   approximation with tie correction above.

use serde::{Deserialize, Serialize};

use crate::neuro::random::counter::{Purpose, Stream};
use crate::neuro::stats::{mean_var, quantile};

/// Bootstrap resamples of the mean difference.
pub const BOOTSTRAP_RESAMPLES: u64 = 10_000;
/// Largest number of pairs whose Wilcoxon p-value is computed exactly.
pub const EXACT_WILCOXON_MAX: usize = 60;
/// Seed of the bootstrap stream.
const BOOTSTRAP_SEED: u64 = 20_241_201;

/// Two models compared on their common neurons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Neurons where both models have a value.
    pub neurons: usize,
    pub mean_left: f64,
    pub mean_right: f64,
    /// Mean of left − right over those neurons.
    pub mean_difference: f64,
    /// 95% bootstrap interval of the mean difference.
    pub interval: (f64, f64),
    /// Two-sided Wilcoxon signed-rank p-value.
    pub wilcoxon_p: f64,
}

impl Paired {
    /// The interval contains zero: no detectable difference.
    pub fn tie(&self) -> bool {
        self.interval.0 <= 0.0 && 0.0 <= self.interval.1
    }
}

/// Compares per-neuron values (`None` = undefined for that neuron); `None` when no neuron
/// has both.
pub fn compare(left: &[Option<f64>], right: &[Option<f64>]) -> Option<Paired> {
    let pairs: Vec<(f64, f64)> = left
        .iter()
        .zip(right)
        .filter_map(|(l, r)| Some(((*l)?, (*r)?)))
        .filter(|(l, r)| l.is_finite() && r.is_finite())
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let lefts: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let rights: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let d: Vec<f64> = pairs.iter().map(|(l, r)| l - r).collect();
    Some(Paired {
        neurons: d.len(),
        mean_left: mean_var(&lefts).0,
        mean_right: mean_var(&rights).0,
        mean_difference: mean_var(&d).0,
        interval: bootstrap_interval(&d),
        wilcoxon_p: wilcoxon_p(&d),
    })
}

/// Percentile 95% interval of the mean of `d` over bootstrap resamples.
pub fn bootstrap_interval(d: &[f64]) -> (f64, f64) {
    let n = d.len() as u64;
    let stream = Stream::new(BOOTSTRAP_SEED, Purpose::Bootstrap);
    let means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|b| {
            let s = stream.child(b);
            (0..n).map(|i| d[s.below(i, n) as usize]).sum::<f64>() / n as f64
        })
        .collect();
    (quantile(&means, 0.025), quantile(&means, 0.975))
}

/// Average ranks (1-based) of `values`, ties sharing the mean of their positions.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Two-sided p-value of the Wilcoxon signed-rank test of the differences `d`.
pub fn wilcoxon_p(d: &[f64]) -> f64 {
    let nonzero: Vec<f64> = d.iter().copied().filter(|&x| x != 0.0).collect();
    let n = nonzero.len();
    if n == 0 {
        return 1.0;
    }
    let abs: Vec<f64> = nonzero.iter().map(|x| x.abs()).collect();
    let ranks = average_ranks(&abs);
    let w_plus: f64 = ranks
        .iter()
        .zip(&nonzero)
        .filter(|(_, x)| **x > 0.0)
        .map(|(r, _)| r)
        .sum();
    let p = if n <= EXACT_WILCOXON_MAX {
        exact_two_sided(&ranks, w_plus)
    } else {
        normal_two_sided(&ranks, w_plus)
    };
    p.min(1.0)
}

/// Exact: each rank enters W+ with probability 1/2; distribution over doubled ranks.
fn exact_two_sided(ranks: &[f64], w_plus: f64) -> f64 {
    let doubled: Vec<usize> = ranks.iter().map(|r| (r * 2.0).round() as usize).collect();
    let total: usize = doubled.iter().sum();
    let mut dist = vec![0.0f64; total + 1];
    dist[0] = 1.0;
    for &r in &doubled {
        for s in (r..=total).rev() {
            dist[s] = 0.5 * dist[s] + 0.5 * dist[s - r];
        }
        for v in dist.iter_mut().take(r) {
            *v *= 0.5;
        }
    }
    let w = (w_plus * 2.0).round() as usize;
    let lower: f64 = dist[..=w].iter().sum();
    let upper: f64 = dist[w..].iter().sum();
    2.0 * lower.min(upper)
}

/// Normal approximation with tie correction (no continuity correction).
fn normal_two_sided(ranks: &[f64], w_plus: f64) -> f64 {
    let n = ranks.len() as f64;
    let mean = n * (n + 1.0) / 4.0;
    let squares: f64 = ranks.iter().map(|r| r * r).sum();
    let sd = (squares / 4.0).sqrt();
    let z = (w_plus - mean).abs() / sd;
    2.0 * (1.0 - standard_normal_cdf(z))
}

/// Φ(z) through erfc (Abramowitz & Stegun 7.1.26 is not precise enough for small p; libm's
/// erfc is).
fn standard_normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_wilcoxon_by_hand() {
        // d = 1, 2, 3 (all positive): W+ = 6, the largest of 2^3 = 8 sign patterns, so
        // P(W+ >= 6) = 1/8 and the two-sided p = 1/4.
        assert!((wilcoxon_p(&[1.0, 2.0, 3.0]) - 0.25).abs() < 1e-12);
        // d = 1, -2, 3: W+ = 4; P(W+ <= 4) = 6/8, P(W+ >= 4) = 3/8 -> p = 3/4.
        assert!((wilcoxon_p(&[1.0, -2.0, 3.0]) - 0.75).abs() < 1e-12);
        // Zeros are dropped; nothing left means no evidence.
        assert_eq!(wilcoxon_p(&[0.0, 0.0]), 1.0);
        // Ties share ranks: |d| = 1, 1 -> ranks 1.5, 1.5; W+ = 3 of {0, 1.5, 1.5, 3}: p = 1/2.
        assert!((wilcoxon_p(&[1.0, 1.0]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn normal_approximation_agrees_with_the_exact_test_at_moderate_n() {
        let d: Vec<f64> = (0..40).map(|i| f64::from(i) - 12.5).collect();
        let ranks = average_ranks(&d.iter().map(|x| x.abs()).collect::<Vec<_>>());
        let w: f64 = ranks
            .iter()
            .zip(&d)
            .filter(|(_, x)| **x > 0.0)
            .map(|(r, _)| r)
            .sum();
        let (exact, normal) = (exact_two_sided(&ranks, w), normal_two_sided(&ranks, w));
        assert!((exact - normal).abs() < 0.01, "{exact} vs {normal}");
    }

    #[test]
    fn a_clear_difference_excludes_zero_and_a_tie_contains_it() {
        let left: Vec<Option<f64>> = (0..12).map(|i| Some(0.5 + 0.01 * f64::from(i))).collect();
        let better: Vec<Option<f64>> = left.iter().map(|v| v.map(|x| x - 0.1)).collect();
        let c = compare(&left, &better).unwrap();
        assert_eq!(c.neurons, 12);
        assert!((c.mean_difference - 0.1).abs() < 1e-12);
        assert!(c.interval.0 > 0.09 && !c.tie(), "{c:?}");
        assert!(c.wilcoxon_p < 0.001, "{c:?}");
        let wobble: Vec<Option<f64>> = left
            .iter()
            .enumerate()
            .map(|(i, v)| v.map(|x| x + if i % 2 == 0 { 0.02 } else { -0.02 }))
            .collect();
        let t = compare(&left, &wobble).unwrap();
        assert!(t.tie() && t.wilcoxon_p > 0.5, "{t:?}");
    }

    #[test]
    fn undefined_neurons_are_left_out_and_the_interval_is_reproducible() {
        let left = [Some(1.0), None, Some(3.0), Some(2.0)];
        let right = [Some(0.5), Some(1.0), None, Some(1.0)];
        let c = compare(&left, &right).unwrap();
        assert_eq!((c.neurons, c.mean_left, c.mean_right), (2, 1.5, 0.75));
        assert_eq!(compare(&left, &right), Some(c));
        assert_eq!(compare(&[None], &[Some(1.0)]), None);
    }
}
