//! Acceptance tests of training with missing responses (NaN, see `mask`): what a masked entry
//! holds influences nothing, and one neuron's missing entries leave every other neuron's
//! checkpoint bit-identical to training without any.

use std::collections::BTreeMap;

use super::Strategy;
use super::fixtures::{checkpoint, data, run, settings, synthetic};
use super::mask::Observed;
use super::trainer::{Trained, train_observed};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::model::ModelId;

/// Entries of neuron `j` made missing: every third training image and validation image 1.
fn missing(ds: &PreparedDataset, j: usize) -> (Vec<usize>, Vec<usize>) {
    let p = ds.meta.neurons;
    let train = (0..ds.train_responses.shape[0])
        .step_by(3)
        .map(|i| i * p + j)
        .collect();
    (train, vec![p + j])
}

/// `clean` with neuron `j`'s [`missing`] entries NaN.
fn with_nan(clean: &PreparedDataset, j: usize) -> PreparedDataset {
    let (train_at, val_at) = missing(clean, j);
    let mut ds = clean.clone();
    set(&mut ds.train_responses, &train_at, |_| f32::NAN);
    set(&mut ds.val_responses, &val_at, |_| f32::NAN);
    ds
}

fn set(a: &mut ArrayF32, at: &[usize], value: impl Fn(usize) -> f32) {
    for &i in at {
        a.data[i] = value(i);
    }
}

fn mask(len: usize, unrecorded: &[usize]) -> Vec<bool> {
    (0..len).map(|i| !unrecorded.contains(&i)).collect()
}

fn assert_same(a: &Trained, b: &Trained) {
    let differing: Vec<&String> = a
        .tensors
        .iter()
        .filter(|(name, t)| t.data != b.tensors[*name].data)
        .map(|(name, _)| name)
        .collect();
    assert!(differing.is_empty(), "not bit-identical: {differing:?}");
    assert_eq!(a.best_epoch, b.best_epoch);
    assert_eq!(format!("{:?}", a.curves), format!("{:?}", b.curves));
}

#[test]
fn what_a_masked_entry_holds_changes_nothing() {
    let clean = synthetic(24, 10, 4, 3, 26, 7);
    let (train_at, val_at) = missing(&clean, 1);
    let with_nan = with_nan(&clean, 1);
    let mut arbitrary = clean.clone();
    set(&mut arbitrary.train_responses, &train_at, |i| {
        1e3 - i as f32
    });
    set(&mut arbitrary.val_responses, &val_at, |_| -7.5);
    let observed = Observed {
        train: Some(mask(clean.train_responses.data.len(), &train_at)),
        val: Some(mask(clean.val_responses.data.len(), &val_at)),
    };
    for (model, strategy) in [
        (ModelId::RfSaCnn, Strategy::Population),
        (ModelId::FfSaCnnStar, Strategy::PerNeuron),
    ] {
        let s = settings(model, 2, strategy);
        let nan = run(&s, &with_nan, None);
        let masked = train_observed(&s, &data(&arbitrary), &observed, None, &mut |_| {}).unwrap();
        assert_same(&nan, &masked);
        // The mask does mask: without it, the arbitrary values train something else.
        let unmasked = run(&s, &arbitrary, None);
        assert_ne!(unmasked.tensors, nan.tensors, "{model}");
        assert!(nan.curves.iter().all(|r| r.train_loss.is_finite()));
    }
}

#[test]
fn one_neurons_missing_entries_leave_the_others_bit_identical() {
    let clean = synthetic(24, 10, 4, 3, 26, 9);
    let with_nan = with_nan(&clean, 0);
    for model in [ModelId::RfSaCnn, ModelId::FfSaCnnStar] {
        let s = settings(model, 2, Strategy::Population);
        let a = run(&s, &clean, None);
        let b = run(&s, &with_nan, None);
        let others = |t: &Trained, ds: &PreparedDataset| -> BTreeMap<String, ArrayF32> {
            checkpoint(model, ds, t).select_neurons(&[1, 2]).tensors
        };
        assert_eq!(others(&a, &clean), others(&b, &with_nan), "{model}");
        let of = |t: &Trained| {
            format!(
                "{:?}",
                t.curves.iter().filter(|r| r.neuron > 0).collect::<Vec<_>>()
            )
        };
        assert_eq!(of(&a), of(&b), "{model}");
        assert_eq!(a.best_epoch[1..], b.best_epoch[1..]);
        // Neuron 0 itself did train differently.
        let first = |t: &Trained, ds: &PreparedDataset| {
            checkpoint(model, ds, t).select_neurons(&[0]).tensors
        };
        assert_ne!(first(&a, &clean), first(&b, &with_nan), "{model}");
    }
}

#[test]
fn a_batch_without_a_recorded_entry_gives_zero_loss_not_nan() {
    // Neuron 2 recorded on the first training image only: most batches have none of it.
    let mut ds = synthetic(20, 8, 4, 3, 26, 3);
    let p = 3;
    for i in 1..20 {
        ds.train_responses.data[i * p + 2] = f32::NAN;
    }
    let t = run(
        &settings(ModelId::RfCnn, 2, Strategy::Population),
        &ds,
        None,
    );
    assert!(t.curves.iter().all(|r| r.train_loss.is_finite()));
    assert!(
        t.tensors
            .values()
            .all(|a| a.data.iter().all(|v| v.is_finite()))
    );
}

#[test]
fn a_neuron_without_any_recorded_training_response_is_an_error() {
    let mut ds = synthetic(10, 4, 2, 2, 26, 1);
    for i in 0..10 {
        ds.train_responses.data[i * 2 + 1] = f32::NAN;
    }
    let s = settings(ModelId::RfCnn, 1, Strategy::Population);
    let e = super::trainer::train(&s, &data(&ds), None, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("neuron 1 has no recorded training response"),
        "{e}"
    );
}
