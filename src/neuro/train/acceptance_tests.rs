//! Acceptance tests of the population trainer (small sizes, CPU): parameter counts of the
//! instantiated networks, population vs one-neuron-at-a-time equivalence, init and freeze
//! semantics (the plain-PyTorch loader of written checkpoints is checked in `python_tests`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tch::Device;

use super::Strategy;
use super::fixtures::{checkpoint, data, run, settings, synthetic};
use super::selection::column_scores;
use super::trainer::{InitFrom, TrainSettings, Trained, predict_checkpoint, train};
use crate::neuro::array::ArrayF32;
use crate::neuro::model::arch::REFERENCE_INPUT_SIZE;
use crate::neuro::model::checkpoint::concat_neurons;
use crate::neuro::model::incremental_chain;
use crate::neuro::model::{Architecture, FreezeMode, ModelId, Network, Unit, architectures};
use crate::neuro::stats::{mean_var, widen};

fn units(names: &[&str], model: ModelId, size: usize) -> BTreeSet<Unit> {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    Architecture::new(model, size)
        .unwrap()
        .resolve_units(&names, "test")
        .unwrap()
}

#[test]
fn instantiated_networks_have_the_published_trainable_counts() {
    for info in architectures() {
        let arch =
            Architecture::new(ModelId::parse(info.id).unwrap(), REFERENCE_INPUT_SIZE).unwrap();
        let net = Network::new(arch, &[0, 1], 1, Device::Cpu);
        assert_eq!(
            net.trainable_params_per_neuron(),
            info.trainable_params,
            "{}",
            info.id
        );
    }
    for step in incremental_chain() {
        let model = ModelId::parse(step.model).unwrap();
        let arch = Architecture::new(model, REFERENCE_INPUT_SIZE).unwrap();
        let mut net = Network::new(arch, &[0], 1, Device::Cpu);
        net.freeze(
            &units(&step.frozen, model, REFERENCE_INPUT_SIZE),
            FreezeMode::Strict,
        );
        assert_eq!(
            net.trainable_params_per_neuron(),
            step.trainable_params,
            "{}",
            step.label
        );
    }
}

/// Largest |a - b| / max(|a|, |b|, 1e-3) over all elements of all tensors, with the tensor's name.
fn max_relative_difference(
    a: &BTreeMap<String, ArrayF32>,
    b: &BTreeMap<String, ArrayF32>,
) -> (f64, String) {
    let mut worst = (0.0, String::new());
    for (name, x) in a {
        let y = &b[name];
        assert_eq!(x.shape, y.shape, "{name}");
        for (u, v) in x.data.iter().zip(&y.data) {
            let (u, v) = (f64::from(*u), f64::from(*v));
            let rel = (u - v).abs() / u.abs().max(v.abs()).max(1e-3);
            if rel > worst.0 {
                worst = (rel, name.clone());
            }
        }
    }
    worst
}

