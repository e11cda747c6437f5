//! Acceptance tests of the population trainer (small sizes, CPU): parameter counts of the
//! instantiated networks, population vs one-neuron-at-a-time equivalence, init and freeze
//! semantics, and a plain-PyTorch reference forward pass on a written checkpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tch::Device;

use super::Strategy;
use super::fixtures::{checkpoint, data, run, settings, synthetic};
use super::trainer::{InitFrom, TrainSettings, Trained, predict_checkpoint, train};
use crate::neuro::array::ArrayF32;
use crate::neuro::model::arch::REFERENCE_INPUT_SIZE;
use crate::neuro::model::incremental_chain;
use crate::neuro::model::{Architecture, FreezeMode, ModelId, Network, Unit, architectures};

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
/// batch and dropout masks): predictions, batch-norm statistics and every gradient agree
/// within 1e-6 of the neuron's largest gradient (resp. value); measured 3e-8, and only in the
/// attention's residual scale, whose gradient is one reduction over the whole population
/// tensor (its summation order depends on the population's size). On CPU every convolution
/// runs the kernel it runs alone (`blocks::Conv`); on CUDA grouped convolutions sum in their
/// own order. Either way the differences are rounding-level and couple no neurons.
#[test]
fn one_step_of_four_neurons_together_matches_each_alone() {
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
    let mut worst = (0.0f64, String::new());
    for j in 0..4 {
        let alone = step(&[j]);
        let scale = |grads: bool| {
            alone
                .iter()
                .filter(|(n, _)| n.ends_with(".grad") == grads)
                .flat_map(|(_, t)| t.data.iter())
                .fold(0f64, |m, v| m.max(f64::from(v.abs())))
        };
        let (grad_scale, value_scale) = (scale(true), scale(false));
        for (name, t) in &alone {
            let n = t.data.len();
            let slot = &together[name].data[j * n..(j + 1) * n];
            let diff = t
                .data
                .iter()
                .zip(slot)
                .fold(0f64, |m, (a, b)| m.max(f64::from((a - b).abs())));
            let rel = diff
                / if name.ends_with(".grad") {
                    grad_scale
                } else {
                    value_scale
                };
            if rel > worst.0 {
                worst = (rel, format!("{name} of neuron {j}"));
            }
        }
    }
    eprintln!(
        "one step, population vs alone: largest difference {:.2e} of scale ({})",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= 1e-6,
        "{} differs by {:.2e} of its scale",
        worst.1,
        worst.0
    );
}

/// Single precision (what stages use): two epochs (six Adam steps) of four neurons together vs
/// each alone. The rounding-level differences of one step (above) stay small, except where
/// Adam turns them into full-size steps: parameters whose true gradient is zero (a
/// convolution bias feeding a batch-norm in training mode, whose gradient is pure rounding
/// noise) and, through them, the running means that absorb those biases. Every other tensor
/// must agree within 1e-4 of its largest value (measured 6e-6), test-set predictions within
/// 2e-3 of their scale (measured 1e-4), and the selected epochs must be the same. A real
/// coupling between neurons would show up as differences of order 1; the double-precision
/// test below shows the trajectories are the same mathematics.
#[test]
fn four_neurons_trained_together_match_each_trained_alone() {
    let ds = synthetic(30, 12, 6, 4, 26, 3);
    let model = ModelId::FfSaCnnStarFc1;
    let together = run(&settings(model, 2, Strategy::Population), &ds, None);
    let alone = run(&settings(model, 2, Strategy::PerNeuron), &ds, None);
    assert_eq!((together.group_size, alone.group_size), (4, 1));
    let mut worst = (0.0f64, String::new());
    for (name, a) in together
        .tensors
        .iter()
        .filter(|(n, _)| !(n.ends_with("conv.bias") || n.ends_with("running_mean")))
    {
        let b = &alone.tensors[name];
        let scale = a.data.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
        let diff = a
            .data
            .iter()
            .zip(&b.data)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        if f64::from(diff / scale) > worst.0 {
            worst = (f64::from(diff / scale), name.clone());
        }
    }
    eprintln!(
        "population vs per-neuron after 2 epochs: largest difference {:.2e} of scale ({})",
        worst.0, worst.1
    );
    assert!(
        worst.0 < 1e-4,
        "{} differs by {:.2e} of its scale",
        worst.1,
        worst.0
    );
    assert_eq!(together.best_epoch, alone.best_epoch);
    let ckpt = |t: &Trained| checkpoint(model, &ds, t);
    let p = Path::new("t.safetensors");
    let a = predict_checkpoint(&ckpt(&together), p, &ds.test_images, Device::Cpu, 4, 50).unwrap();
    let b = predict_checkpoint(&ckpt(&alone), p, &ds.test_images, Device::Cpu, 1, 50).unwrap();
    let scale = a.data.iter().fold(0f32, |m, x| m.max(x.abs()));
    let diff = a
        .data
        .iter()
        .zip(&b.data)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    eprintln!(
        "population vs per-neuron after 2 epochs: test predictions differ by {diff:.2e} (scale {scale:.2e})"
    );
    assert!(diff <= 2e-3 * scale, "predictions differ by {diff}");
    assert_moved_from_initial_values(model, &alone);
}

