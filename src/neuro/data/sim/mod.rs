//! The simulated V1 data set (`synthetic-v1`): natural-like stimuli, a population of model
//! neurons with a known centre-surround mechanism, noisy trials, and the ground truth behind
//! them (data.md).
//!
//! - [`stimuli`]: dead-leaves images with textures, and [`contours`] drawn over them;
//!   [`source`]: that generator or crops of the user's photos;
//! - [`features`]: oriented energy on a coarse grid (what surrounds pool);
//! - [`neurons`]: one neuron's parameters and response function; [`population`]: sampling
//!   and calibration;
//! - [`report`]: calibration figures for the stage's metrics; [`spectrum`]: image statistics;
//! - [`bench`]: generation throughput.
//!
//! Everything is a pure function of the seed: every image, neuron and trial has its own random
//! stream, so the rayon thread count never changes a bit of the output.

pub mod bench;
pub mod contours;
pub mod features;
pub mod neurons;
pub mod pictures;
pub mod population;
pub mod report;
pub mod source;
pub mod spectrum;
pub mod stimuli;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::raw::{FORMAT, RawDataset, RawMeta, Split};
use super::truth::Truth;
use crate::neuro::array::ArrayF32;
use crate::neuro::random::sequential::Stream;
use neurons::Response;
pub use population::{Population, PopulationConfig};
use source::StimulusSource;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{path}: {message}")]
    Photos { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub train_images: usize,
    /// 0 leaves the validation split to `preprocess`.
    pub validation_images: usize,
    pub test_images: usize,
    /// Trials per test image.
    pub repeats: usize,
    pub population: PopulationConfig,
}

impl SimConfig {
    pub fn check(&self, size: usize) -> Result<(), SimError> {
        let bad = |m: &str| Err(SimError::Invalid(m.to_owned()));
        if size < 16 {
            return bad("image_size must be at least 16 pixels");
        }
        if self.train_images == 0 || self.test_images == 0 {
            return bad("train_images and test_images must be at least 1");
        }
        if self.population.neurons == 0 {
            return bad("neurons must be at least 1");
        }
        if self.repeats == 0 {
            return bad("repeats must be at least 1");
        }
        if self.population.calibration_images < 2 {
            return bad("calibration needs at least 2 images");
        }
        Ok(())
    }
}

/// Images, ground truth and trials of one split.
pub struct SplitData {
    /// `[count, size, size]`, empty unless kept.
    pub images: Vec<f32>,
    /// `[count, neurons]`.
    pub truth: Vec<Response>,
    /// `[count, repeats, neurons]`.
    pub trials: Vec<f32>,
}

/// Which images of which split to generate.
#[derive(Debug, Clone, Copy)]
pub struct SplitRequest<'a> {
    /// "train", "validation" or "test" (names the random streams).
    pub split: &'a str,
    pub count: usize,
    /// Trials per image.
    pub repeats: usize,
    /// Whether to return the images (a benchmark only needs the responses).
    pub keep_images: bool,
}

/// Generates the images of a split with their responses, in parallel; `progress` is called
/// with the number of images done.
pub fn generate_split(
    pop: &Population,
    source: &dyn StimulusSource,
    seed: u64,
    req: SplitRequest,
    progress: &(dyn Fn(u64) + Sync),
) -> SplitData {
    let SplitRequest {
        split,
        count,
        repeats,
        keep_images,
    } = req;
    let px = pop.size * pop.size;
    let k = pop.neurons.len();
    let mut images = vec![0f32; if keep_images { count * px } else { 0 }];
    let mut truth = vec![Response::default(); count * k];
    let mut trials = vec![0f32; count * repeats * k];
    let done = AtomicU64::new(0);
    let step = (count as u64 / 100).max(1);
    let noise = format!("noise/{split}");
    let work = |scratch: &mut Vec<f32>,
                i: usize,
                img_out: Option<&mut [f32]>,
                t: &mut [Response],
                r: &mut [f32]| {
        source.render(seed, split, i as u64, scratch);
        pop.evaluate(scratch, t);
        pop.trials(t, &mut Stream::new(seed, &noise, i as u64), repeats, r);
        if let Some(out) = img_out {
            out.copy_from_slice(scratch);
        }
        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
        if d.is_multiple_of(step) || d == count as u64 {
            progress(d);
        }
    };
    let rows = truth
        .par_chunks_mut(k)
        .zip(trials.par_chunks_mut(repeats * k))
        .enumerate();
    if keep_images {
        rows.zip(images.par_chunks_mut(px)).for_each_init(
            || vec![0f32; px],
            |s, ((i, (t, r)), img)| work(s, i, Some(img), t, r),
        );
    } else {
        rows.for_each_init(|| vec![0f32; px], |s, (i, (t, r))| work(s, i, None, t, r));
    }
    SplitData {
        images,
        truth,
        trials,
    }
}

/// The generated data set and the population behind it.
pub struct SimOutput {
    pub raw: RawDataset,
    pub population: Population,
}