/// One training step of four neurons together vs each neuron alone (same initial values,
/// batch and dropout masks): predictions, batch-norm statistics and every gradient are
/// bit-identical. Every per-neuron computation runs the kernel, on the shapes, it runs alone:
/// convolutions per neuron's channel chunk (`blocks::Conv`), the attention's residual per neuron
/// (its scale's gradient was a reduction over the whole population tensor, whose summation
/// order depended on the population's size), readouts and losses neuron-outer.
#[test]
fn one_step_of_four_neurons_together_is_bit_identical_to_each_alone() {
    use super::dropout::StepDropout;
    use crate::neuro::model::Pass;
    use crate::neuro::model::network::{images_tensor, tensor_from, to_array};
    let ds = synthetic(10, 4, 2, 4, 26, 3);
    let arch = Architecture::new(ModelId::FfSaCnnStarFc1, 26).unwrap();
    let x = images_tensor(&ds.train_images, Device::Cpu);
    let y = tensor_from(
        &ds.train_responses.shape,
        &ds.train_responses.data,
        Device::Cpu,
    );
    let step = |ids: &[usize]| -> BTreeMap<String, ArrayF32> {
        let net = Network::new(arch, ids, 1, Device::Cpu);
        let masks = StepDropout {
            seed: 1,
            neuron_ids: ids,
            epoch: 1,
            step: 0,
            batch: 10,
            device: Device::Cpu,
        };
        let out = net.forward(&x, Pass::Train(&masks));
        let targets = y
            .narrow(1, ids[0] as i64, ids.len() as i64)
            .transpose(0, 1)
            .contiguous();
        let loss = (out.prediction.transpose(0, 1) - targets)
            .square()
            .mean_dim(1, false, tch::Kind::Float);
        loss.sum(tch::Kind::Float).backward();
        let mut values = net.export();
        values.insert(
            "prediction".into(),
            to_array(&out.prediction.transpose(0, 1).contiguous()),
        );
        values.extend(
            net.trainable()
                .iter()
                .map(|(n, t)| (format!("{n}.grad"), to_array(&t.grad()))),
        );
        values
    };
    let together = step(&[0, 1, 2, 3]);
    let alone: Vec<_> = (0..4).map(|j| step(&[j])).collect();
    assert_bit_identical(&together, &concat_neurons(&alone));
    assert!(together.keys().any(|n| n == "sa.attn.gamma.grad"));
}

/// Single precision (what stages use): two epochs (six Adam steps) of four neurons together
/// and each alone end bit-identical: every tensor (conv biases whose true gradient is zero and
/// the running means that absorb them included, where Adam would turn any rounding difference
/// into full-size steps), every learning-curve value, the selected epochs and the predictions.
#[test]
fn four_neurons_trained_together_are_bit_identical_to_each_trained_alone() {
    let ds = synthetic(30, 12, 6, 4, 26, 3);
    let model = ModelId::FfSaCnnStarFc1;
    let together = run(&settings(model, 2, Strategy::Population), &ds, None);
    let alone = run(&settings(model, 2, Strategy::PerNeuron), &ds, None);
    assert_eq!((together.group_size, alone.group_size), (4, 1));
    assert_bit_identical(&together.tensors, &alone.tensors);
    assert_eq!(together.curves, alone.curves);
    assert_eq!(together.best_epoch, alone.best_epoch);
    let ckpt = |t: &Trained| checkpoint(model, &ds, t);
    let p = Path::new("t.safetensors");
    let a = predict_checkpoint(&ckpt(&together), p, &ds.test_images, Device::Cpu, 4, 50).unwrap();
    let b = predict_checkpoint(&ckpt(&alone), p, &ds.test_images, Device::Cpu, 1, 50).unwrap();
    assert_eq!(a, b);
    assert_moved_from_initial_values(model, &alone);
}

/// Fails naming every tensor that is not bit-identical, with its largest difference.
fn assert_bit_identical(a: &BTreeMap<String, ArrayF32>, b: &BTreeMap<String, ArrayF32>) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let differing: Vec<String> = a
        .iter()
        .filter(|(name, x)| x.shape != b[*name].shape || x.data != b[*name].data)
        .map(|(name, x)| {
            let worst = x
                .data
                .iter()
                .zip(&b[name].data)
                .fold(0f32, |m, (u, v)| m.max((u - v).abs()));
            format!("{name} (largest difference {worst:.1e})")
        })
        .collect();
    assert!(differing.is_empty(), "not bit-identical: {differing:?}");
}

/// Chunking (issue 15): six neurons trained whole and in chunks of 1, 2 and 4 neurons (the
/// last chunk smaller) give the same digest of every parameter, batch-norm statistic,
/// learning-curve value and selected epoch, for a model with V mapping and a full readout and
/// one with neither.
#[test]
fn six_neurons_train_to_the_same_bits_whatever_the_chunking() {
    let ds = synthetic(24, 10, 4, 6, 26, 11);
    for model in [ModelId::FfSaCnnStar, ModelId::RfSaCnn] {
        let digest = |max_group: Option<usize>| {
            let mut s = settings(model, 2, Strategy::Auto);
            s.runtime.max_group = max_group;
            let t = run(&s, &ds, None);
            assert_eq!(t.group_size, max_group.unwrap_or(6).min(6), "{model}");
            trained_digest(&t)
        };
        let whole = digest(None);
        for chunk in [1, 2, 4] {
            assert_eq!(digest(Some(chunk)), whole, "{model}, chunks of {chunk}");
        }
    }
}

