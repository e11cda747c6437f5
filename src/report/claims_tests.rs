//! Tests of `claims`: each paper claim's verdict, evidence problems, pairing over neurons and
//! over neurons x seeds, and the markdown they render to.

use super::*;
use crate::neuro::scoring::convergence::Convergence;
use crate::neuro::scoring::evaluation::NeuronMetrics;
use crate::report::fixtures::{evaluation, model};

/// A model whose neuron j has CORR `corr(j)` and PTJ/PTS fractions `peak(j)`.
fn neurons(
    stage: &str,
    id: &str,
    incremental: bool,
    n: usize,
    corr: impl Fn(usize) -> f64,
    peak: impl Fn(usize) -> f64,
) -> ModelEvaluation {
    let mut m = model(stage, id, incremental, 1.0, [0.0; 3]);
    m.neurons = (0..n)
        .map(|j| NeuronMetrics {
            neuron: j,
            corr: Some(corr(j)),
            ptj: Some(peak(j)),
            pts: Some(peak(j)),
            feve: None,
            corr_noise_free: None,
            undefined: Default::default(),
        })
        .collect();
    m
}

fn spread(j: usize) -> f64 {
    0.4 + 0.01 * j as f64
}

/// ±0.02 alternating: a difference whose interval contains 0.
fn wobble(j: usize) -> f64 {
    if j.is_multiple_of(2) { 0.02 } else { -0.02 }
}

/// "rf+sa-CNN* (Incr.) ~ rf-CNN > rf+sa-CNN* (Simul.)" with the simultaneous model's CORR
/// at rf-CNN's minus `gap(j)`.
fn incremental_claim(gap: impl Fn(usize) -> f64, under_trained: bool) -> ClaimResult {
    let n = 10;
    let mut simul = neurons(
        "simul",
        "rf-sa-cnn-star",
        false,
        n,
        |j| spread(j) - gap(j),
        spread,
    );
    simul.model.convergence = Some(Convergence {
        epochs: 3,
        neurons: n,
        improving_at_end: if under_trained { 8 } else { 2 },
        median_best_epoch: Some(3),
        under_trained,
    });
    let mut e = evaluation(vec![
        neurons("rf", "rf-cnn", false, n, spread, spread),
        neurons(
            "incr",
            "rf-sa-cnn-star",
            true,
            n,
            |j| spread(j) + wobble(j),
            spread,
        ),
        simul,
    ]);
    e.neurons = n;
    check_claims(&e).remove(3)
}

#[test]
fn a_clearly_better_model_holds_and_a_clearly_worse_one_does_not() {
    let better = incremental_claim(|_| 0.1, false);
    assert_eq!(better.verdict, Verdict::Holds, "{better:?}");
    assert!(
        better.measured[1].starts_with("CORR: rf-CNN 0.445 > rf+sa-CNN* (Simul.) 0.345: Δ +0.100 [+0.100, +0.100], Wilcoxon p = 0.00, n = 10 (yes)"),
        "{}",
        better.measured[1]
    );
    assert!(
        better.measured[0].ends_with("(yes)"),
        "{:?}",
        better.measured
    );
    let worse = incremental_claim(|_| -0.1, false);
    assert_eq!(worse.verdict, Verdict::DoesNotHold, "{worse:?}");
}

#[test]
fn a_tie_does_not_resolve_greater_but_satisfies_approx() {
    let tie = incremental_claim(wobble, false);
    assert_eq!(
        tie.verdict,
        Verdict::Inconclusive(vec![Reason::Unresolved]),
        "{tie:?}"
    );
    assert!(
        tie.measured[0].ends_with("(yes)"),
        "the ~ link: {:?}",
        tie.measured
    );
    assert!(
        tie.measured[1].ends_with("(undecided)"),
        "{:?}",
        tie.measured
    );
}

#[test]
fn an_under_trained_model_makes_the_claim_inconclusive_whatever_its_numbers() {
    for gap in [0.1, -0.1] {
        let r = incremental_claim(|_| gap, true);
        assert_eq!(
            r.verdict,
            Verdict::Inconclusive(vec![Reason::UnderTrained("rf+sa-CNN* (Simul.)")]),
            "{r:?}"
        );
        assert_eq!(
            r.verdict.text(),
            "inconclusive: rf+sa-CNN* (Simul.) under-trained"
        );
    }
}

#[test]
fn coarse_peak_tuning_and_few_neurons_are_reasons() {
    let peak_claim = |k: usize, n: usize| {
        let mut e = evaluation(vec![
            neurons("ff", "ff-cnn", false, n, spread, |j| 0.5 + 0.01 * j as f64),
            neurons("ffsa", "ff-sa-cnn", false, n, spread, |j| {
                0.8 + 0.01 * j as f64
            }),
            neurons("rf", "rf-cnn", false, n, spread, |_| 0.1),
            neurons("rfsa", "rf-sa-cnn", false, n, spread, |_| 0.1),
        ]);
        (e.k, e.neurons) = (k, n);
        check_claims(&e).remove(1)
    };
    assert_eq!(peak_claim(10, 8).verdict, Verdict::Holds);
    let coarse = peak_claim(3, 8);
    assert_eq!(
        coarse.verdict.text(),
        "inconclusive: PTJ/PTS resolution too coarse (k = 3 of 500 images; at least 10)"
    );
    let few = peak_claim(10, 3);
    assert_eq!(
        few.verdict,
        Verdict::Inconclusive(vec![Reason::TooFewNeurons(3)])
    );
}

#[test]
fn claims_with_absent_models_are_not_measured() {
    let mut e = evaluation(vec![
        neurons("ff", "ff-cnn", false, 8, spread, spread),
        neurons("ffsa", "ff-sa-cnn", false, 8, |j| spread(j) + 0.05, spread),
    ]);
    e.neurons = 8;
    let results = check_claims(&e);
    assert_eq!(results[3].verdict, Verdict::NotMeasured);
    assert_eq!(
        results[3].missing,
        vec!["rf+sa-CNN* (Incr.)", "rf-CNN", "rf+sa-CNN* (Simul.)"]
    );
    let md = claims_markdown(&results);
    let row =
        "| **not measured** | not evaluated: rf+sa-CNN* (Incr.), rf-CNN, rf+sa-CNN* (Simul.) |";
    assert!(md.contains(row), "{md}");
    assert!(md.contains("95% bootstrap interval"), "{md}");
}

#[test]
fn far_better_needs_the_factor() {
    let e = |ptj: f64| {
        let mut e = evaluation(vec![
            neurons("inc", "ff-sa-cnn-star", true, 8, spread, |j| {
                ptj + 0.01 * j as f64
            }),
            neurons("sim", "ff-sa-cnn-star", false, 8, spread, |j| {
                0.2 + 0.01 * j as f64
            }),
        ]);
        (e.k, e.neurons) = (10, 8);
        check_claims(&e).remove(4).verdict
    };
    assert_eq!(e(0.4), Verdict::Holds);
    assert_eq!(e(0.25), Verdict::DoesNotHold);
}

#[test]
fn convergence_table_marks_under_trained_models() {
    let mut m = model("rf", "rf-cnn", false, 1.0, [0.5, 1.0, 1.0]);
    m.model.convergence = Some(Convergence {
        epochs: 3,
        neurons: 8,
        improving_at_end: 7,
        median_best_epoch: Some(3),
        under_trained: true,
    });
    let md = convergence_markdown(&evaluation(vec![m]));
    assert!(
        md.contains("| rf-cnn | 3 | 3 | 7 of 8 neurons | **under-trained** |"),
        "{md}"
    );
}
