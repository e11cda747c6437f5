//! The one decision procedure for comparing two models on the same neurons, used by the
//! report's claims (`report::claims`) and by `sapipe compare`; its error rates are measured by
//! `sapipe bench verdicts` ([`super::calibration`]).
//!
//! - **Neurons are the unit.** A model's value on a neuron is the mean over its seeds; a neuron
//!   is left out when a model has no value there in some seed (undefined, e.g. a constant
//!   prediction) or lacks it; the spread across seeds is reported beside, never pooled.
//! - **Every relation is decided by two tests that must agree** at the stated `alpha`, each
//!   one-sided at `alpha`: the t interval over neurons (two-sided 1 − 2·alpha, i.e. both
//!   one-sided bounds at `alpha`) and the exact Wilcoxon signed-rank test ([`signed_rank`]).
//!   - `>`: the interval of the mean difference (left − right) lies above 0 and the signed-rank
//!     test finds the differences above 0. It does not hold when both find them below 0.
//!   - `~`: equivalence within ±margin by two one-sided tests (TOST): the interval lies inside
//!     (−margin, +margin) and the signed-rank tests of d + margin > 0 and d − margin < 0 both
//!     reject. It does not hold when both tests place the difference beyond the margin.
//!   - `>>` (far better): the mean ratio left / right exceeds [`FAR_FACTOR`]: the t interval
//!     of L − factor·R (the inversion of Fieller's interval of the ratio of means, which is
//!     shown) lies above 0 and the signed-rank test agrees; it does not hold when both place
//!     it below 0. Undefined when the right mean is negative.
//! - Fewer neurons than [`min_neurons`] (the smallest count at which the exact signed-rank
//!   test can reach `alpha`) decide nothing; nor does a model undefined on more than
//!   [`MAX_UNDEFINED_SHARE`] of the neurons.

use serde::{Deserialize, Serialize};

use super::signed_rank::signed_rank;
use super::student;

/// The default false-claim rate of one comparison.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// Smallest ratio of means that counts as "far better" (`>>`).
pub const FAR_FACTOR: f64 = 1.5;
/// The default equivalence margin of `~` as a fraction of the best value the metric can reach
/// (CORR: the mean noise ceiling, else 1; PTJ/PTS: 100%; FEVE: 1). 0.02 keeps the margin
/// below the smallest CORR difference the paper calls better (ff+sa-CNN 0.498 vs ff-CNN
/// 0.474: 0.024) whatever the ceiling, so `~` never calls equal what the paper calls `>`.
pub const MARGIN_FRACTION: f64 = 0.02;
/// Largest share of neurons a model may be undefined on (or lack) for its claims to decide.
pub const MAX_UNDEFINED_SHARE: f64 = 0.1;

/// How the left model is claimed to compare with the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    /// `>`: better.
    #[serde(rename = "gt")]
    Greater,
    /// `~`: equivalent within the margin.
    #[serde(rename = "eq")]
    Approx,
    /// `>>`: far better (ratio of means above the factor).
    #[serde(rename = "gg")]
    FarGreater,
}

impl Relation {
    pub const ALL: [Relation; 3] = [Relation::Greater, Relation::Approx, Relation::FarGreater];

    pub fn symbol(self) -> &'static str {
        match self {
            Relation::Greater => ">",
            Relation::Approx => "~",
            Relation::FarGreater => ">>",
        }
    }
}

/// Why a rule's settings are not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("alpha must be above 0 and below 0.5, found {0}")]
    Alpha(f64),
    #[error("the equivalence margin must be a positive number, found {0}")]
    Margin(f64),
}

/// The settings of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The false-claim rate of one comparison.
    pub alpha: f64,
    /// Equivalence margin of `~`, in the metric's units.
    pub margin: f64,
    /// Factor of `>>`.
    pub factor: f64,
}

impl Rule {
    pub fn new(alpha: f64, margin: f64) -> Result<Self, RuleError> {
        if !(alpha > 0.0 && alpha < 0.5) {
            return Err(RuleError::Alpha(alpha));
        }
        if !(margin > 0.0 && margin.is_finite()) {
            return Err(RuleError::Margin(margin));
        }
        Ok(Self {
            alpha,
            margin,
            factor: FAR_FACTOR,
        })
    }
}

/// The default margin of `~` for a metric whose best reachable value is `ceiling`.
pub fn default_margin(ceiling: f64) -> f64 {
    MARGIN_FRACTION * ceiling
}

/// The fewest neurons that can decide at `alpha`: the smallest n whose exact one-sided
/// signed-rank p-value can fall below `alpha` (its smallest value is 2^-n). Below it no
/// comparison could ever hold; at it, `sapipe bench verdicts` measures the error rates.
pub fn min_neurons(alpha: f64) -> usize {
    let mut n = 1;
    while 0.5f64.powi(n as i32) >= alpha && n < 64 {
        n += 1;
    }
    n
}

