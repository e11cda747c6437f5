//! Generation throughput (`sapipe bench data`): calibrate a population, then generate images
//! with one trial each, timing both. Images are dropped as soon as their responses exist, so
//! memory stays small at any scale. The target (data.md) is 50,000 images x 300 neurons in
//! about a minute on two cores.

use std::time::Instant;

use serde::Serialize;

use super::source::StimulusSource;
use super::stimuli::DeadLeaves;
use super::{Population, PopulationConfig, SplitRequest, generate_split};

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub images: usize,
    pub neurons: usize,
    pub image_size: usize,
    pub threads: usize,
    pub calibration_images: usize,
    pub calibration_seconds: f64,
    pub generation_seconds: f64,
    pub total_seconds: f64,
    /// (image, neuron) pairs generated per second, calibration included.
    pub image_neurons_per_second: f64,
    /// blake3 of the generated responses (equal across runs and machines for one seed).
    pub responses_digest: String,
}

/// Generates `images` training images for `neurons` neurons at the default size (100 px)
/// and reports the time taken.
pub fn bench_generate(images: usize, neurons: usize, seed: u64) -> BenchReport {
    bench_with(
        images,
        neurons,
        seed,
        PopulationConfig::default().calibration_images,
    )
}

fn bench_with(images: usize, neurons: usize, seed: u64, calibration_images: usize) -> BenchReport {
    let source = DeadLeaves::new(100);
    let cfg = PopulationConfig {
        neurons,
        calibration_images,
        ..Default::default()
    };
    let start = Instant::now();
    let pop = Population::sample(seed, &cfg, &source);
    let calibration_seconds = start.elapsed().as_secs_f64();
    let req = SplitRequest {
        split: "train",
        count: images,
        repeats: 1,
        keep_images: false,
    };
    let data = generate_split(&pop, &source, seed, req, &|_| {});
    let total_seconds = start.elapsed().as_secs_f64();
    let mut h = blake3::Hasher::new();
    for v in &data.trials {
        h.update(&v.to_le_bytes());
    }
    BenchReport {
        images,
        neurons,
        image_size: source.size(),
        threads: rayon::current_num_threads(),
        calibration_images: cfg.calibration_images,
        calibration_seconds,
        generation_seconds: total_seconds - calibration_seconds,
        total_seconds,
        image_neurons_per_second: (images * neurons) as f64 / total_seconds.max(1e-9),
        responses_digest: h.finalize().to_hex().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_benchmark_reports_consistent_figures() {
        let a = bench_with(4, 2, 1, 8);
        assert_eq!((a.images, a.neurons, a.image_size), (4, 2, 100));
        assert!(a.total_seconds >= a.calibration_seconds && a.image_neurons_per_second > 0.0);
        assert_eq!(a.responses_digest, bench_with(4, 2, 1, 8).responses_digest);
    }
}
