//! The paper's ordering claims (models.md §8), checked against the numbers measured on this
//! run: each claim is a chain of comparisons between named models, each decided by the one
//! decision procedure of [`crate::neuro::scoring::verdict`] on per-neuron values (a model
//! trained with several seeds is averaged per neuron first, [`super::seeds::by_neuron`]).
//!
//! Verdicts only from evidence: a claim **does not hold** when a comparison with enough
//! evidence contradicts it; it is **inconclusive**, with the reasons, when a comparison cannot
//! decide (too few neurons, a model undefined on too many, a model whose training did not
//! converge ([`convergence::judge`]), PTJ/PTS too coarse for k, or tests that do not show the
//! relation at alpha); it is **not measured** when models are missing; otherwise it **holds**.

use std::fmt::Write as _;

use crate::neuro::scoring::convergence::{self, Training};
use crate::neuro::scoring::evaluation::{Evaluation, ModelEvaluation};
use crate::neuro::scoring::verdict::{self, Decision, Outcome, Rule, Side, Undecided};
pub use crate::neuro::scoring::verdict::{FAR_FACTOR, Relation};

use super::roles::{
    self, FF_CNN, FF_SA_CNN, FF_SA_STAR_FC2_INCR, FF_SA_STAR_SIMUL, RF_CNN, RF_SA_CNN,
    RF_SA_STAR_INCR, RF_SA_STAR_SIMUL, Role,
};
use super::seeds::{self, Replicates};

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

    /// The default margin of `~` in this metric ([`verdict::default_margin`]): of the mean
    /// noise ceiling for CORR (1 without test repeats), of 100% for PTJ/PTS.
    pub fn margin(self, evaluation: &Evaluation) -> f64 {
        let ceiling = match self {
            Metric::Corr => evaluation
                .noise_ceiling
                .as_ref()
                .and_then(|s| s.mean)
                .filter(|c| c.is_finite() && *c > 0.0)
                .unwrap_or(1.0),
            Metric::PtjPercent | Metric::PtsPercent => 100.0,
        };
        verdict::default_margin(ceiling)
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
    /// The experiment pipeline that trains the claim's models.
    pub checked_by: &'static str,
}

/// The pipelines that train the models of the paper's claims.
const FACTORIZED: &str = "pipelines/factorized.yaml";
const INCREMENTAL: &str = "pipelines/incremental.yaml";

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
            checked_by: FACTORIZED,
        },
        Claim {
            statement: "In peak tuning (PTJ), ff+sa-CNN > ff-CNN > rf+sa-CNN, rf-CNN",
            comparisons: peak(PtjPercent),
            checked_by: FACTORIZED,
        },
        Claim {
            statement: "In peak tuning (PTS), ff+sa-CNN > ff-CNN > rf+sa-CNN, rf-CNN",
            comparisons: peak(PtsPercent),
            checked_by: FACTORIZED,
        },
        Claim {
            statement: "In CORR, rf+sa-CNN* (Incr.) ~ rf-CNN > rf+sa-CNN* (Simul.)",
            comparisons: vec![
                cmp(RF_SA_STAR_INCR, Approx, RF_CNN, Corr),
                cmp(RF_CNN, Greater, RF_SA_STAR_SIMUL, Corr),
            ],
            checked_by: INCREMENTAL,
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
            checked_by: INCREMENTAL,
        },
    ]
}

/// Why a comparison cannot decide.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Fewer paired neurons than the procedure's minimum.
    TooFewNeurons { used: usize, min: usize },
    /// A model lacks or is undefined on too many neurons.
    Undefined {
        model: &'static str,
        neurons: usize,
        of: usize,
    },
    /// `>>` against a model with a negative mean.
    RatioUndefined(&'static str),
    /// PTJ/PTS with fewer top images per neuron than [`MIN_PEAK_K`].
    CoarsePeakTuning { k: usize, images: usize },
    /// The model's training did not converge ([`convergence::judge`]).
    Training(&'static str, Training),
    /// The two tests do not show the relation (nor its contrary) at alpha.
    Unresolved,
}

impl Reason {
    pub fn text(&self) -> String {
        match self {
            Reason::TooFewNeurons { used, min } => {
                format!("too few neurons (n = {used}; at least {min})")
            }
            Reason::Undefined { model, neurons, of } => format!(
                "{model} undefined on {neurons} of {of} neurons (more than {}%)",
                100.0 * verdict::MAX_UNDEFINED_SHARE
            ),
            Reason::RatioUndefined(model) => format!("{model} has a negative mean: no ratio"),
            Reason::CoarsePeakTuning { k, images } => format!(
                "PTJ/PTS resolution too coarse (k = {k} of {images} images; at least {MIN_PEAK_K})"
            ),
            Reason::Training(model, t) => format!("{model} {}", t.text()),
            Reason::Unresolved => "relation not shown by both tests at alpha".into(),
        }
    }

    fn of(u: &Undecided, c: &Comparison) -> Self {
        match u {
            Undecided::TooFewNeurons { used, min } => Reason::TooFewNeurons {
                used: *used,
                min: *min,
            },
            Undecided::Undefined { side, neurons, of } => Reason::Undefined {
                model: match side {
                    Side::Left => c.left.name,
                    Side::Right => c.right.name,
                },
                neurons: *neurons,
                of: *of,
            },
            Undecided::RatioUndefined => Reason::RatioUndefined(c.right.name),
            Undecided::Unresolved => Reason::Unresolved,
        }
    }
}

/// Fewest top images per neuron (k) for PTJ/PTS to compare models (k = 1% of test images).
pub const MIN_PEAK_K: usize = 10;

#[derive(Debug, Clone, PartialEq)]
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
    /// The experiment pipeline that trains the claim's models.
    pub checked_by: &'static str,
}