/// One model's values per neuron, each over its seeds (`None` where undefined in a seed).
pub type BySeed = Vec<Vec<Option<f64>>>;

/// Which model of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

/// One model's values, reduced over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideSummary {
    /// Mean over the neurons used.
    pub mean: Option<f64>,
    /// Neurons where the model has a value in no seed or not in every seed.
    pub undefined: usize,
    /// Neurons the other model has and this one lacks.
    pub absent: usize,
    /// Most seeds of a neuron.
    pub seeds: usize,
    /// Mean over the neurons used of the s.d. across seeds (none with one seed).
    pub seed_sd: Option<f64>,
}

/// An interval whose bounds may be unbounded (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// Why a comparison decides nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Undecided {
    /// Fewer neurons than [`min_neurons`].
    TooFewNeurons { used: usize, min: usize },
    /// A model lacks or is undefined on more than [`MAX_UNDEFINED_SHARE`] of the neurons.
    Undefined {
        side: Side,
        neurons: usize,
        of: usize,
    },
    /// `>>` with a negative right mean: the ratio means nothing.
    RatioUndefined,
    /// Neither the claim nor its contrary is shown by both tests.
    Unresolved,
}

/// The verdict of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Outcome {
    Holds,
    DoesNotHold,
    Inconclusive(Undecided),
}

/// One comparison, decided, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub relation: Relation,
    pub rule: Rule,
    /// Neurons either model has.
    pub neurons: usize,
    /// Neurons both models have a value on in every seed.
    pub used: usize,
    pub min_neurons: usize,
    pub left: SideSummary,
    pub right: SideSummary,
    /// Mean of left − right over the neurons used.
    pub mean_difference: Option<f64>,
    /// The (1 − 2·alpha) t interval of the mean difference.
    pub interval: Option<Interval>,
    /// `>>`: the ratio of means and its (1 − 2·alpha) Fieller interval.
    pub ratio: Option<f64>,
    pub ratio_interval: Option<Interval>,
    /// The one-sided signed-rank p-value of the claim as stated (`~`: the larger of its two).
    pub wilcoxon_p: Option<f64>,
    pub outcome: Outcome,
    /// The outcome in words, with the numbers that decided it.
    pub reason: String,
}

/// Per neuron, the mean over seeds, `None` where a seed lacks a finite value; and each
/// neuron's s.d. across seeds.
fn reduce(values: &[Vec<Option<f64>>]) -> Vec<Option<(f64, Option<f64>)>> {
    values
        .iter()
        .map(|seeds| {
            let v: Option<Vec<f64>> = seeds.iter().map(|x| x.filter(|v| v.is_finite())).collect();
            let v = v.filter(|v| !v.is_empty())?;
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            Some((mean, crate::neuro::stats::sample_sd(&v)))
        })
        .collect()
}

/// Mean and the (1 − 2·alpha) t interval of the mean of `x` (at least two values).
fn t_interval(x: &[f64], alpha: f64) -> Option<(f64, f64, f64)> {
    let sd = crate::neuro::stats::sample_sd(x)?;
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let half = student::quantile(1.0 - alpha, n - 1.0) * sd / n.sqrt();
    Some((mean, mean - half, mean + half))
}

/// Evidence, by both tests at `alpha`, that the mean of `x` lies above (`above`) or below 0:
/// (t says so, signed-rank says so, the signed-rank p).
fn one_sided(x: &[f64], alpha: f64, above: bool) -> (bool, bool, f64) {
    let Some((_, lo, hi)) = t_interval(x, alpha) else {
        return (false, false, 1.0);
    };
    let w = signed_rank(x);
    let (t, p) = if above {
        (lo > 0.0, w.upper_p)
    } else {
        (hi < 0.0, w.lower_p)
    };
    (t, p < alpha, p)
}

/// Fieller's (1 − 2·alpha) interval of mean(a) / mean(b) over paired values.
fn fieller(a: &[f64], b: &[f64], alpha: f64) -> Interval {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov = |x: &[f64], mx: f64, y: &[f64], my: f64| {
        x.iter()
            .zip(y)
            .map(|(p, q)| (p - mx) * (q - my))
            .sum::<f64>()
            / (n - 1.0)
    };
    let (saa, sbb, sab) = (cov(a, ma, a, ma), cov(b, mb, b, mb), cov(a, ma, b, mb));
    let q = student::quantile(1.0 - alpha, n - 1.0).powi(2) / n;
    let qa = mb * mb - q * sbb;
    let qb = ma * mb - q * sab;
    let qc = ma * ma - q * saa;
    let disc = qb * qb - qa * qc;
    if qa <= 0.0 || disc < 0.0 {
        return Interval { lo: None, hi: None };
    }
    let root = disc.sqrt();
    Interval {
        lo: Some((qb - root) / qa),
        hi: Some((qb + root) / qa),
    }
}

