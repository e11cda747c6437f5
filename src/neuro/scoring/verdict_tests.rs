//! Tests of `verdict`: the issue 27 examples, each relation both ways, seeds averaged per
//! neuron, undefined neurons, the minimum neuron count.

use super::*;

/// One seed per neuron.
fn one(values: &[f64]) -> Vec<Vec<Option<f64>>> {
    values.iter().map(|&v| vec![Some(v)]).collect()
}

fn base(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.4 + 0.013 * i as f64).collect()
}

/// Left = base + d, right = base.
fn with_differences(relation: Relation, d: &[f64]) -> Decision {
    let right = base(d.len());
    let left: Vec<f64> = right.iter().zip(d).map(|(r, x)| r + x).collect();
    decide(
        relation,
        &one(&left),
        &one(&right),
        &Rule::new(0.05, 0.02).unwrap(),
    )
}

#[test]
fn issue_27_large_mixed_differences_are_not_equivalent() {
    let d = with_differences(Relation::Approx, &[-0.30, -0.25, 0.15, -0.20, 0.20]);
    assert_eq!(
        d.outcome,
        Outcome::Inconclusive(Undecided::Unresolved),
        "{d:?}"
    );
    assert!(
        d.reason.starts_with("equivalence within ±0.020 not shown"),
        "{}",
        d.reason
    );
}

#[test]
fn issue_27_five_neurons_with_wilcoxon_p_0_13_are_not_better() {
    let d = with_differences(Relation::Greater, &[0.05, 0.04, 0.03, 0.06, -0.01]);
    assert_eq!(
        d.outcome,
        Outcome::Inconclusive(Undecided::Unresolved),
        "{d:?}"
    );
    assert!((d.wilcoxon_p.unwrap() - 0.0625).abs() < 1e-12);
    assert!(
        d.reason.contains("Wilcoxon one-sided p = 0.062"),
        "{}",
        d.reason
    );
}

#[test]
fn a_clear_difference_holds_and_its_reverse_does_not() {
    let up: Vec<f64> = (0..12).map(|i| 0.1 + 0.002 * f64::from(i % 3)).collect();
    let d = with_differences(Relation::Greater, &up);
    assert_eq!(d.outcome, Outcome::Holds, "{d:?}");
    assert!(
        d.reason
            .starts_with("shown: 90% t interval of the difference [+0.1"),
        "{}",
        d.reason
    );
    let down: Vec<f64> = up.iter().map(|x| -x).collect();
    assert_eq!(
        with_differences(Relation::Greater, &down).outcome,
        Outcome::DoesNotHold
    );
}

#[test]
fn equivalence_needs_the_interval_inside_the_margin() {
    let small: Vec<f64> = (0..20)
        .map(|i| if i % 2 == 0 { 0.004 } else { -0.003 })
        .collect();
    let d = with_differences(Relation::Approx, &small);
    assert_eq!(d.outcome, Outcome::Holds, "{d:?}");
    let far: Vec<f64> = (0..20).map(|i| 0.1 + 0.001 * f64::from(i)).collect();
    assert_eq!(
        with_differences(Relation::Approx, &far).outcome,
        Outcome::DoesNotHold
    );
}

#[test]
fn far_better_is_decided_on_the_ratio() {
    let right: Vec<f64> = (0..10).map(|i| 10.0 + f64::from(i)).collect();
    let rule = Rule::new(0.05, 1.0).unwrap();
    let times = |k: f64| -> Vec<f64> {
        right
            .iter()
            .enumerate()
            .map(|(i, r)| k * r + if i % 2 == 0 { 0.3 } else { -0.3 })
            .collect()
    };
    let d = decide(Relation::FarGreater, &one(&times(2.0)), &one(&right), &rule);
    assert_eq!(d.outcome, Outcome::Holds, "{d:?}");
    let i = d.ratio_interval.unwrap();
    assert!(i.lo.unwrap() > 1.5 && i.hi.unwrap() < 2.5, "{i:?}");
    let d = decide(Relation::FarGreater, &one(&times(1.2)), &one(&right), &rule);
    assert_eq!(d.outcome, Outcome::DoesNotHold, "{d:?}");
    let negative: Vec<f64> = right.iter().map(|x| -x).collect();
    let d = decide(Relation::FarGreater, &one(&right), &one(&negative), &rule);
    assert_eq!(d.outcome, Outcome::Inconclusive(Undecided::RatioUndefined));
}

#[test]
fn seeds_are_averaged_per_neuron_not_pooled() {
    // 2 neurons x 3 seeds: 2 units, not 6.
    let left = vec![vec![Some(0.5), Some(0.52), Some(0.51)]; 2];
    let right = vec![vec![Some(0.3), Some(0.31), Some(0.29)]; 2];
    let d = decide(
        Relation::Greater,
        &left,
        &right,
        &Rule::new(0.05, 0.02).unwrap(),
    );
    assert_eq!(d.used, 2);
    assert_eq!(
        d.outcome,
        Outcome::Inconclusive(Undecided::TooFewNeurons { used: 2, min: 5 })
    );
    assert_eq!((d.left.seeds, d.right.seeds), (3, 3));
    assert!(
        (d.left.seed_sd.unwrap() - 0.01).abs() < 1e-12,
        "{:?}",
        d.left
    );
    assert!((d.left.mean.unwrap() - 0.51).abs() < 1e-12);
}

#[test]
fn undefined_neurons_are_counted_and_too_many_make_it_inconclusive() {
    let mut left = one(&base(20).iter().map(|x| x + 0.1).collect::<Vec<_>>());
    let right = one(&base(20));
    left[3] = vec![Some(0.5), None];
    let rule = Rule::new(0.05, 0.02).unwrap();
    let d = decide(Relation::Greater, &left, &right, &rule);
    assert_eq!((d.used, d.left.undefined, d.right.undefined), (19, 1, 0));
    assert_eq!(d.outcome, Outcome::Holds);
    left[4] = vec![None];
    left[5] = vec![Some(f64::NAN)];
    left.truncate(19);
    let d = decide(Relation::Greater, &left, &right, &rule);
    assert_eq!((d.left.undefined, d.left.absent), (3, 1));
    assert_eq!(
        d.outcome,
        Outcome::Inconclusive(Undecided::Undefined {
            side: Side::Left,
            neurons: 4,
            of: 20
        })
    );
}

#[test]
fn the_minimum_neuron_count_is_where_the_signed_rank_test_can_reach_alpha() {
    assert_eq!(min_neurons(0.05), 5);
    assert_eq!(min_neurons(0.01), 7);
    assert_eq!(min_neurons(0.1), 4);
    assert!(Rule::new(0.5, 0.1).is_err() && Rule::new(0.05, 0.0).is_err());
    assert!((default_margin(0.9) - 0.018).abs() < 1e-15);
}