/// Early stopping (issue 29): each neuron stops on its own once `patience` epochs passed
/// without a better validation CORR; where it stops, its curves end and its best epoch is
/// kept; and the bits, stopped epochs included, are the same whatever the chunking.
#[test]
fn early_stopping_is_per_neuron_and_chunk_invariant() {
    let ds = synthetic(24, 10, 4, 6, 26, 11);
    let model = ModelId::RfCnn;
    let trained = |max_group: Option<usize>| {
        let mut s = settings(model, 8, Strategy::Auto);
        s.runtime.max_group = max_group;
        s.params.patience = Some(1);
        s.params.lr = 1e-2;
        run(&s, &ds, None)
    };
    let whole = trained(None);
    let stopped = |t: &Trained| (trained_digest(t), t.epochs_trained.clone());
    for chunk in [1, 4] {
        assert_eq!(
            stopped(&trained(Some(chunk))),
            stopped(&whole),
            "chunks of {chunk}"
        );
    }
    assert!(
        whole.epochs_trained.iter().any(|&e| e < 8),
        "no neuron stopped early: {:?}",
        whole.epochs_trained
    );
    for (j, (&last, &best)) in whole
        .epochs_trained
        .iter()
        .zip(&whole.best_epoch)
        .enumerate()
    {
        assert!(
            last == 8 || last == best + 1,
            "neuron {j}: best {best}, stopped {last}"
        );
        let rows = whole.curves.iter().filter(|r| r.neuron == j).count();
        assert_eq!(rows, last, "neuron {j}: one curve row per epoch trained");
    }
}

/// A digest of everything training decided: tensors, curves and selected epochs.
fn trained_digest(t: &Trained) -> String {
    let mut h = blake3::Hasher::new();
    for (name, a) in &t.tensors {
        h.update(name.as_bytes());
        for v in &a.data {
            h.update(&v.to_le_bytes());
        }
    }
    h.update(format!("{:?}{:?}{:?}", t.curves, t.best_epoch, t.epochs_trained).as_bytes());
    h.finalize().to_hex().to_string()
}

/// Training moved the four neurons away from their initial values (seed 42, 26-pixel images):
/// a comparison of trained parameters has something to detect.
fn assert_moved_from_initial_values(model: ModelId, trained: &Trained) {
    let fresh = Network::new(
        Architecture::new(model, 26).unwrap(),
        &[0, 1, 2, 3],
        42,
        Device::Cpu,
    )
    .export();
    assert!(max_relative_difference(&fresh, &trained.tensors).0 > 1e-3);
}

#[test]
fn training_one_neuron_alone_equals_its_slot_in_the_per_neuron_loop() {
    // The per-neuron strategy on a 3-neuron dataset and a dataset holding only neuron 0 give
    // bit-identical parameters for that neuron: streams depend on the neuron, not the population.
    let ds = synthetic(20, 8, 4, 3, 26, 5);
    let mut single = ds.clone();
    single.train_responses = column(&ds.train_responses, 0);
    single.val_responses = column(&ds.val_responses, 0);
    single.meta.neurons = 1;
    let s = settings(ModelId::RfSaCnn, 2, Strategy::PerNeuron);
    let all = run(&s, &ds, None);
    let one = run(&s, &single, None);
    for (name, t) in &one.tensors {
        assert_eq!(t.data[..], all.tensors[name].data[..t.data.len()], "{name}");
    }
}

