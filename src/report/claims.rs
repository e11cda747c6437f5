//! The paper's ordering claims (models.md §8), checked against the numbers measured on this
//! run: each claim is a chain of comparisons between site means of named models, and holds
//! only if every comparison does. A claim whose models were not all evaluated is "not
//! measured"; nothing is ever assumed.
//!
//! Relations: `>` is a strictly larger mean; `~` means within [`APPROX_RELATIVE`] of each
//! other (relative to the larger magnitude); "far better" is at least [`FAR_FACTOR`] times.

use crate::neuro::scoring::evaluation::Evaluation;

use super::roles::{
    self, FF_CNN, FF_SA_CNN, FF_SA_STAR_FC2_INCR, FF_SA_STAR_SIMUL, RF_CNN, RF_SA_CNN,
    RF_SA_STAR_INCR, RF_SA_STAR_SIMUL, Role,
};

/// Largest relative difference that still counts as "~" (approximately equal).
pub const APPROX_RELATIVE: f64 = 0.05;
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

    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Relation::Greater => left > right,
            Relation::Approx => {
                (left - right).abs() <= APPROX_RELATIVE * left.abs().max(right.abs())
            }
            Relation::FarGreater => left > right && left >= FAR_FACTOR * right,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    /// At least one measured comparison fails.
    DoesNotHold,
    /// No measured comparison fails, but some of the claim's models were not evaluated (or
    /// their metric is undefined).
    NotMeasured,
}

impl Verdict {
    pub fn text(&self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::NotMeasured => "not measured",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClaimResult {
    pub statement: &'static str,
    pub verdict: Verdict,
    /// The measured comparisons, e.g. "rf-CNN 0.512 > rf+sa-CNN 0.498 (yes)".
    pub measured: Vec<String>,
    /// Models of the claim that were not evaluated.
    pub missing: Vec<&'static str>,
}

/// The measured site mean of the first model playing `role`.
fn value(evaluation: &Evaluation, role: &Role, metric: Metric) -> Option<f64> {
    let m = *roles::find(evaluation, role).first()?;
    match metric {
        Metric::Corr => m.summary.corr.mean,
        Metric::PtjPercent => m.summary.ptj_percent.mean,
        Metric::PtsPercent => m.summary.pts_percent.mean,
    }
}

fn check(evaluation: &Evaluation, claim: &Claim) -> ClaimResult {
    let (mut measured, mut missing, mut all_hold) = (Vec::new(), Vec::new(), true);
    for c in &claim.comparisons {
        let left = value(evaluation, &c.left, c.metric);
        let right = value(evaluation, &c.right, c.metric);
        for (role, v) in [(&c.left, left), (&c.right, right)] {
            if v.is_none() && !missing.contains(&role.name) {
                missing.push(role.name);
            }
        }
        if let (Some(l), Some(r)) = (left, right) {
            let ok = c.relation.holds(l, r);
            all_hold &= ok;
            let (sym, metric) = (c.relation.symbol(), c.metric.name());
            let yes = if ok { "yes" } else { "no" };
            measured.push(format!(
                "{metric}: {} {l:.3} {sym} {} {r:.3} ({yes})",
                c.left.name, c.right.name
            ));
        }
    }
    // A measured comparison that fails refutes the claim even if other models are absent.
    let verdict = match (all_hold, missing.is_empty()) {
        (false, _) => Verdict::DoesNotHold,
        (true, true) => Verdict::Holds,
        (true, false) => Verdict::NotMeasured,
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
        "\n_`>`: larger site mean; `~`: within {:.0}% of each other; `>>` (far better): at \
         least {FAR_FACTOR}x._\n",
        APPROX_RELATIVE * 100.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{evaluation, model};

    fn paper_like(rf_sa_corr: f64) -> Evaluation {
        evaluation(vec![
            model("ff", "ff-cnn", false, 1.0, [0.474, 8.7, 17.3]),
            model("ffsa", "ff-sa-cnn", false, 1.0, [0.498, 11.0, 19.7]),
            model("rf", "rf-cnn", false, 1.0, [0.520, 5.0, 10.0]),
            model("rfsa", "rf-sa-cnn", false, 1.0, [rf_sa_corr, 6.0, 11.0]),
        ])
    }

    #[test]
    fn claims_hold_or_fail_on_measured_numbers() {
        let results = check_claims(&paper_like(0.500));
        assert_eq!(results[0].verdict, Verdict::Holds, "{:?}", results[0]);
        assert_eq!(results[1].verdict, Verdict::Holds);
        assert_eq!(results[2].verdict, Verdict::Holds);
        assert!(results[0].measured[0].contains("rf-CNN 0.520 > rf+sa-CNN 0.500 (yes)"));
        // rf+sa-CNN far below ff+sa-CNN: the "~" fails, so the claim does not hold.
        let results = check_claims(&paper_like(0.300));
        assert_eq!(results[0].verdict, Verdict::DoesNotHold);
        assert!(results[0].measured[1].ends_with("(no)"));
    }

    #[test]
    fn claims_with_absent_models_are_not_measured() {
        let results = check_claims(&paper_like(0.5));
        assert_eq!(results[3].verdict, Verdict::NotMeasured);
        assert_eq!(
            results[3].missing,
            vec!["rf+sa-CNN* (Incr.)", "rf+sa-CNN* (Simul.)"]
        );
        // A failing measured link refutes a claim even when another model is absent.
        let partial = evaluation(vec![
            model("ff", "ff-cnn", false, 1.0, [0.474, 8.7, 17.3]),
            model("ffsa", "ff-sa-cnn", false, 1.0, [0.498, 8.0, 19.7]),
        ]);
        let partial = check_claims(&partial);
        assert_eq!(
            partial[1].verdict,
            Verdict::DoesNotHold,
            "PTJ: ff+sa-CNN < ff-CNN"
        );
        assert_eq!(
            partial[2].verdict,
            Verdict::NotMeasured,
            "PTS link holds, rf models absent"
        );
        let md = claims_markdown(&results);
        let row = "| **not measured** | not evaluated: rf+sa-CNN* (Incr.), rf+sa-CNN* (Simul.) |";
        assert!(md.contains(row), "{md}");
        assert_eq!(md.matches("**holds**").count(), 3, "{md}");
    }

    #[test]
    fn far_better_needs_the_factor() {
        let e = |ptj: f64| {
            evaluation(vec![
                model("inc", "ff-sa-cnn-star", true, 1.0, [0.4, ptj, 40.0]),
                model("sim", "ff-sa-cnn-star", false, 1.0, [0.4, 10.0, 20.0]),
            ])
        };
        assert_eq!(check_claims(&e(15.0))[4].verdict, Verdict::Holds);
        assert_eq!(check_claims(&e(14.0))[4].verdict, Verdict::DoesNotHold);
        assert!(Relation::Approx.holds(0.50, 0.48) && !Relation::Approx.holds(0.50, 0.47));
    }
}