/// Generates the whole data set: train, validation and test images (in that order in the
/// arrays), single trials for train and validation, `repeats` trials for test images.
pub fn simulate(
    cfg: &SimConfig,
    source: &dyn StimulusSource,
    progress: &(dyn Fn(u64, u64, &str) + Sync),
) -> Result<SimOutput, SimError> {
    let size = source.size();
    cfg.check(size)?;
    progress(0, 1, "calibrating neurons");
    let pop = Population::sample(cfg.seed, &cfg.population, source);
    let k = pop.neurons.len();
    let total = (cfg.train_images + cfg.validation_images + cfg.test_images) as u64;
    let parts = [
        ("train", cfg.train_images, 1, 0),
        ("validation", cfg.validation_images, 1, cfg.train_images),
        (
            "test",
            cfg.test_images,
            cfg.repeats,
            cfg.train_images + cfg.validation_images,
        ),
    ];
    let n = total as usize;
    let mut images = Vec::with_capacity(n * size * size);
    let mut responses = Vec::with_capacity(n * k);
    let mut truth = [
        Vec::with_capacity(n * k),
        Vec::with_capacity(n * k),
        Vec::with_capacity(n * k),
    ];
    let mut test_repeats = vec![0f32; cfg.repeats * cfg.test_images * k];
    for (split, count, repeats, offset) in parts {
        let report = |d: u64| progress(offset as u64 + d, total, split);
        let req = SplitRequest {
            split,
            count,
            repeats,
            keep_images: true,
        };
        let data = generate_split(&pop, source, cfg.seed, req, &report);
        images.extend_from_slice(&data.images);
        for t in &data.truth {
            truth[0].push(t.noise_free);
            truth[1].push(t.centre_only);
            truth[2].push(t.surround_factor);
        }
        for i in 0..count {
            let block = &data.trials[i * repeats * k..(i + 1) * repeats * k];
            for n in 0..k {
                let mean =
                    (0..repeats).map(|r| block[r * k + n] as f64).sum::<f64>() / repeats as f64;
                responses.push(if repeats == 1 { block[n] } else { mean as f32 });
            }
            if split == "test" {
                for r in 0..repeats {
                    let dst = (r * count + i) * k;
                    test_repeats[dst..dst + k].copy_from_slice(&block[r * k..(r + 1) * k]);
                }
            }
        }
    }
    let [nf, centre, factor] = truth;
    let train_end = cfg.train_images;
    let val_end = train_end + cfg.validation_images;
    let raw = RawDataset {
        images: ArrayF32::new(vec![n, size, size], images),
        responses: ArrayF32::new(vec![n, k], responses),
        split: Split {
            train: (0..train_end).collect(),
            validation: (cfg.validation_images > 0).then(|| (train_end..val_end).collect()),
            test: (val_end..n).collect(),
        },
        test_repeats: Some(ArrayF32::new(
            vec![cfg.repeats, cfg.test_images, k],
            test_repeats,
        )),
        truth: Some(Truth {
            noise_free: ArrayF32::new(vec![n, k], nf),
            centre: ArrayF32::new(vec![n, k], centre),
            surround_factor: ArrayF32::new(vec![n, k], factor),
        }),
        neurons: Some(
            serde_json::to_value(pop.params()).map_err(|e| SimError::Invalid(e.to_string()))?,
        ),
        meta: RawMeta {
            format: FORMAT,
            source: "synthetic-v1".into(),
            images: n,
            height: size,
            width: size,
            neurons: k,
            repeats: Some(cfg.repeats),
            seed: Some(cfg.seed),
        },
    };
    progress(total, total, "done");
    Ok(SimOutput {
        raw,
        population: pop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::data::fixtures::small_config;
    use stimuli::DeadLeaves;

    fn digest(ds: &RawDataset) -> String {
        let dir = tempfile::tempdir().unwrap();
        ds.write(dir.path()).unwrap();
        let mut h = blake3::Hasher::new();
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            h.update(p.file_name().unwrap().as_encoded_bytes());
            h.update(&std::fs::read(&p).unwrap());
        }
        h.finalize().to_hex().to_string()
    }

    #[test]
    fn same_seed_same_bytes_different_seed_different_bytes() {
        let source = DeadLeaves::new(32);
        let quiet = |_: u64, _: u64, _: &str| {};
        let a = simulate(&small_config(1), &source, &quiet).unwrap().raw;
        let b = simulate(&small_config(1), &source, &quiet).unwrap().raw;
        let c = simulate(&small_config(2), &source, &quiet).unwrap().raw;
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
        // Thread count does not matter: one thread gives the same bytes.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let d = pool.install(|| simulate(&small_config(1), &source, &quiet).unwrap().raw);
        assert_eq!(digest(&a), digest(&d));
    }

    #[test]
    fn layout_of_the_generated_dataset() {
        let source = DeadLeaves::new(32);
        let raw = simulate(&small_config(3), &source, &|_, _, _| {})
            .unwrap()
            .raw;
        assert_eq!(raw.images.shape, vec![38, 32, 32]);
        assert_eq!(raw.split.validation.as_ref().unwrap().len(), 6);
        assert_eq!(raw.split.test, (30..38).collect::<Vec<_>>());
        let rep = raw.test_repeats.as_ref().unwrap();
        assert_eq!(rep.shape, vec![3, 8, 5]);
        // Test responses are the repeat means.
        let (i, n) = (2, 4);
        let mean = (0..3).map(|r| rep.data[(r * 8 + i) * 5 + n]).sum::<f32>() / 3.0;
        assert!((raw.responses.data[(30 + i) * 5 + n] - mean).abs() < 1e-6);
    }
}
#[cfg(test)]
mod acceptance;