impl ClaimResult {
    /// None of the claim's comparisons could be measured: the run has not its models.
    pub fn unchecked(&self) -> bool {
        self.verdict == Verdict::NotMeasured && self.measured.is_empty()
    }
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

/// How a model's training ended, judged on every seed; the first that did not converge.
fn training(evaluation: &Evaluation, group: &Replicates) -> Training {
    for (_, m) in &group.members {
        let corr = per_neuron(m, Metric::Corr, evaluation.neurons);
        let t = convergence::judge(m.model.convergence.as_ref(), &corr, evaluation.images);
        if t != Training::Converged {
            return t;
        }
    }
    Training::Converged
}

/// Reasons a comparison between `left` and `right` cannot decide, whatever its numbers.
fn evidence_problems(
    evaluation: &Evaluation,
    c: &Comparison,
    left: &Replicates,
    right: &Replicates,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if c.metric != Metric::Corr && evaluation.k < MIN_PEAK_K {
        reasons.push(Reason::CoarsePeakTuning {
            k: evaluation.k,
            images: evaluation.images,
        });
    }
    for (role, g) in [(&c.left, left), (&c.right, right)] {
        let t = training(evaluation, g);
        if t != Training::Converged {
            reasons.push(Reason::Training(role.name, t));
        }
    }
    reasons
}

/// The seeds behind a comparison and their spread: ` (seeds 3/3, s.d. across seeds
/// 0.012/0.010)`; nothing for models evaluated once.
fn seeds_note(d: &Decision) -> String {
    if d.left.seeds <= 1 && d.right.seeds <= 1 {
        return String::new();
    }
    let sd = |s: Option<f64>| s.map_or("—".into(), |s| format!("{s:.3}"));
    format!(
        " (seeds {}/{}, averaged per neuron; s.d. across seeds {}/{})",
        d.left.seeds,
        d.right.seeds,
        sd(d.left.seed_sd),
        sd(d.right.seed_sd)
    )
}

/// The neurons a comparison left out: `, 1 left out (undefined in rf-CNN)`.
fn left_out_note(d: &Decision, c: &Comparison) -> String {
    let out = d.neurons - d.used;
    if out == 0 {
        return String::new();
    }
    let mut why = Vec::new();
    for (name, s) in [(c.left.name, &d.left), (c.right.name, &d.right)] {
        if s.undefined > 0 {
            why.push(format!("{} undefined in {name}", s.undefined));
        }
        if s.absent > 0 {
            why.push(format!("{} absent from {name}", s.absent));
        }
    }
    format!(", {out} left out ({})", why.join(", "))
}

fn mean3(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{x:.3}"))
}

/// One measured comparison as the report shows it.
fn measured_text(c: &Comparison, d: &Decision, outcome: &str) -> String {
    let interval = d
        .interval
        .as_ref()
        .map_or("—".into(), verdict::interval_text);
    let level = (100.0 * (1.0 - 2.0 * d.rule.alpha)).round();
    let extra = match c.relation {
        Relation::Approx => format!(", margin ±{:.3}", d.rule.margin),
        Relation::FarGreater => format!(
            ", ratio {} {level}% Fieller {}",
            d.ratio.map_or("—".into(), |r| format!("{r:.2}")),
            d.ratio_interval
                .as_ref()
                .map_or("—".into(), verdict::interval_text)
        ),
        Relation::Greater => String::new(),
    };
    format!(
        "{}: {} {} {} {} {}: Δ {} {level}% t {interval}{extra}, Wilcoxon p = {} (one-sided), \
         n = {}{}{} ({outcome})",
        c.metric.name(),
        c.left.name,
        mean3(d.left.mean),
        c.relation.symbol(),
        c.right.name,
        mean3(d.right.mean),
        d.mean_difference.map_or("—".into(), |m| format!(
            "{}{:.3}",
            if m >= 0.0 { "+" } else { "−" },
            m.abs()
        )),
        d.wilcoxon_p.map_or("—".into(), |p| format!("{p:.3}")),
        d.used,
        left_out_note(d, c),
        seeds_note(d)
    )
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
        let (l, r) = (
            seeds::by_neuron(&left, values),
            seeds::by_neuron(&right, values),
        );
        let rule = Rule {
            alpha: verdict::DEFAULT_ALPHA,
            margin: c.metric.margin(evaluation),
            factor: FAR_FACTOR,
        };
        let d = verdict::decide(c.relation, &l, &r, &rule);
        let problems = evidence_problems(evaluation, c, &left, &right);
        let outcome = match (&d.outcome, problems.is_empty()) {
            (Outcome::Holds, true) => "yes",
            (Outcome::DoesNotHold, true) => "no",
            _ => "undecided",
        };
        match (&d.outcome, problems.is_empty()) {
            (Outcome::DoesNotHold, true) => refuted = true,
            (Outcome::Holds, true) => {}
            (Outcome::Inconclusive(u), true) => reasons.push(Reason::of(u, c)),
            (_, false) => reasons.extend(problems),
        }
        measured.push(measured_text(c, &d, outcome));
    }
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
        checked_by: claim.checked_by,
    }
}

