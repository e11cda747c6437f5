//! The paper's ordering claims (models.md §8), checked against the numbers measured on this
//! run: each claim is a chain of comparisons between named models, each decided on the
//! per-neuron paired differences ([`crate::neuro::scoring::paired`]); a model trained with
//! several seeds pairs neuron i of seed s with neuron i of seed s ([`super::seeds`]).
//!
//! Verdicts only from evidence: a claim **does not hold** when a comparison with enough
//! evidence contradicts it; it is **inconclusive**, with the reasons, when a comparison cannot
//! decide (too few neurons, an under-trained model, PTJ/PTS too coarse for k, or an interval
//! that contains 0 for `>`); it is **not measured** when models are missing; otherwise it
//! **holds**. Relations: `>` the interval of the mean difference lies above 0; `~` it contains
//! 0; `>>` (far better) `>` and a mean at least [`FAR_FACTOR`] times the other.

use std::fmt::Write as _;

use crate::neuro::scoring::evaluation::{Evaluation, ModelEvaluation};
use crate::neuro::scoring::paired::{self, Paired};

use super::roles::{
    self, FF_CNN, FF_SA_CNN, FF_SA_STAR_FC2_INCR, FF_SA_STAR_SIMUL, RF_CNN, RF_SA_CNN,
    RF_SA_STAR_INCR, RF_SA_STAR_SIMUL, Role,
};
use super::seeds::{self, Replicates};

/// Smallest ratio that counts as "far better".
pub const FAR_FACTOR: f64 = 1.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Corr,
    PtjPercent,
    PtsPercent,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Corr => "CORR",
            Metric::PtjPercent => "PTJ %",
            Metric::PtsPercent => "PTS %",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Greater,
    Approx,
    FarGreater,
}

impl Relation {
    fn symbol(self) -> &'static str {
        match self {
            Relation::Greater => ">",
            Relation::Approx => "~",
            Relation::FarGreater => ">>",
        }
    }
}

/// One comparison of a claim: `left relation right` in `metric`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub left: Role,
    pub relation: Relation,
    pub right: Role,
    pub metric: Metric,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub statement: &'static str,
    pub comparisons: Vec<Comparison>,
}

fn cmp(left: Role, relation: Relation, right: Role, metric: Metric) -> Comparison {
    Comparison {
        left,
        relation,
        right,
        metric,
    }
}

/// The ordering claims of models.md §8, as comparisons.
pub fn paper_claims() -> Vec<Claim> {
    use Metric::*;
    use Relation::*;
    let peak = |metric| {
        vec![
            cmp(FF_SA_CNN, Greater, FF_CNN, metric),
            cmp(FF_CNN, Greater, RF_SA_CNN, metric),
            cmp(FF_CNN, Greater, RF_CNN, metric),
        ]
    };
    vec![
        Claim {
            statement: "In CORR, rf-CNN > rf+sa-CNN ~ ff+sa-CNN > ff-CNN",
            comparisons: vec![
                cmp(RF_CNN, Greater, RF_SA_CNN, Corr),
                cmp(RF_SA_CNN, Approx, FF_SA_CNN, Corr),
                cmp(FF_SA_CNN, Greater, FF_CNN, Corr),
            ],
        },
        Claim {
            statement: "In peak tuning (PTJ), ff+sa-CNN > ff-CNN > rf+sa-CNN, rf-CNN",
            comparisons: peak(PtjPercent),
        },
        Claim {
            statement: "In peak tuning (PTS), ff+sa-CNN > ff-CNN > rf+sa-CNN, rf-CNN",
            comparisons: peak(PtsPercent),
        },
        Claim {
            statement: "In CORR, rf+sa-CNN* (Incr.) ~ rf-CNN > rf+sa-CNN* (Simul.)",
            comparisons: vec![
                cmp(RF_SA_STAR_INCR, Approx, RF_CNN, Corr),
                cmp(RF_CNN, Greater, RF_SA_STAR_SIMUL, Corr),
            ],
        },
        Claim {
            statement: "ff+sa-CNN* FC2 (Incr.) peaks far better than ff+sa-CNN* (Simul.)",
            comparisons: vec![
                cmp(
                    FF_SA_STAR_FC2_INCR,
                    FarGreater,
                    FF_SA_STAR_SIMUL,
                    PtjPercent,
                ),
                cmp(
                    FF_SA_STAR_FC2_INCR,
                    FarGreater,
                    FF_SA_STAR_SIMUL,
                    PtsPercent,
                ),
            ],
        },
    ]
}

/// Why a comparison cannot decide, whatever its numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Fewer paired neurons than [`MIN_NEURONS`].
    TooFewNeurons(usize),
    /// PTJ/PTS with fewer top images per neuron than [`MIN_PEAK_K`].
    CoarsePeakTuning { k: usize, images: usize },
    /// Most neurons of this model were still improving at the last epoch.
    UnderTrained(&'static str),
    /// The interval of the difference contains zero, so `>` is not resolved.
    Unresolved,
}