/// Decides `left relation right`. `left[i]` and `right[i]` are neuron i's values over seeds
/// (`None` where undefined); a neuron one side lacks (beyond its length, or an empty list) is
/// absent there.
pub fn decide(
    relation: Relation,
    left: &[Vec<Option<f64>>],
    right: &[Vec<Option<f64>>],
    rule: &Rule,
) -> Decision {
    let neurons = left.len().max(right.len());
    let pad = |v: &[Vec<Option<f64>>]| {
        let mut v = v.to_vec();
        v.resize(neurons, Vec::new());
        v
    };
    let (l, r) = (pad(left), pad(right));
    let (rl, rr) = (reduce(&l), reduce(&r));
    let mut pairs = Vec::new();
    let (mut sl, mut sr) = (Vec::new(), Vec::new());
    for i in 0..neurons {
        if let (Some(a), Some(b)) = (rl[i], rr[i]) {
            pairs.push((a.0, b.0));
            sl.extend(a.1);
            sr.extend(b.1);
        }
    }
    let side = |values: &[Vec<Option<f64>>], other: &[Vec<Option<f64>>], sds: &[f64], mean| {
        let absent = (0..neurons)
            .filter(|&i| values[i].is_empty() && !other[i].is_empty())
            .count();
        let undefined = (0..neurons)
            .filter(|&i| !values[i].is_empty() && reduce(&values[i..=i])[0].is_none())
            .count();
        SideSummary {
            mean,
            undefined,
            absent,
            seeds: values.iter().map(Vec::len).max().unwrap_or(0),
            seed_sd: (!sds.is_empty()).then(|| sds.iter().sum::<f64>() / sds.len() as f64),
        }
    };
    let a: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let b: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let d: Vec<f64> = pairs.iter().map(|(x, y)| x - y).collect();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let mut decision = Decision {
        relation,
        rule: *rule,
        neurons,
        used: pairs.len(),
        min_neurons: min_neurons(rule.alpha),
        left: side(&l, &r, &sl, mean(&a)),
        right: side(&r, &l, &sr, mean(&b)),
        mean_difference: mean(&d),
        interval: t_interval(&d, rule.alpha).map(|(_, lo, hi)| Interval {
            lo: Some(lo),
            hi: Some(hi),
        }),
        ratio: None,
        ratio_interval: None,
        wilcoxon_p: None,
        outcome: Outcome::Inconclusive(Undecided::Unresolved),
        reason: String::new(),
    };
    if relation == Relation::FarGreater && pairs.len() >= 2 {
        let (ma, mb) = (mean(&a).unwrap_or(0.0), mean(&b).unwrap_or(0.0));
        decision.ratio = (mb > 0.0).then(|| ma / mb);
        decision.ratio_interval = Some(fieller(&a, &b, rule.alpha));
    }
    decision.outcome = outcome(&decision, &a, &b, &d, rule);
    decision.wilcoxon_p = claim_p(relation, &a, &b, &d, rule);
    decision.reason = reason(&decision);
    decision
}

/// The one-sided signed-rank p-value of the claim as stated.
fn claim_p(relation: Relation, a: &[f64], b: &[f64], d: &[f64], rule: &Rule) -> Option<f64> {
    if d.is_empty() {
        return None;
    }
    Some(match relation {
        Relation::Greater => signed_rank(d).upper_p,
        Relation::FarGreater => {
            let e: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - rule.factor * y).collect();
            signed_rank(&e).upper_p
        }
        Relation::Approx => {
            let up: Vec<f64> = d.iter().map(|x| x + rule.margin).collect();
            let down: Vec<f64> = d.iter().map(|x| x - rule.margin).collect();
            signed_rank(&up).upper_p.max(signed_rank(&down).lower_p)
        }
    })
}