fn column(a: &ArrayF32, j: usize) -> ArrayF32 {
    let p = a.shape[1];
    ArrayF32::new(
        vec![a.shape[0], 1],
        (0..a.shape[0]).map(|i| a.data[i * p + j]).collect(),
    )
}

#[test]
fn init_copies_exactly_the_named_blocks() {
    let size = 26;
    let ds = synthetic(20, 8, 4, 2, size, 7);
    let upstream_trained = run(
        &settings(ModelId::RfSaCnnStar, 1, Strategy::Population),
        &ds,
        None,
    );
    let upstream = checkpoint(ModelId::RfSaCnnStar, &ds, &upstream_trained);
    let arch = Architecture::new(ModelId::FfSaCnnStarFc1, size).unwrap();
    let fresh = Network::new(arch, &[0, 1], 9, Device::Cpu).export();
    let mut net = Network::new(arch, &[0, 1], 9, Device::Cpu);
    let wanted = units(&["alpha", "sa", "centre"], ModelId::FfSaCnnStarFc1, size);
    let copied = net
        .copy_units(&upstream, &wanted, Path::new("up.safetensors"))
        .unwrap();
    let after = net.export();
    for (name, t) in &after {
        let from_upstream = name.starts_with("alpha")
            || name.starts_with("sa.")
            || name.starts_with("readout.centre.");
        assert_eq!(copied.contains(name), from_upstream, "{name}");
        if from_upstream {
            let source = name.replacen("readout.centre.", "readout.", 1);
            assert_eq!(
                t, &upstream.tensors[&source],
                "{name} was not copied from {source}"
            );
        } else {
            assert_eq!(
                t, &fresh[name],
                "{name} should keep its fresh initial values"
            );
        }
    }
    assert!(
        copied.iter().any(|n| n == "sa.bn.running_mean")
            && copied.iter().any(|n| n == "readout.centre.bias")
    );
    // A block the upstream model does not have is an error naming it.
    let mut rf30 = settings(ModelId::RfCnn, 1, Strategy::Population);
    rf30.params.channels = Some(30);
    let rf = checkpoint(ModelId::RfCnn, &ds, &run(&rf30, &ds, None));
    let err = net
        .copy_units(
            &rf,
            &units(&["sa"], ModelId::FfSaCnnStarFc1, size),
            Path::new("rf.safetensors"),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("init block 'sa' needs it, but upstream model rf-cnn has no such variable"),
        "{err}"
    );
}

/// The incremental chain's FC1 step with `combine_init: centre`: before any update, the model
/// that copied alpha, SA, beta and the centre term from an upstream rf+sa-CNN* predicts
/// exactly what the upstream model predicts (the surround term has weight 0); with the
/// reference's random combiner it does not. Other readouts have no combiner to set.
#[test]
fn fc1_with_a_centre_combiner_starts_from_the_upstream_predictions() {
    use crate::neuro::model::network::images_tensor;
    let size = 26;
    let ds = synthetic(20, 8, 4, 2, size, 7);
    let upstream_model = ModelId::RfSaCnnStar;
    let trained = run(
        &settings(upstream_model, 1, Strategy::Population),
        &ds,
        None,
    );
    let upstream = checkpoint(upstream_model, &ds, &trained);
    let path = Path::new("up.safetensors");
    let expected = predict_checkpoint(&upstream, path, &ds.val_images, Device::Cpu, 2, 50).unwrap();
    let model = ModelId::FfSaCnnStarFc1;
    let blocks = units(&["alpha", "sa", "beta", "centre"], model, size);
    let init = InitFrom {
        checkpoint: &upstream,
        path,
        units: blocks.clone(),
    };
    let start = |combine_init| {
        let s = TrainSettings {
            freeze: blocks.clone(),
            combine_init,
            ..settings(model, 1, Strategy::Population)
        };
        let arch = Architecture::new(model, size).unwrap();
        let net = super::trainer::prepare_network(&s, arch, &[0, 1], Some(&init), None).unwrap();
        crate::neuro::model::network::to_array(
            &net.predict(&images_tensor(&ds.val_images, Device::Cpu), 50),
        )
    };
    assert_eq!(start(super::CombineInit::Centre), expected);
    let random = start(super::CombineInit::Random);
    assert!(
        random
            .data
            .iter()
            .zip(&expected.data)
            .any(|(a, b)| (a - b).abs() > 1e-3),
        "a random combiner should not reproduce the upstream predictions"
    );
    let mut other = Network::new(
        Architecture::new(ModelId::FfSaCnnStar, size).unwrap(),
        &[0],
        1,
        Device::Cpu,
    );
    let err = other.start_from_centre_term().unwrap_err();
    assert!(err.contains("only ff-sa-cnn-star-fc1"), "{err}");
}