/// Checks every claim of models.md §8 against one evaluation.
pub fn check_claims(evaluation: &Evaluation) -> Vec<ClaimResult> {
    paper_claims()
        .iter()
        .map(|c| check(evaluation, c))
        .collect()
}

/// The claims as a markdown table: those this run measured at least in part, then a list of
/// those it has none of the models of, with the pipeline that trains them.
pub fn claims_markdown(results: &[ClaimResult]) -> String {
    let mut out = String::from("| Claim | On this run | Measured |\n|---|---|---|\n");
    for r in results.iter().filter(|r| !r.unchecked()) {
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
    let unchecked: Vec<&ClaimResult> = results.iter().filter(|r| r.unchecked()).collect();
    if unchecked.len() == results.len() {
        out.clear();
    }
    if !unchecked.is_empty() {
        out += "\nNot checked on this run, which trains none of their models:\n\n";
        for r in unchecked {
            let _ = writeln!(
                out,
                "- {}: `{}` trains {}",
                r.statement,
                r.checked_by,
                r.missing.join(", ")
            );
        }
    }
    let alpha = verdict::DEFAULT_ALPHA;
    out += &format!(
        "\n_Each comparison is decided on the neurons (a model's seeds averaged per neuron \
         first): Δ is the mean of the per-neuron differences (left − right) with its {}% t \
         interval, p the one-sided Wilcoxon signed-rank test of the relation, each test \
         one-sided at alpha = {alpha}. `>` holds when the interval lies above 0 and the \
         Wilcoxon test agrees; `~` when both one-sided tests (TOST) place the difference \
         inside the margin (±{}% of the mean noise ceiling in CORR, 1 without repeats); `>>` \
         (far better) when the ratio of means exceeds {FAR_FACTOR} by the same two tests on \
         left − {FAR_FACTOR}·right (Fieller's interval of the ratio shown). A comparison \
         decides nothing with fewer than {} neurons (where the exact Wilcoxon test can first \
         reach alpha), a model undefined on more than {}% of them, a model whose training did \
         not converge, or (PTJ/PTS) fewer than {MIN_PEAK_K} top images per neuron. \
         `sapipe bench verdicts` measures the false-claim rates._\n",
        (100.0 * (1.0 - 2.0 * alpha)).round(),
        100.0 * verdict::MARGIN_FRACTION,
        verdict::min_neurons(alpha),
        100.0 * verdict::MAX_UNDEFINED_SHARE,
    );
    out
}

/// Per model: how many epochs, the median best epoch, how many neurons were still improving
/// at the end, and how its training ended ([`convergence::judge`]).
pub fn convergence_markdown(evaluation: &Evaluation) -> String {
    let mut out = String::from(
        "| Model | Epochs (most) | Median epochs trained | Median best epoch | Still improving at the end | Training |\n|---|---:|---:|---:|---:|---|\n",
    );
    for m in &evaluation.models {
        let corr = per_neuron(m, Metric::Corr, evaluation.neurons);
        let judged = convergence::judge(m.model.convergence.as_ref(), &corr, evaluation.images);
        let state = match judged {
            Training::Converged => "converged".to_string(),
            other => format!("**{}**", other.text()),
        };
        let Some(c) = &m.model.convergence else {
            let _ = writeln!(out, "| {} | | | | | {state} |", m.model.label);
            continue;
        };
        let best = c.median_best_epoch.map_or("—".into(), |e| e.to_string());
        // Without early stopping every neuron trained all epochs.
        let trained = c.median_epochs_trained.unwrap_or(c.epochs);
        let _ = writeln!(
            out,
            "| {} | {} | {trained} | {best} | {} of {} neurons | {state} |",
            m.model.label, c.epochs, c.improving_at_end, c.neurons
        );
    }
    let _ = write!(
        out,
        "\n_A model is converged only when its training was recorded, its best epoch lies at \
         least {} epochs before the last for most neurons (the median best epoch), and most \
         neurons have CORR above what a predictor independent of the responses exceeds 5% of \
         the time on these {} images ({}); otherwise it is under-trained, learned nothing, or \
         not recorded, and claims involving it are inconclusive._\n",
        convergence::PATIENCE,
        evaluation.images,
        convergence::null_corr(evaluation.images).map_or("—".into(), |r| format!("r = {r:.3}")),
    );
    out
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