/// The outcome: first whether the evidence can decide at all, then the two tests.
fn outcome(dec: &Decision, a: &[f64], b: &[f64], d: &[f64], rule: &Rule) -> Outcome {
    for (side, s) in [(Side::Left, &dec.left), (Side::Right, &dec.right)] {
        let out = s.undefined + s.absent;
        if dec.neurons > 0 && out as f64 > MAX_UNDEFINED_SHARE * dec.neurons as f64 {
            return Outcome::Inconclusive(Undecided::Undefined {
                side,
                neurons: out,
                of: dec.neurons,
            });
        }
    }
    if dec.used < dec.min_neurons {
        return Outcome::Inconclusive(Undecided::TooFewNeurons {
            used: dec.used,
            min: dec.min_neurons,
        });
    }
    let both = |x: &[f64], above: bool| {
        let (t, w, _) = one_sided(x, rule.alpha, above);
        t && w
    };
    let shifted = |by: f64| -> Vec<f64> { d.iter().map(|x| x + by).collect() };
    let (holds, refuted) = match dec.relation {
        Relation::Greater => (both(d, true), both(d, false)),
        Relation::Approx => {
            let m = rule.margin;
            let inside = both(&shifted(m), true) && both(&shifted(-m), false);
            let beyond = both(&shifted(-m), true) || both(&shifted(m), false);
            (inside, beyond)
        }
        Relation::FarGreater => {
            if dec.right.mean.is_some_and(|m| m < 0.0) {
                return Outcome::Inconclusive(Undecided::RatioUndefined);
            }
            let e: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - rule.factor * y).collect();
            (both(&e, true), both(&e, false))
        }
    };
    match (holds, refuted) {
        (true, _) => Outcome::Holds,
        (false, true) => Outcome::DoesNotHold,
        (false, false) => Outcome::Inconclusive(Undecided::Unresolved),
    }
}

/// A signed number with 3 decimals (`+0.012`, `−0.030`); an unbounded end as `±∞`.
fn signed(x: Option<f64>, infinity: &str) -> String {
    match x {
        None => infinity.into(),
        Some(x) => format!("{}{:.3}", if x >= 0.0 { "+" } else { "−" }, x.abs()),
    }
}

/// `[−0.010, +0.050]`.
pub fn interval_text(i: &Interval) -> String {
    format!("[{}, {}]", signed(i.lo, "−∞"), signed(i.hi, "+∞"))
}

/// For an unresolved `>` or `~`: which of the two tests alone would have shown the claim.
fn disagreement(d: &Decision) -> &'static str {
    let (Outcome::Inconclusive(Undecided::Unresolved), Some(i), Some(p)) =
        (&d.outcome, d.interval, d.wilcoxon_p)
    else {
        return "";
    };
    let (lo, hi) = (
        i.lo.unwrap_or(f64::NEG_INFINITY),
        i.hi.unwrap_or(f64::INFINITY),
    );
    let t = match d.relation {
        Relation::Greater => lo > 0.0,
        Relation::Approx => -d.rule.margin < lo && hi < d.rule.margin,
        Relation::FarGreater => return "",
    };
    match (t, p < d.rule.alpha) {
        (true, false) => " (the t interval alone would show it; the signed-rank test does not)",
        (false, true) => " (the signed-rank test alone would show it; the t interval does not)",
        _ => "",
    }
}

/// The outcome in words, with the numbers that decided it.
fn reason(d: &Decision) -> String {
    let alpha = d.rule.alpha;
    let level = format!("{}%", (100.0 * (1.0 - 2.0 * alpha) * 10.0).round() / 10.0);
    let interval = d.interval.as_ref().map_or("—".into(), interval_text);
    let p = d.wilcoxon_p.map_or("—".into(), |p| format!("{p:.3}"));
    let m = d.rule.margin;
    let why = match &d.outcome {
        Outcome::Inconclusive(Undecided::TooFewNeurons { used, min }) => {
            return format!("too few neurons: {used} used, at least {min} at alpha = {alpha}");
        }
        Outcome::Inconclusive(Undecided::Undefined { side, neurons, of }) => {
            let side = match side {
                Side::Left => "left",
                Side::Right => "right",
            };
            return format!(
                "the {side} model is undefined or absent on {neurons} of {of} neurons \
                 (more than {}%)",
                100.0 * MAX_UNDEFINED_SHARE
            );
        }
        Outcome::Inconclusive(Undecided::RatioUndefined) => {
            return "the right model's mean is negative: the ratio means nothing".into();
        }
        Outcome::Holds => "shown",
        Outcome::DoesNotHold => "contradicted",
        Outcome::Inconclusive(Undecided::Unresolved) => "not shown",
    };
    let disagreement = disagreement(d);
    match d.relation {
        Relation::Greater => format!(
            "{why}: {level} t interval of the difference {interval} against 0, Wilcoxon \
             one-sided p = {p} against alpha = {alpha}{disagreement}"
        ),
        Relation::Approx => format!(
            "equivalence within ±{m:.3} {why}: {level} t interval {interval} against \
             (−{m:.3}, +{m:.3}), Wilcoxon TOST p = {p} against alpha = {alpha}{disagreement}"
        ),
        Relation::FarGreater => {
            let ratio = d.ratio.map_or("—".into(), |r| format!("{r:.2}"));
            let fieller = d.ratio_interval.as_ref().map_or("—".into(), interval_text);
            format!(
                "{why}: ratio of means {ratio}, {level} Fieller interval {fieller} against \
                 {}, Wilcoxon one-sided p = {p} (left − {}·right) against alpha = {alpha}",
                d.rule.factor, d.rule.factor
            )
        }
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
