//! Fixtures of the training tests: small synthetic datasets (random images and responses that
//! are a rectified random linear filter of the image centre plus noise, different per neuron),
//! test-sized training settings, and checkpoints of trained test networks.

use std::collections::{BTreeMap, BTreeSet};

use tch::Device;

use super::params::TrainParams;
use super::trainer::{InitFrom, Runtime, TrainData, TrainSettings, Trained, train};
use super::{CombineInit, Strategy};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::{PreparedDataset, PreparedMeta};
use crate::neuro::model::ModelId;
use crate::neuro::model::checkpoint::{Checkpoint, CheckpointMeta};
use crate::neuro::random::counter::{Purpose, Stream};

fn split(stream: Stream, n: usize, size: usize, filters: &[Vec<f32>]) -> (ArrayF32, ArrayF32) {
    let neurons = filters.len();
    let images: Vec<f32> = (0..n * size * size)
        .map(|i| stream.child(0).f32_at(i as u64) * 2.0 - 1.0)
        .collect();
    let mut responses = Vec::with_capacity(n * neurons);
    let (lo, hi) = (size / 2 - 4, size / 2 + 4);
    for i in 0..n {
        let img = &images[i * size * size..(i + 1) * size * size];
        for (j, f) in filters.iter().enumerate() {
            let mut drive = 0.0f32;
            let mut k = 0;
            for y in lo..hi {
                for x in lo..hi {
                    drive += f[k] * img[y * size + x];
                    k += 1;
                }
            }
            let noise = stream.child(1).f32_at((i * neurons + j) as u64) - 0.5;
            responses.push(drive.max(0.0) + 0.1 * noise);
        }
    }
    (
        ArrayF32::new(vec![n, size, size], images),
        ArrayF32::new(vec![n, neurons], responses),
    )
}

/// A prepared dataset of `neurons` neurons on `size`-pixel images.
pub fn synthetic(
    n_train: usize,
    n_val: usize,
    n_test: usize,
    neurons: usize,
    size: usize,
    seed: u64,
) -> PreparedDataset {
    let root = Stream::new(seed, Purpose::Bench);
    let filters: Vec<Vec<f32>> = (0..neurons)
        .map(|j| {
            (0..64)
                .map(|k| root.child(100 + j as u64).f32_at(k) - 0.5)
                .collect()
        })
        .collect();
    let (train_images, train_responses) = split(root.child(1), n_train, size, &filters);
    let (val_images, val_responses) = split(root.child(2), n_val, size, &filters);
    let (test_images, test_responses) = split(root.child(3), n_test, size, &filters);
    PreparedDataset {
        train_images,
        train_responses,
        val_images,
        val_responses,
        test_images,
        test_responses,
        test_repeats: None,
        truth: None,
        meta: PreparedMeta {
            neurons,
            size,
            source: "synthetic-test".into(),
            norm_mean: 0.0,
            norm_std: 1.0,
            fraction: 1.0,
        },
    }
}

/// Test-sized settings on CPU: `stages/train.yaml`'s defaults but for batch 10 and seed 42.
pub fn settings(model: ModelId, epochs: usize, strategy: Strategy) -> TrainSettings {
    TrainSettings {
        params: TrainParams {
            epochs,
            strategy,
            batch_size: 10,
            ..TrainParams::defaults(model, 42)
        },
        freeze: BTreeSet::new(),
        combine_init: CombineInit::Random,
        runtime: Runtime {
            device: Device::Cpu,
            max_group: None,
            eval_batch: 50,
        },
    }
}

/// The training and validation splits of a dataset.
pub fn data(ds: &PreparedDataset) -> TrainData<'_> {
    TrainData {
        train_images: &ds.train_images,
        train_responses: &ds.train_responses,
        val_images: &ds.val_images,
        val_responses: &ds.val_responses,
    }
}

/// Trains `ds` with `s` (panics on failure: a test bug).
pub fn run(s: &TrainSettings, ds: &PreparedDataset, init: Option<&InitFrom>) -> Trained {
    train(s, &data(ds), init, &mut |_| {}).unwrap()
}

/// The checkpoint a train stage would write for `trained`.
pub fn checkpoint(model: ModelId, ds: &PreparedDataset, trained: &Trained) -> Checkpoint {
    Checkpoint {
        meta: CheckpointMeta {
            model: model.id().into(),
            neurons: ds.meta.neurons,
            input_size: ds.meta.size,
            channels: trained.tensors["alpha1.conv.bias"].shape[1],
            sapipe_version: "test".into(),
            extra: BTreeMap::new(),
        },
        tensors: trained.tensors.clone(),
    }
}
