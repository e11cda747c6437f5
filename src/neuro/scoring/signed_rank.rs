//! The Wilcoxon signed-rank test of paired differences, with both one-sided tails: zero
//! differences dropped, tied |d| given their average rank. The p-values are exact (the
//! distribution of W+ under random signs, computed on doubled ranks so that half ranks stay
//! integers) up to [`EXACT_MAX`] non-zero differences, and the normal approximation with tie
//! correction above; the same numbers always give the same p-values.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

/// Largest number of non-zero differences whose p-values are computed exactly.
pub const EXACT_MAX: usize = 60;

/// The signed-rank statistic of some differences and its two tails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignedRank {
    /// Non-zero differences (the others are dropped).
    pub n: usize,
    /// Sum of the ranks of the positive differences.
    pub w_plus: f64,
    /// P(W+ >= w_plus) under random signs: the one-sided p-value of "differences above 0".
    pub upper_p: f64,
    /// P(W+ <= w_plus): the one-sided p-value of "differences below 0".
    pub lower_p: f64,
}

impl SignedRank {
    /// The two-sided p-value: twice the smaller tail, at most 1.
    pub fn two_sided(&self) -> f64 {
        (2.0 * self.upper_p.min(self.lower_p)).min(1.0)
    }
}

/// The signed-rank test of the differences `d` (finite values expected).
pub fn signed_rank(d: &[f64]) -> SignedRank {
    let nonzero: Vec<f64> = d.iter().copied().filter(|&x| x != 0.0).collect();
    let n = nonzero.len();
    if n == 0 {
        return SignedRank {
            n,
            w_plus: 0.0,
            upper_p: 1.0,
            lower_p: 1.0,
        };
    }
    let abs: Vec<f64> = nonzero.iter().map(|x| x.abs()).collect();
    let ranks = average_ranks(&abs);
    let w_plus: f64 = ranks
        .iter()
        .zip(&nonzero)
        .filter(|(_, x)| **x > 0.0)
        .map(|(r, _)| r)
        .sum();
    let (lower_p, upper_p) = if n <= EXACT_MAX {
        exact_tails(&ranks, w_plus)
    } else {
        normal_tails(&ranks, w_plus)
    };
    SignedRank {
        n,
        w_plus,
        upper_p: upper_p.min(1.0),
        lower_p: lower_p.min(1.0),
    }
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

/// The cumulative tails of 2·W+ under random signs: (P(2W+ <= s), P(2W+ >= s)) for every s.
struct Tails {
    lower: Vec<f64>,
    upper: Vec<f64>,
}

thread_local! {
    /// Tails of untied ranks 1..n, by n: the common case, computed once per thread.
    static UNTIED: RefCell<HashMap<usize, Rc<Tails>>> = RefCell::new(HashMap::new());
}

/// Each doubled rank enters 2·W+ with probability 1/2.
fn tails_of(doubled: &[usize]) -> Tails {
    let total: usize = doubled.iter().sum();
    let mut dist = vec![0.0f64; total + 1];
    dist[0] = 1.0;
    for &r in doubled {
        for s in (r..=total).rev() {
            dist[s] = 0.5 * dist[s] + 0.5 * dist[s - r];
        }
        for v in dist.iter_mut().take(r) {
            *v *= 0.5;
        }
    }
    let mut lower = dist.clone();
    for s in 1..lower.len() {
        lower[s] += lower[s - 1];
    }
    let mut upper = dist;
    for s in (0..upper.len() - 1).rev() {
        upper[s] += upper[s + 1];
    }
    Tails { lower, upper }
}

/// Exact (lower, upper) tails at `w_plus`.
fn exact_tails(ranks: &[f64], w_plus: f64) -> (f64, f64) {
    let doubled: Vec<usize> = ranks.iter().map(|r| (r * 2.0).round() as usize).collect();
    let untied = {
        let mut sorted = doubled.clone();
        sorted.sort_unstable();
        sorted.iter().enumerate().all(|(i, &r)| r == 2 * (i + 1))
    };
    let tails = if untied {
        UNTIED.with(|cache| {
            cache
                .borrow_mut()
                .entry(doubled.len())
                .or_insert_with(|| Rc::new(tails_of(&doubled)))
                .clone()
        })
    } else {
        Rc::new(tails_of(&doubled))
    };
    let w = (w_plus * 2.0).round() as usize;
    (tails.lower[w], tails.upper[w])
}

/// Normal approximation with tie correction (no continuity correction).
fn normal_tails(ranks: &[f64], w_plus: f64) -> (f64, f64) {
    let n = ranks.len() as f64;
    let mean = n * (n + 1.0) / 4.0;
    let squares: f64 = ranks.iter().map(|r| r * r).sum();
    let sd = (squares / 4.0).sqrt();
    let z = (w_plus - mean) / sd;
    (standard_normal_cdf(z), standard_normal_cdf(-z))
}

/// Φ(z) through erfc (precise in the tails, unlike Abramowitz & Stegun 7.1.26).
fn standard_normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn exact_tails_by_hand() {
        // d = 1, 2, 3 (all positive): W+ = 6, the largest of 2^3 = 8 sign patterns.
        let s = signed_rank(&[1.0, 2.0, 3.0]);
        assert!(
            close(s.upper_p, 1.0 / 8.0) && close(s.lower_p, 1.0),
            "{s:?}"
        );
        assert!(close(s.two_sided(), 0.25));
        // d = 1, -2, 3: W+ = 4; P(W+ <= 4) = 6/8, P(W+ >= 4) = 3/8.
        let s = signed_rank(&[1.0, -2.0, 3.0]);
        assert!(close(s.lower_p, 0.75) && close(s.upper_p, 0.375) && close(s.two_sided(), 0.75));
        // Zeros are dropped; nothing left means no evidence.
        assert_eq!(signed_rank(&[0.0, 0.0]).two_sided(), 1.0);
        // Ties share ranks: |d| = 1, 1 -> ranks 1.5, 1.5; W+ = 3 of {0, 1.5, 1.5, 3}.
        assert!(close(signed_rank(&[1.0, 1.0]).two_sided(), 0.5));
    }

    #[test]
    fn issue_27_five_neurons_one_against_give_p_0_13() {
        // Ranks of |d|: .01 -> 1 (negative), .03 -> 2, .04 -> 3, .05 -> 4, .06 -> 5; W+ = 14.
        // P(W+ >= 14) = P(W- <= 1) = 2/32.
        let s = signed_rank(&[0.05, 0.04, 0.03, 0.06, -0.01]);
        assert!(close(s.upper_p, 2.0 / 32.0), "{s:?}");
        assert!(close(s.two_sided(), 0.125));
    }

    #[test]
    fn cached_untied_tails_equal_fresh_ones() {
        let d: Vec<f64> = (1..=12)
            .map(|i| f64::from(i) * if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let first = signed_rank(&d);
        assert_eq!(signed_rank(&d), first);
        let ranks: Vec<f64> = (1..=12).map(f64::from).collect();
        let (lower, upper) = exact_tails(&ranks, first.w_plus);
        assert_eq!((lower, upper), (first.lower_p, first.upper_p));
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
        let (exact, normal) = (exact_tails(&ranks, w), normal_tails(&ranks, w));
        assert!((exact.0 - normal.0).abs() < 0.01, "{exact:?} vs {normal:?}");
        assert!((exact.1 - normal.1).abs() < 0.01, "{exact:?} vs {normal:?}");
    }
}
