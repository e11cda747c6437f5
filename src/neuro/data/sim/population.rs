//! A simulated population: sampling neuron parameters from the seed, calibrating their scales
//! and noise on a separate set of calibration images, and evaluating images.
//!
//! Calibration (so the data behave like two-photon recordings, see data.md section 2):
//! - the centre drive is divided by its 90th percentile over the calibration images, the
//!   surround pools by their medians, so strengths mean the same thing for every neuron;
//! - the noise of each neuron is set so that a single trial correlates with the noise-free
//!   response at a per-neuron target drawn from `trial_corr` (default 0.5-0.7), half of the
//!   noise variance growing with the response (Poisson-like) and half a constant floor.
//!
//! Each neuron's parameters come from its own random stream, so the first k neurons of a
//! population are the same whatever its size.

use rayon::prelude::*;

use super::features::{EnergyGrid, LEVELS};
use super::neurons::{CellType, Drive, NeuronModel, NeuronParams, Response};
use super::source::StimulusSource;
use crate::neuro::random::sequential::Stream;
use crate::neuro::stats::{mean_var, quantile};

/// How a population is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationConfig {
    pub neurons: usize,
    /// Probability that a neuron is complex (Gabor energy) rather than simple.
    pub complex_fraction: f64,
    /// Probability that a neuron has no surround at all (the built-in control).
    pub no_surround_fraction: f64,
    /// Range of per-neuron targets for the single-trial vs noise-free correlation.
    pub trial_corr: (f64, f64),
    /// Share of the noise variance that grows with the response (the rest is a floor).
    pub response_dependent_share: f64,
    /// Images used to calibrate scales and noise (drawn apart from the dataset's images).
    pub calibration_images: usize,
}

impl Default for PopulationConfig {
    fn default() -> Self {
        Self {
            neurons: 16,
            complex_fraction: 0.6,
            no_surround_fraction: 0.2,
            trial_corr: (0.5, 0.7),
            response_dependent_share: 0.5,
            calibration_images: 2000,
        }
    }
}

/// A calibrated population for images of one size.
#[derive(Debug, Clone)]
pub struct Population {
    pub size: usize,
    pub neurons: Vec<NeuronModel>,
    needed: [bool; LEVELS],
}

/// Draws the parameters of neuron `index` (calibration scales set to 1, noise to zero).
pub fn sample_params(seed: u64, index: usize, cfg: &PopulationConfig, size: usize) -> NeuronParams {
    let mut rng = Stream::new(seed, "neuron", index as u64);
    let scale = size as f64 / 50.0;
    let centre = (size as f64 - 1.0) / 2.0;
    let jitter_sd = 0.03 * size as f64;
    let mut jitter = || (rng.normal() * jitter_sd).clamp(-2.0 * jitter_sd, 2.0 * jitter_sd);
    let (jx, jy) = (jitter(), jitter());
    let complex = rng.chance(cfg.complex_fraction);
    // An RF of 6-16 px at 50 x 50; the diameter is 4 sigma.
    let sigma = rng.range(6.0, 16.0) * scale / 4.0;
    let cycles_per_sigma = rng.range(0.3, 0.55);
    let wavelength = (sigma / cycles_per_sigma).max(3.0 * scale);
    let orientation = rng.range(0.0, std::f64::consts::PI);
    let phase = rng.range(0.0, std::f64::consts::TAU);
    let no_surround = rng.chance(cfg.no_surround_fraction);
    let facilitation_only = rng.chance(0.1);
    let suppression = rng.range(0.3, 2.0);
    let facilitation_on = rng.chance(0.75);
    let facilitation = rng.range(0.3, 1.5);
    let rc = 2.0 * sigma;
    let p = NeuronParams {
        index,
        cell_type: if complex {
            CellType::Complex
        } else {
            CellType::Simple
        },
        x: centre + jx,
        y: centre + jy,
        orientation,
        wavelength,
        phase,
        sigma,
        suppression: if no_surround || facilitation_only {
            0.0
        } else {
            suppression
        },
        untuned: rng.range(0.1, 0.5),
        annulus_inner: rc * rng.range(1.0, 1.3),
        annulus_outer: rc * rng.range(2.2, 3.2),
        facilitation: if no_surround || !facilitation_on {
            0.0
        } else {
            facilitation
        },
        flank_inner: rc * rng.range(0.9, 1.2),
        flank_outer: rc * rng.range(2.0, 3.0),
        flank_angle: rng.range(0.25, 0.45),
        gate_half: rng.range(0.6, 1.0),
        threshold: rng.range(0.0, 0.25),
        exponent: rng.range(1.2, 2.2),
        gain: 0.0,
        fano: 0.0,
        noise_floor: 0.0,
        target_trial_corr: rng.range(cfg.trial_corr.0, cfg.trial_corr.1),
        drive_scale: 1.0,
        suppression_scale: 1.0,
        facilitation_scale: 1.0,
    };
    // The centre-only response to a drive at its 90th percentile is `peak_gain`.
    let peak_gain = rng.range(0.2, 1.0);
    NeuronParams {
        gain: peak_gain / libm::pow(1.0 - p.threshold, p.exponent),
        ..p
    }
}

impl Population {
    /// A population of already calibrated neurons.
    pub fn from_params(params: Vec<NeuronParams>, size: usize) -> Self {
        let mut needed = [false; LEVELS];
        for p in &params {
            needed[p.level()] = true;
        }
        let neurons = params
            .into_iter()
            .map(|p| NeuronModel::new(p, size))
            .collect();
        Self {
            size,
            neurons,
            needed,
        }
    }