/// The acceptance test of population training: four neurons trained together (grouped
/// convolutions, one batched attention and readout) and each trained alone, from the same seeds
/// and data order, in double precision, end with the same parameters and batch-norm statistics
/// within 1e-6 relative — every tensor, conv biases and running means included — and select the
/// same epochs. NOT bit-identical: the batched kernels sum in another order (see the one-step
/// test), and in single precision Adam amplifies those rounding differences for parameters
/// whose true gradient is zero (test below). In double precision the rounding noise stays far
/// below Adam's epsilon, so what remains is the mathematics, which is the same (measured:
/// the checkpoints, which store single precision, come out bit-identical).
#[test]
fn four_neurons_trained_together_equal_each_trained_alone_within_1e6_in_double_precision() {
    let ds = synthetic(30, 12, 6, 4, 26, 3);
    let model = ModelId::FfSaCnnStarFc1;
    let double = |strategy| TrainSettings {
        precision: super::Precision::Double,
        ..settings(model, 3, strategy)
    };
    let together = run(&double(Strategy::Population), &ds, None);
    let alone = run(&double(Strategy::PerNeuron), &ds, None);
    assert_eq!((together.group_size, alone.group_size), (4, 1));
    assert_eq!(together.tensors.len(), alone.tensors.len());
    let worst = max_relative_difference(&together.tensors, &alone.tensors);
    eprintln!(
        "double precision, population vs per-neuron after 3 epochs: largest relative difference {:.2e} ({})",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= 1e-6,
        "{} differs by {:.2e} relative",
        worst.1,
        worst.0
    );
    assert_eq!(together.best_epoch, alone.best_epoch);
    for (a, b) in together.curves.iter().zip(&alone.curves) {
        assert_eq!((a.epoch, a.neuron), (b.epoch, b.neuron));
        assert!((a.train_loss - b.train_loss).abs() <= 1e-6 * a.train_loss.abs().max(1e-3));
        let (ra, rb) = (a.val_corr.unwrap(), b.val_corr.unwrap());
        assert!((ra - rb).abs() <= 1e-6);
    }
    // The double-precision run really computed in double: single precision ends elsewhere.
    let single = run(&settings(model, 3, Strategy::Population), &ds, None);
    assert!(max_relative_difference(&single.tensors, &together.tensors).0 > 1e-6);
    assert_moved_from_initial_values(model, &alone);
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
    rf30.channels = Some(30);
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
        let s = TrainSettings {
            combine_init,
            readout_bias: super::ReadoutBias::Mean,
            ..settings(model, 1, Strategy::Population)
        };
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

#[test]
fn frozen_blocks_end_bit_identical_and_strict_mode_keeps_their_statistics() {
    let size = 26;
    let ds = synthetic(30, 8, 4, 2, size, 11);
    let mut rf30 = settings(ModelId::RfCnn, 1, Strategy::Population);
    rf30.channels = Some(30);
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
        s.freeze_mode = mode;
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
fn checkpoints_load_in_plain_pytorch_and_reproduce_the_predictions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".torch-env/bin/python3");
    if !python.exists() {
        eprintln!(
            "SKIPPED: {} is missing (run scripts/setup-torch) — PyTorch round trip not checked",
            python.display()
        );
        return;
    }
    let script = root.join("tests/python/reference_forward.py");
    let dir = tempfile::tempdir().unwrap();
    for (model, size) in [
        (ModelId::FfSaCnn, 32),
        (ModelId::RfSaCnn, 26),
        (ModelId::FfSaCnnStarFc1, 26),
        (ModelId::FfSaCnnStar, REFERENCE_INPUT_SIZE),
    ] {
        let ds = synthetic(12, 4, 6, 2, size, 13);
        let trained = run(&settings(model, 1, Strategy::Population), &ds, None);
        let ckpt = checkpoint(model, &ds, &trained);
        let ckpt_path = dir.path().join(format!("{model}.safetensors"));
        ckpt.write(&ckpt_path).unwrap();
        let pred =
            predict_checkpoint(&ckpt, &ckpt_path, &ds.test_images, Device::Cpu, 2, 50).unwrap();
        let (img, out) = (
            dir.path().join(format!("{model}-images.npy")),
            dir.path().join(format!("{model}-pred.npy")),
        );
        ds.test_images.write_npy(&img).unwrap();
        pred.write_npy(&out).unwrap();
        let result = std::process::Command::new(&python)
            .arg(&script)
            .args([&ckpt_path, &img, &out])
            .args(["1", "1e-5"])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        );
        eprintln!("{}", text.trim());
        assert!(
            result.status.success(),
            "PyTorch reference disagrees for {model}: {text}"
        );
    }
}

#[test]
fn non_finite_losses_name_the_epoch_and_the_neuron() {
    let mut ds = synthetic(10, 4, 2, 3, 26, 1);
    ds.train_responses.data[3 * 4 + 2] = f32::NAN;
    let err = train(
        &settings(ModelId::RfCnn, 2, Strategy::Population),
        &data(&ds),
        None,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "epoch 1, neuron 2: training loss is NaN (try a smaller learning rate)"
    );
}