/// `readout_bias: mean`: the output bias starts at each neuron's mean training response, taken
/// by neuron id (so whichever neurons share a group), on the combiner for a split FCL; never
/// where the combiner starts as a copied centre term.
#[test]
fn a_mean_readout_bias_starts_at_each_neurons_mean_response() {
    let size = 26;
    let means = [1.5f32, -2.0, 4.25];
    let bias = |model, combine_init, init: Option<&InitFrom>| {
        let mut s = TrainSettings {
            combine_init,
            ..settings(model, 1, Strategy::Population)
        };
        s.params.readout_bias = super::ReadoutBias::Mean;
        let arch = Architecture::new(model, size).unwrap();
        let net = super::trainer::prepare_network(&s, arch, &[1, 2], init, Some(&means)).unwrap();
        let vars = net.snapshot();
        let name = match model {
            ModelId::FfSaCnnStarFc1 => "readout.combine.bias",
            _ => "readout.bias",
        };
        Vec::<f32>::try_from(vars[name].flatten(0, -1)).unwrap()
    };
    let random = super::CombineInit::Random;
    assert_eq!(bias(ModelId::RfCnn, random, None), vec![-2.0, 4.25]);
    assert_eq!(bias(ModelId::FfSaCnnStar, random, None), vec![-2.0, 4.25]);
    assert_eq!(
        bias(ModelId::FfSaCnnStarFc1, random, None),
        vec![-2.0, 4.25]
    );
    let centre = bias(ModelId::FfSaCnnStarFc1, super::CombineInit::Centre, None);
    assert_eq!(
        centre,
        vec![0.0, 0.0],
        "the copied centre term already predicts the level"
    );
}

/// The offset of issue 29: a full-field readout trained at lr 3e-3, batch 8 ends at a level
/// its last Adam steps left (here off by more than a tenth of the responses' s.d. on the
/// training images themselves); `refit_bias: train` puts every neuron's mean inference-mode
/// prediction over the training images on its mean training response, and moves no CORR.
#[test]
fn a_refit_bias_removes_the_offset_of_a_full_field_readout() {
    let ds = synthetic(80, 20, 40, 3, 26, 5);
    let model = ModelId::FfSaCnnStar;
    let fitted = |refit_bias| {
        let mut s = settings(model, 3, Strategy::Population);
        s.params.batch_size = 8;
        s.params.lr = 3e-3;
        s.params.readout_bias = super::ReadoutBias::Mean;
        s.params.refit_bias = refit_bias;
        let ckpt = checkpoint(model, &ds, &run(&s, &ds, None));
        let predict =
            |images| predict_checkpoint(&ckpt, Path::new("t"), images, Device::Cpu, 3, 50).unwrap();
        (predict(&ds.train_images), predict(&ds.test_images))
    };
    // Per neuron: (mean prediction - mean response) / s.d. of the responses.
    let offsets = |pred: &ArrayF32, responses: &ArrayF32| -> Vec<f64> {
        (0..3)
            .map(|j| {
                let (p, r) = (widen(&pred.column(j)), widen(&responses.column(j)));
                let ((mp, _), (mr, vr)) = (mean_var(&p), mean_var(&r));
                (mp - mr) / vr.sqrt()
            })
            .collect()
    };
    let (train_as_is, test_as_is) = fitted(super::BiasRefit::None);
    let (train_refit, test_refit) = fitted(super::BiasRefit::Train);
    let before = offsets(&train_as_is, &ds.train_responses);
    assert!(
        before.iter().any(|o| o.abs() > 0.1),
        "the fixture should reproduce the offset: {before:?}"
    );
    let after = offsets(&train_refit, &ds.train_responses);
    assert!(after.iter().all(|o| o.abs() < 1e-4), "{after:?}");
    let held_out = offsets(&test_refit, &ds.test_responses);
    assert!(held_out.iter().all(|o| o.abs() < 1.0), "{held_out:?}");
    let corr = |p: &ArrayF32| column_scores(p, &ds.test_responses).0;
    let (a, b) = (corr(&test_as_is), corr(&test_refit));
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x.unwrap() - y.unwrap()).abs() < 1e-5,
            "CORR moved: {a:?} {b:?}"
        );
    }
}