    /// Samples and calibrates a population against calibration images from `source`.
    pub fn sample(seed: u64, cfg: &PopulationConfig, source: &dyn StimulusSource) -> Self {
        let size = source.size();
        let params = (0..cfg.neurons)
            .map(|i| sample_params(seed, i, cfg, size))
            .collect();
        let mut pop = Self::from_params(params, size);
        let pixels = size * size;
        let drives: Vec<Vec<Drive>> = (0..cfg.calibration_images as u64)
            .into_par_iter()
            .map(|j| {
                let mut img = vec![0f32; pixels];
                source.render(seed, "calibration", j, &mut img);
                let grid = pop.grid(&img);
                pop.neurons.iter().map(|n| n.drive(&img, &grid)).collect()
            })
            .collect();
        let column = |n: usize, f: fn(&Drive) -> f32| -> Vec<f64> {
            drives.iter().map(|d| f(&d[n]) as f64).collect()
        };
        let calibrated: Vec<NeuronParams> = pop
            .neurons
            .iter()
            .enumerate()
            .map(|(n, m)| {
                let mut p = m.params.clone();
                p.drive_scale = positive_scale(&column(n, |d| d.centre), 0.9);
                p.suppression_scale = positive_scale(&column(n, |d| d.suppression), 0.5);
                p.facilitation_scale = positive_scale(&column(n, |d| d.facilitation), 0.5);
                let scaled = NeuronModel::new(p.clone(), size);
                let nf: Vec<f64> = drives
                    .iter()
                    .map(|d| scaled.respond(d[n]).noise_free as f64)
                    .collect();
                calibrate_noise(&mut p, &nf, cfg.response_dependent_share);
                p
            })
            .collect();
        pop = Self::from_params(calibrated, size);
        pop
    }

    pub fn params(&self) -> Vec<NeuronParams> {
        self.neurons.iter().map(|n| n.params.clone()).collect()
    }

    /// The energy grid of an image at the levels this population reads.
    pub fn grid(&self, image: &[f32]) -> EnergyGrid {
        EnergyGrid::compute(image, self.size, self.needed)
    }

    /// Ground truth of every neuron for one image.
    pub fn evaluate(&self, image: &[f32], out: &mut [Response]) {
        let grid = self.grid(image);
        for (n, o) in self.neurons.iter().zip(out.iter_mut()) {
            *o = n.respond(n.drive(image, &grid));
        }
    }

    /// Noisy trials: `out[r * neurons + n]` for repeat r of neuron n, drawn neuron by neuron.
    pub fn trials(&self, truth: &[Response], rng: &mut Stream, repeats: usize, out: &mut [f32]) {
        let k = self.neurons.len();
        for (n, (model, t)) in self.neurons.iter().zip(truth).enumerate() {
            let sd = model.noise_sd(t.noise_free);
            for r in 0..repeats {
                out[r * k + n] = t.noise_free + sd * rng.normal() as f32;
            }
        }
    }
}

/// A robust positive scale: the `q` quantile, else the mean, else 1.
fn positive_scale(values: &[f64], q: f64) -> f64 {
    let v = quantile(values, q);
    if v > 1e-12 {
        return v;
    }
    let (m, _) = mean_var(values);
    if m > 1e-12 { m } else { 1.0 }
}

/// Sets `fano` and `noise_floor` so that corr(trial, noise-free) is `target_trial_corr` on
/// responses distributed like `noise_free`: noise variance = var * (1/rho^2 - 1).
fn calibrate_noise(p: &mut NeuronParams, noise_free: &[f64], share: f64) {
    let (mean, var) = mean_var(noise_free);
    let rho = p.target_trial_corr;
    if var <= 0.0 || mean <= 0.0 {
        p.fano = 0.0;
        p.noise_floor = 0.01 * p.gain;
        return;
    }
    let noise = var * (1.0 / (rho * rho) - 1.0);
    p.fano = share * noise / mean;
    p.noise_floor = libm::sqrt((1.0 - share) * noise);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::data::sim::stimuli::DeadLeaves;

    #[test]
    fn neurons_do_not_depend_on_population_size() {
        let cfg = PopulationConfig::default();
        let a = sample_params(3, 2, &cfg, 100);
        let b = sample_params(
            3,
            2,
            &PopulationConfig {
                neurons: 300,
                ..cfg.clone()
            },
            100,
        );
        assert_eq!(a, b);
        assert_ne!(a, sample_params(4, 2, &cfg, 100));
    }

    #[test]
    fn sampled_rfs_have_the_specified_geometry() {
        let cfg = PopulationConfig {
            no_surround_fraction: 0.3,
            ..Default::default()
        };
        let ps: Vec<NeuronParams> = (0..200).map(|i| sample_params(1, i, &cfg, 100)).collect();
        for p in &ps {
            let d50 = p.rf_diameter() / 2.0;
            assert!((6.0..=16.0).contains(&d50), "diameter {d50} at 50 px");
            assert!((p.x - 49.5).abs() <= 6.0 && (p.y - 49.5).abs() <= 6.0);
            assert!(p.wavelength >= 6.0);
        }
        let none = ps.iter().filter(|p| !p.has_surround()).count();
        assert!((40..=80).contains(&none), "{none} of 200 without surround");
        assert!(ps.iter().any(|p| p.cell_type == CellType::Simple));
        assert!(ps.iter().any(|p| p.cell_type == CellType::Complex));
    }

    #[test]
    fn calibration_sets_scales_and_noise() {
        let cfg = PopulationConfig {
            neurons: 4,
            calibration_images: 60,
            ..Default::default()
        };
        let pop = Population::sample(9, &cfg, &DeadLeaves::new(48));
        for p in pop.params() {
            assert!(p.drive_scale > 0.0 && p.drive_scale != 1.0);
            assert!(p.noise_floor > 0.0);
        }
    }
}
