//! Student's t distribution: its distribution function (through the regularised incomplete
//! beta function, evaluated by Lentz's continued fraction) and its quantiles (by bisection on
//! the distribution function), the two things a t interval over neurons needs. Deterministic:
//! fixed iteration counts, no tables.

/// P(T <= t) for Student's t with `df` degrees of freedom (`df` > 0).
pub fn cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let x = df / (df + t * t);
    let tail = 0.5 * regularized_beta(x, df / 2.0, 0.5);
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// The `p` quantile of Student's t with `df` degrees of freedom, 0 < p < 1.
pub fn quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -quantile(1.0 - p, df);
    }
    let mut hi = 1.0;
    while cdf(hi, df) < p && hi < 1e12 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-14 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// I_x(a, b), the regularised incomplete beta function, 0 <= x <= 1.
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let log_front =
        libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = log_front.exp();
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry
    // I_x(a, b) = 1 - I_{1-x}(b, a) otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_published_tables() {
        // Two-sided 95% (p = 0.975) and one-sided 95% critical values of t tables.
        let table = [
            (0.975, 1.0, 12.706),
            (0.975, 4.0, 2.776),
            (0.975, 7.0, 2.365),
            (0.95, 4.0, 2.132),
            (0.95, 19.0, 1.729),
            (0.95, 1000.0, 1.646),
        ];
        for (p, df, t) in table {
            let q = quantile(p, df);
            assert!((q - t).abs() < 1e-3, "t({p}, {df}) = {q}, table {t}");
            assert!((cdf(q, df) - p).abs() < 1e-12);
        }
        assert!(quantile(0.5, 3.0).abs() < 1e-12);
        assert!((quantile(0.05, 4.0) + 2.132).abs() < 1e-3);
    }

    #[test]
    fn one_degree_of_freedom_is_cauchy() {
        for t in [-3.0, -0.5, 0.0, 1.0, 10.0] {
            let cauchy = 0.5 + f64::atan(t) / std::f64::consts::PI;
            assert!((cdf(t, 1.0) - cauchy).abs() < 1e-12, "{t}");
        }
        assert!(cdf(1.0, 0.0).is_nan() && quantile(1.5, 3.0).is_nan());
    }
}
