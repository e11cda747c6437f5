//! Tests of `claims`: each paper claim's verdict, evidence problems (training, too few
//! neurons, undefined neurons), seeds averaged per neuron, and the markdown they render to.

use super::*;
use crate::neuro::scoring::convergence::Convergence;
use crate::neuro::scoring::evaluation::NeuronMetrics;
use crate::neuro::scoring::verdict::MAX_UNDEFINED_SHARE;
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
    m.model.convergence = Some(trained(n, false));
    m.neurons = (0..n)
        .map(|j| NeuronMetrics {
            neuron: j,
            corr: Some(corr(j)),
            ptj: Some(peak(j)),
            pts: Some(peak(j)),
            feve: None,
            offset: None,
            corr_noise_free: None,
            undefined: Default::default(),
        })
        .collect();
    m
}

/// Recorded training of 10 epochs: best epoch 5 (converged) or 10 (under-trained).
fn trained(n: usize, under_trained: bool) -> Convergence {
    Convergence {
        epochs: 10,
        neurons: n,
        improving_at_end: if under_trained { n } else { 0 },
        median_best_epoch: Some(if under_trained { 10 } else { 5 }),
        median_epochs_trained: None,
        under_trained,
    }
}

fn spread(j: usize) -> f64 {
    0.4 + 0.01 * j as f64
}

/// ±0.01 alternating: a difference whose interval contains 0, well inside the ±0.02 margin.
fn wobble(j: usize) -> f64 {
    if j.is_multiple_of(2) { 0.01 } else { -0.01 }
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
    simul.model.convergence = Some(trained(n, under_trained));
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
        better.measured[1].starts_with("CORR: rf-CNN 0.445 > rf+sa-CNN* (Simul.) 0.345: Δ +0.100 90% t [+0.100, +0.100], Wilcoxon p = 0.001 (one-sided), n = 10 (yes)"),
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
            r.verdict.text(),
            "inconclusive: rf+sa-CNN* (Simul.) under-trained (median best epoch 10 of 10; \
             converged needs it at least 2 before the last)",
            "{r:?}"
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
        Verdict::Inconclusive(vec![Reason::TooFewNeurons { used: 3, min: 5 }])
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
    // No model of the claim was trained: it leaves the table for the list of claims other
    // pipelines check.
    assert!(results[3].unchecked());
    let md = claims_markdown(&results);
    let statement = "In CORR, rf+sa-CNN* (Incr.) ~ rf-CNN > rf+sa-CNN* (Simul.)";
    assert!(!md.contains(&format!("| {statement} |")), "{md}");
    let listed = format!(
        "- {statement}: `pipelines/incremental.yaml` trains rf+sa-CNN* (Incr.), rf-CNN, rf+sa-CNN* (Simul.)"
    );
    assert!(md.contains(&listed), "{md}");
    // A claim measured in part stays in the table, naming what is missing.
    assert!(!results[0].unchecked());
    assert!(
        md.contains("| In CORR, rf-CNN > rf+sa-CNN ~ ff+sa-CNN > ff-CNN | **not measured** |"),
        "{md}"
    );
    assert!(md.contains("with its 90% t interval"), "{md}");
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
        median_epochs_trained: None,
        under_trained: true,
    });
    let unrecorded = model("ff", "ff-cnn", false, 1.0, [0.5, 1.0, 1.0]);
    let chance = model("sa", "ff-sa-cnn", false, 1.0, [0.01, 1.0, 1.0]);
    let md = convergence_markdown(&evaluation(vec![m, unrecorded, chance]));
    let rows = [
        "| rf-cnn | 3 | 3 | 3 | 7 of 8 neurons | **under-trained (median best epoch 3 of 3; converged needs it at least 2 before the last)** |",
        "| ff-cnn | | | | | **training not recorded** |",
        "| ff-sa-cnn | | | | | **learned nothing (0 of 8 neurons have CORR above 0.074,",
        "these 500 images (r = 0.074)",
    ];
    for row in rows {
        assert!(md.contains(row), "{row}\n{md}");
    }
}

/// Issue 27: 2 neurons x 3 seeds are 2 units, not 6; a model with no recorded training
/// decides nothing; undefined neurons are counted, and too many make a claim inconclusive.
#[test]
fn issue_27_seeds_training_and_undefined_neurons_fail_closed() {
    let seeded = |n: usize, offset: f64| -> Vec<ModelEvaluation> {
        (1..=3)
            .flat_map(|seed| {
                let rf = neurons(
                    &format!("t@rf,seed{seed}"),
                    "rf-cnn",
                    false,
                    n,
                    |j| spread(j) + offset,
                    spread,
                );
                let simul = neurons(
                    &format!("t@simul,seed{seed}"),
                    "rf-sa-cnn-star",
                    false,
                    n,
                    spread,
                    spread,
                );
                [rf, simul]
            })
            .collect()
    };
    let mut e = evaluation(seeded(2, 0.1));
    e.neurons = 2;
    let r = check_claims(&e).remove(3);
    let link = r
        .measured
        .iter()
        .find(|m| m.contains("> rf+sa-CNN* (Simul.)"))
        .unwrap();
    assert!(
        link.contains("n = 2 (seeds 3/3, averaged per neuron"),
        "{link}"
    );
    assert_eq!(
        r.verdict,
        Verdict::Inconclusive(vec![Reason::TooFewNeurons { used: 2, min: 5 }])
    );

    let mut e = evaluation(vec![
        neurons("rf", "rf-cnn", false, 10, |j| spread(j) + 0.1, spread),
        neurons("simul", "rf-sa-cnn-star", false, 10, spread, spread),
    ]);
    e.neurons = 10;
    assert_eq!(check_claims(&e)[3].verdict, Verdict::NotMeasured);
    e.models[1].model.convergence = None;
    assert_eq!(
        check_claims(&e)[3].verdict.text(),
        "inconclusive: rf+sa-CNN* (Simul.) training not recorded"
    );
    e.models[1].model.convergence = Some(trained(10, false));
    e.models[0].neurons[4].corr = None;
    let r = check_claims(&e).remove(3);
    assert!(
        r.measured[0].contains("n = 9, 1 left out (1 undefined in rf-CNN)"),
        "{:?}",
        r.measured
    );
    assert_eq!(
        r.verdict,
        Verdict::NotMeasured,
        "1 of 10 is not more than {MAX_UNDEFINED_SHARE}"
    );
    e.models[0].neurons[5].corr = None;
    assert_eq!(
        check_claims(&e)[3].verdict.text(),
        "inconclusive: rf-CNN undefined on 2 of 10 neurons (more than 10%)"
    );
}