#[test]
fn frozen_blocks_end_bit_identical_and_strict_mode_keeps_their_statistics() {
    let size = 26;
    let ds = synthetic(30, 8, 4, 2, size, 11);
    let mut rf30 = settings(ModelId::RfCnn, 1, Strategy::Population);
    rf30.params.channels = Some(30);
    let upstream_trained = run(&rf30, &ds, None);
    let upstream = checkpoint(ModelId::RfCnn, &ds, &upstream_trained);
    // The default rf-CNN has 32 channels: its alpha blocks do not fit rf+sa-CNN*'s 30.
    let rf32 = checkpoint(
        ModelId::RfCnn,
        &ds,
        &run(
            &settings(ModelId::RfCnn, 1, Strategy::Population),
            &ds,
            None,
        ),
    );
    let arch = Architecture::new(ModelId::RfSaCnnStar, size).unwrap();
    let err = Network::new(arch, &[0, 1], 1, Device::Cpu)
        .copy_units(
            &rf32,
            &units(&["alpha"], ModelId::RfSaCnnStar, size),
            Path::new("rf32.safetensors"),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("upstream model rf-cnn has 32 channels, model rf-sa-cnn-star here has 30"),
        "{err}"
    );
    let alpha = units(&["alpha"], ModelId::RfSaCnnStar, size);
    let path = Path::new("rf.safetensors");
    let init = InitFrom {
        checkpoint: &upstream,
        path,
        units: alpha.clone(),
    };
    for mode in [FreezeMode::Strict, FreezeMode::Reference] {
        let mut s = settings(ModelId::RfSaCnnStar, 2, Strategy::Population);
        s.freeze = alpha.clone();
        s.params.freeze_mode = mode;
        let trained = run(&s, &ds, Some(&init));
        assert_eq!(
            trained.trainable_params,
            2 * 155 + 155 + 180 + 1 + 60 + 2 * 990 + 31
        );
        for (name, t) in trained
            .tensors
            .iter()
            .filter(|(n, _)| n.starts_with("alpha"))
        {
            let is_stat = name.contains("running_");
            let same = t == &upstream.tensors[name];
            match (mode, is_stat) {
                (FreezeMode::Strict, _) | (FreezeMode::Reference, false) => {
                    assert!(same, "{mode:?}: {name} changed")
                }
                (FreezeMode::Reference, true) => {
                    assert!(!same, "reference mode: {name} should keep updating")
                }
            }
        }
    }
}

#[test]
fn non_finite_losses_name_the_epoch_and_the_neuron() {
    let mut ds = synthetic(10, 4, 2, 3, 26, 1);
    // Finite, but its square is not: NaN would be a missing entry, masked out.
    ds.train_responses.data[3 * 4 + 2] = 1e30;
    let err = train(
        &settings(ModelId::RfCnn, 2, Strategy::Population),
        &data(&ds),
        None,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "epoch 1, neuron 2: training loss is inf (try a smaller learning rate)"
    );
}