impl Reason {
    pub fn text(&self) -> String {
        match self {
            Reason::TooFewNeurons(n) => {
                format!("too few neurons (n = {n}; at least {MIN_NEURONS})")
            }
            Reason::CoarsePeakTuning { k, images } => format!(
                "PTJ/PTS resolution too coarse (k = {k} of {images} images; at least {MIN_PEAK_K})"
            ),
            Reason::UnderTrained(model) => format!("{model} under-trained"),
            Reason::Unresolved => "difference not resolved (interval contains 0)".into(),
        }
    }
}

/// Fewest neurons a comparison needs.
pub const MIN_NEURONS: usize = 5;
/// Fewest top images per neuron (k) for PTJ/PTS to compare models (k = 1% of test images).
pub const MIN_PEAK_K: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    /// A measured comparison with enough evidence contradicts the claim.
    DoesNotHold,
    /// The evidence cannot decide; the reasons say why.
    Inconclusive(Vec<Reason>),
    /// Nothing contradicts the claim, but some of its models were not evaluated.
    NotMeasured,
}

impl Verdict {
    pub fn text(&self) -> String {
        match self {
            Verdict::Holds => "holds".into(),
            Verdict::DoesNotHold => "does not hold".into(),
            Verdict::Inconclusive(reasons) => {
                let why: Vec<String> = reasons.iter().map(Reason::text).collect();
                format!("inconclusive: {}", why.join("; "))
            }
            Verdict::NotMeasured => "not measured".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClaimResult {
    pub statement: &'static str,
    pub verdict: Verdict,
    /// The measured comparisons with their paired statistics.
    pub measured: Vec<String>,
    /// Models of the claim that were not evaluated.
    pub missing: Vec<&'static str>,
}

/// The first model playing `role`, over its seeds.
fn model<'a>(evaluation: &'a Evaluation, role: &Role) -> Option<Replicates<'a>> {
    seeds::group(roles::find(evaluation, role))
        .into_iter()
        .next()
}

/// One model's per-neuron values of `metric`, indexed by neuron.
fn per_neuron(m: &ModelEvaluation, metric: Metric, neurons: usize) -> Vec<Option<f64>> {
    let mut values = vec![None; neurons];
    for n in &m.neurons {
        if let Some(slot) = values.get_mut(n.neuron) {
            *slot = match metric {
                Metric::Corr => n.corr,
                Metric::PtjPercent => n.ptj.map(|v| 100.0 * v),
                Metric::PtsPercent => n.pts.map(|v| 100.0 * v),
            };
        }
    }
    values
}

/// What one comparison shows: `Some(true)` / `Some(false)` when decided, `None` when not.
fn decide(relation: Relation, p: &Paired) -> Option<bool> {
    let (lo, hi) = p.interval;
    match relation {
        Relation::Approx => Some(p.tie()),
        Relation::Greater if lo > 0.0 => Some(true),
        Relation::Greater if hi < 0.0 => Some(false),
        Relation::FarGreater if hi < 0.0 => Some(false),
        Relation::FarGreater if lo > 0.0 => Some(p.mean_left >= FAR_FACTOR * p.mean_right),
        Relation::Greater | Relation::FarGreater => None,
    }
}

/// Reasons the evidence of a comparison between `left` and `right` cannot decide.
fn evidence_problems(
    evaluation: &Evaluation,
    c: &Comparison,
    left: &Replicates,
    right: &Replicates,
    p: &Paired,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if p.neurons < MIN_NEURONS {
        reasons.push(Reason::TooFewNeurons(p.neurons));
    }
    if c.metric != Metric::Corr && evaluation.k < MIN_PEAK_K {
        reasons.push(Reason::CoarsePeakTuning {
            k: evaluation.k,
            images: evaluation.images,
        });
    }
    for (role, g) in [(&c.left, left), (&c.right, right)] {
        let under_trained = |m: &ModelEvaluation| {
            m.model
                .convergence
                .as_ref()
                .is_some_and(|c| c.under_trained)
        };
        if g.members.iter().any(|(_, m)| under_trained(m)) {
            reasons.push(Reason::UnderTrained(role.name));
        }
    }
    reasons
}

/// How `n` counts when a comparison pairs several seeds: ` (8 neurons × 3 seeds)`.
fn over_seeds_note(neurons: usize, paired_seeds: usize) -> String {
    match paired_seeds {
        0 | 1 => String::new(),
        s => format!(" ({neurons} neurons × {s} seeds)"),
    }
}

fn signed(x: f64) -> String {
    format!("{}{:.3}", if x >= 0.0 { "+" } else { "−" }, x.abs())
}

fn check(evaluation: &Evaluation, claim: &Claim) -> ClaimResult {
    let (mut measured, mut missing) = (Vec::new(), Vec::new());
    let (mut refuted, mut reasons) = (false, Vec::new());
    for c in &claim.comparisons {
        let (left, right) = (model(evaluation, &c.left), model(evaluation, &c.right));
        for (role, m) in [(&c.left, &left), (&c.right, &right)] {
            if m.is_none() && !missing.contains(&role.name) {
                missing.push(role.name);
            }
        }
        let (Some(left), Some(right)) = (left, right) else {
            continue;
        };
        let n = evaluation.neurons;
        let values = |m: &ModelEvaluation| per_neuron(m, c.metric, n);
        let (l, r, paired_seeds) = seeds::over_seeds(&left, &right, values);
        let Some(p) = paired::compare(&l, &r) else {
            missing.push(c.left.name);
            continue;
        };
        let problems = evidence_problems(evaluation, c, &left, &right, &p);
        let decided = decide(c.relation, &p);
        let outcome = match (decided, problems.is_empty()) {
            (Some(true), true) => "yes",
            (Some(false), true) => "no",
            _ => "undecided",
        };
        match (decided, problems.is_empty()) {
            (Some(false), true) => refuted = true,
            (Some(true), true) => {}
            (None, true) => reasons.push(Reason::Unresolved),
            (_, false) => reasons.extend(problems),
        }
        measured.push(format!(
            "{}: {} {:.3} {} {} {:.3}: Δ {} [{}, {}], Wilcoxon p = {:.2}, n = {}{} ({outcome})",
            c.metric.name(),
            c.left.name,
            p.mean_left,
            c.relation.symbol(),
            c.right.name,
            p.mean_right,
            signed(p.mean_difference),
            signed(p.interval.0),
            signed(p.interval.1),
            p.wilcoxon_p,
            p.neurons,
            over_seeds_note(n, paired_seeds)
        ));
    }
    reasons.dedup();
    let verdict = if refuted {
        Verdict::DoesNotHold
    } else if !reasons.is_empty() {
        let mut unique = Vec::new();
        for r in reasons {
            if !unique.contains(&r) {
                unique.push(r);
            }
        }
        Verdict::Inconclusive(unique)
    } else if !missing.is_empty() {
        Verdict::NotMeasured
    } else {
        Verdict::Holds
    };
    ClaimResult {
        statement: claim.statement,
        verdict,
        measured,
        missing,
    }
}

/// Checks every claim of models.md §8 against one evaluation.
pub fn check_claims(evaluation: &Evaluation) -> Vec<ClaimResult> {
    paper_claims()
        .iter()
        .map(|c| check(evaluation, c))
        .collect()
}

/// The claims as a markdown table.
pub fn claims_markdown(results: &[ClaimResult]) -> String {
    let mut out = String::from("| Claim | On this run | Measured |\n|---|---|---|\n");
    for r in results {
        let mut evidence = r.measured.join("; ");
        if !r.missing.is_empty() {
            let missing = format!("not evaluated: {}", r.missing.join(", "));
            evidence = if evidence.is_empty() {
                missing
            } else {
                format!("{evidence}; {missing}")
            };
        }
        out += &format!(
            "| {} | **{}** | {} |\n",
            r.statement,
            r.verdict.text(),
            evidence
        );
    }
    out += &format!(
        "\n_Each comparison uses the per-neuron paired differences (left − right): Δ is their \
         mean with a 95% bootstrap interval over neurons, p the two-sided Wilcoxon signed-rank \
         test. `>` holds when the interval lies above 0; `~` when it contains 0; `>>` (far \
         better) needs `>` and a mean at least {FAR_FACTOR}x. A comparison decides nothing with \
         fewer than {MIN_NEURONS} neurons, an under-trained model, or (PTJ/PTS) fewer than \
         {MIN_PEAK_K} top images per neuron._\n"
    );
    out
}

/// Per model: how many epochs, the median best epoch, how many neurons were still improving
/// at the end, and whether the model is under-trained.
pub fn convergence_markdown(evaluation: &Evaluation) -> String {
    let mut out = String::from(
        "| Model | Epochs | Median best epoch | Still improving at the end | Training |\n|---|---:|---:|---:|---|\n",
    );
    for m in &evaluation.models {
        let Some(c) = &m.model.convergence else {
            let _ = writeln!(out, "| {} | | | | not recorded |", m.model.label);
            continue;
        };
        let best = c.median_best_epoch.map_or("—".into(), |e| e.to_string());
        let state = if c.under_trained {
            "**under-trained**"
        } else {
            "converged"
        };
        let _ = writeln!(
            out,
            "| {} | {} | {best} | {} of {} neurons | {state} |",
            m.model.label, c.epochs, c.improving_at_end, c.neurons
        );
    }
    out += "\n_A neuron is still improving when its last epoch has its best validation CORR; a \
            model is under-trained when more than half of its neurons are. Claims involving an \
            under-trained model are inconclusive._\n";
    out
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
