//! Test fixtures shared by the data modules' tests: a tiny raw dataset, `.npy` files written
//! from slices, and the configuration of a small simulated population.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use npyz::WriterBuilder;

use crate::neuro::array::ArrayF32;
use crate::neuro::data::raw::{FORMAT, RawDataset, RawMeta, Split};
use crate::neuro::data::sim::{PopulationConfig, SimConfig};

/// A small consistent dataset: `n` images of `side` px, `k` neurons, last `n_test` images
/// tested with 2 repeats.
pub fn tiny(n: usize, side: usize, k: usize, n_test: usize) -> RawDataset {
    let images = ArrayF32::new(
        vec![n, side, side],
        (0..n * side * side).map(|v| (v % 13) as f32).collect(),
    );
    let responses = ArrayF32::new(vec![n, k], (0..n * k).map(|v| (v % 5) as f32).collect());
    RawDataset {
        images,
        responses,
        split: Split {
            train: (0..n - n_test).collect(),
            validation: None,
            test: (n - n_test..n).collect(),
        },
        test_repeats: Some(ArrayF32::zeros(vec![2, n_test, k])),
        truth: None,
        neurons: None,
        meta: RawMeta {
            format: FORMAT,
            source: "import".into(),
            images: n,
            height: side,
            width: side,
            neurons: k,
            repeats: Some(2),
            seed: None,
        },
    }
}

/// Writes `data` with `shape` as `dir/name.npy`.
pub fn npy<T: npyz::AutoSerialize + Copy>(dir: &Path, name: &str, shape: &[u64], data: &[T]) {
    let file = BufWriter::new(File::create(dir.join(format!("{name}.npy"))).unwrap());
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(file)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

/// A small simulated dataset: 5 neurons, 24 + 6 + 8 images, 3 repeats.
pub fn small_config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        train_images: 24,
        validation_images: 6,
        test_images: 8,
        repeats: 3,
        population: PopulationConfig {
            neurons: 5,
            calibration_images: 40,
            ..Default::default()
        },
    }
}
