//! The formulas the modelling library shares, each written once: mean and variance, quantiles,
//! the medians (interpolated, or one of the values for counts and durations), the mean of
//! defined values, and the Pearson correlation that CORR, model selection, dataset
//! calibration and the decomposition all use.
//!
//! Conventions: computation in `f64`, sums in a fixed order (results do not depend on threads
//! or machines); a value that is mathematically undefined for its input is a typed
//! [`StatsError`], never a silent NaN.

/// Which of the two series of a comparison a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    First,
    Second,
}

/// Why a statistic has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    #[error("no values")]
    Empty,
    #[error("series of different lengths ({first} and {second})")]
    LengthMismatch { first: usize, second: usize },
    #[error("the {0:?} series holds a non-finite value at {1}")]
    NonFinite(Side, usize),
    #[error("the {0:?} series is constant")]
    Constant(Side),
}

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

/// The median of the defined (`Some`) values, interpolated between the two middle ones of an
/// even count (`quantile` 0.5), or `None` if there are none.
pub fn median_of(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.into_iter().flatten().collect();
    (!v.is_empty()).then(|| quantile(&v, 0.5))
}

/// The median of a sample that must stay one of its values (counts of epochs, durations): the
/// middle one of an odd count, the upper of the two middle ones of an even count; `None` if
/// empty. Unordered pairs (NaN) count as equal.
pub fn middle<T: PartialOrd + Copy>(values: &[T]) -> Option<T> {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied()
}

/// Mean of the defined (`Some`, finite) values, or `None` if there are none: how per-neuron
/// values are averaged over a population where some neurons have no value.
pub fn mean_of(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values
        .into_iter()
        .flatten()
        .filter(|x| x.is_finite())
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Sample standard deviation (divisor n − 1); `None` for fewer than two values.
pub fn sample_sd(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = values.iter().sum::<f64>() / values.len() as f64;
    let squares: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    Some((squares / (values.len() - 1) as f64).sqrt())
}

fn check_finite(values: &[f64], side: Side) -> Result<(), StatsError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite(side, index)),
        None => Ok(()),
    }
}

/// Pearson correlation r = Σ dx·dy / (√Σdx² · √Σdy²), clamped to [-1, 1] against rounding.
///
/// Undefined when the series differ in length, are empty, hold a non-finite value, or one is
/// constant (which includes a single value).
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64, StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            first: x.len(),
            second: y.len(),
        });
    }
    if x.is_empty() {
        return Err(StatsError::Empty);
    }
    check_finite(x, Side::First)?;
    check_finite(y, Side::Second)?;
    let constant = |v: &[f64]| v.iter().all(|&a| a == v[0]);
    if constant(x) {
        return Err(StatsError::Constant(Side::First));
    }
    if constant(y) {
        return Err(StatsError::Constant(Side::Second));
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 {
        return Err(StatsError::Constant(Side::First));
    }
    if syy <= 0.0 {
        return Err(StatsError::Constant(Side::Second));
    }
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// `f32` values widened to `f64`.
pub fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&a| f64::from(a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd() {
        assert_eq!(mean_of([]), None);
        assert_eq!(mean_of([Some(1.0), Some(2.0), Some(6.0)]), Some(3.0));
        assert_eq!(sample_sd(&[4.0]), None);
        // Deviations -2, -1, 3: squares 14, over n - 1 = 2.
        assert!((sample_sd(&[1.0, 2.0, 6.0]).unwrap() - 7f64.sqrt()).abs() < 1e-12);
        assert_eq!(sample_sd(&[0.5, 0.5]), Some(0.0));
    }

    #[test]
    fn mean_variance_and_quantiles_by_hand() {
        assert_eq!(mean_var(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(mean_var(&[]), (0.0, 0.0));
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 1.0), 4.0);
    }

    #[test]
    fn medians_interpolate_or_take_the_upper_middle() {
        assert_eq!(
            median_of([Some(3.0), None, Some(1.0), Some(2.0)]),
            Some(2.0)
        );
        assert_eq!(median_of([Some(4.0), Some(1.0)]), Some(2.5));
        assert_eq!(median_of([None]), None);
        assert_eq!(middle(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(middle(&[5.0]), Some(5.0));
        assert_eq!(middle(&[4.0, 1.0]), Some(4.0));
        assert_eq!(middle(&[4usize, 1, 2, 3]), Some(3));
        assert_eq!(middle::<usize>(&[]), None);
    }

    #[test]
    fn mean_of_skips_undefined_and_non_finite_values() {
        assert_eq!(
            mean_of([Some(1.0), None, Some(3.0), Some(f64::NAN)]),
            Some(2.0)
        );
        assert_eq!(mean_of([None, Some(f64::INFINITY)]), None);
    }

    #[test]
    fn pearson_matches_hand_computation() {
        // x = 1, 2, 3; y = 2, 4, 7: dx = -1, 0, 1; dy = -7/3, -1/3, 8/3;
        // Σdxdy = 5, Σdx² = 2, Σdy² = 38/3; r = 5 / √(76/3) = 0.99339...
        let r = pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]).unwrap();
        assert!((r - 5.0 / (76.0f64 / 3.0).sqrt()).abs() < 1e-15, "{r}");
        let anti = pearson(&[1.0, 2.0, 4.0], &[4.0, 2.0, -2.0]).unwrap();
        assert!((anti + 1.0).abs() < 1e-15, "{anti}");
    }

    #[test]
    fn undefined_correlations_are_typed() {
        assert_eq!(
            pearson(&[1.0, 1.0], &[1.0, 2.0]),
            Err(StatsError::Constant(Side::First))
        );
        assert_eq!(
            pearson(&[1.0, 2.0], &[0.5, 0.5]),
            Err(StatsError::Constant(Side::Second))
        );
        assert_eq!(pearson(&[], &[]), Err(StatsError::Empty));
        assert_eq!(
            pearson(&[1.0], &[1.0, 2.0]),
            Err(StatsError::LengthMismatch {
                first: 1,
                second: 2
            })
        );
        assert_eq!(
            pearson(&[1.0, f64::NAN], &[1.0, 2.0]),
            Err(StatsError::NonFinite(Side::First, 1))
        );
    }
}
