//! The `synthetic-v1` stage kind: generates the simulated V1 data set of data.md
//! ([`crate::neuro::data::sim`]) as a raw dataset directory (`data`), with a montage of stimuli
//! (`montage`) and a picture of a dozen neurons' receptive fields, surrounds and size tuning
//! (`neurons`). Its metrics are the calibration figures (single-trial vs noise-free
//! correlation, noise ceilings, sparseness, spectral slope) and dataset summaries. Its
//! parameters are read once into [`SyntheticParams`] (the test below keeps the struct and
//! `stages/synthetic-v1.yaml` in step).

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::data::sim::pictures::{write_montage, write_neuron_panels};
use crate::neuro::data::sim::report::calibration_metrics;
use crate::neuro::data::sim::source::{PhotoCrops, StimulusSource};
use crate::neuro::data::sim::stimuli::DeadLeaves;
use crate::neuro::data::sim::{PopulationConfig, SimConfig, simulate};
use crate::neuro::data::summary::{dataset_metrics, json_number};

pub struct SyntheticV1;

/// Stimuli shown in the montage.
const MONTAGE_IMAGES: usize = 24;

/// A `synthetic-v1` stage's parameters, as declared in `stages/synthetic-v1.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticParams {
    pub neurons: usize,
    pub train_images: usize,
    /// 0 leaves the validation split to `preprocess`.
    pub validation_images: usize,
    pub test_images: usize,
    /// Trials per test image.
    pub repeats: usize,
    /// Side of the generated stimuli in pixels.
    pub image_size: usize,
    pub complex_fraction: f64,
    pub no_surround_fraction: f64,
    /// A folder of photos to cut the stimuli from; dead leaves when `None` (written "").
    #[serde(with = "super::params::optional_path")]
    pub photos: Option<PathBuf>,
    pub seed: u64,
}

impl SyntheticParams {
    /// What to simulate (the population's other settings are the library's defaults).
    pub fn config(&self) -> SimConfig {
        SimConfig {
            seed: self.seed,
            train_images: self.train_images,
            validation_images: self.validation_images,
            test_images: self.test_images,
            repeats: self.repeats,
            population: PopulationConfig {
                neurons: self.neurons,
                complex_fraction: self.complex_fraction,
                no_surround_fraction: self.no_surround_fraction,
                ..Default::default()
            },
        }
    }
}

impl StageKind for SyntheticV1 {
    fn name(&self) -> &'static str {
        "synthetic-v1"
    }

    /// 2: the noise ceiling is the evaluate stage's estimator (unbiased variances), averaged
    /// over the neurons where it is defined; `noise_ceiling_neurons` counts them.
    fn version(&self) -> u32 {
        2
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let invalid =
            |e: &dyn std::fmt::Display| KindError::Invalid(format!("stage '{}': {e}", ctx.stage));
        let params: SyntheticParams = super::params::read_stage(ctx)?;
        let (cfg, size) = (params.config(), params.image_size);
        let source: Box<dyn StimulusSource> = match &params.photos {
            None => Box::new(DeadLeaves::new(size)),
            Some(photos) => Box::new(
                PhotoCrops::load(photos, size)
                    .map_err(|e| invalid(&format!("parameter 'photos': {e}")))?,
            ),
        };
        let start = Instant::now();
        let progress = |done: u64, total: u64, what: &str| (ctx.progress)(done, total, what);
        let out = simulate(&cfg, source.as_ref(), &progress).map_err(|e| invalid(&e))?;
        let seconds = start.elapsed().as_secs_f64();
        let dir = ctx.output("data")?;
        out.raw
            .write(dir)
            .map_err(|e| KindError::Failed(format!("stage '{}': output 'data': {e}", ctx.stage)))?;
        let shown: Vec<usize> = out
            .raw
            .split
            .train
            .iter()
            .take(MONTAGE_IMAGES)
            .copied()
            .collect();
        let picture =
            |e: &dyn std::fmt::Display| KindError::Failed(format!("stage '{}': {e}", ctx.stage));
        write_montage(&out.raw.images, &shown, 6, ctx.output("montage")?)
            .map_err(|e| picture(&e))?;
        write_neuron_panels(&out.population, ctx.output("neurons")?).map_err(|e| picture(&e))?;

        let mut metrics = dataset_metrics(&out.raw);
        metrics.extend(calibration_metrics(&out.raw, &out.population));
        metrics.insert("generation_seconds".into(), json_number(Some(seconds)));
        metrics.insert(
            "stimuli".into(),
            (if params.photos.is_none() {
                "dead-leaves"
            } else {
                "photos"
            })
            .into(),
        );
        ctx.log(&format!(
            "generated {} images x {} neurons in {seconds:.1} s; trial vs noise-free corr {}, \
                 fraction above half peak {}, spectral slope {}",
            out.raw.meta.images,
            out.raw.meta.neurons,
            metrics["trial_vs_noise_free_corr_mean"],
            metrics["fraction_above_half_peak_mean"],
            metrics["spectrum_slope"],
        ))?;
        Ok(metrics)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::stages::fixtures::{run_kind, synthetic_params, with_params};
    use crate::stages::params::read_stage;

    #[test]
    fn synthetic_stage_writes_data_pictures_and_calibration_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let outputs = [("data", true), ("montage", false), ("neurons", false)];
        let (m, out) = run_kind(
            &SyntheticV1,
            synthetic_params(),
            BTreeMap::new(),
            &outputs,
            dir.path(),
        );
        let m = m.unwrap();
        assert!(m["trial_vs_noise_free_corr_mean"].is_number());
        assert!(m["noise_ceiling"].is_number());
        let raw = crate::neuro::data::raw::RawDataset::read(&out["data"]).unwrap();
        assert_eq!(raw.images.shape, vec![30, 32, 32]);
        assert!(raw.neurons.is_some() && raw.truth.is_some());
        for picture in ["montage", "neurons"] {
            let bytes = std::fs::read(&out[picture]).unwrap();
            assert_eq!(
                image::guess_format(&bytes).unwrap(),
                image::ImageFormat::Png
            );
        }
        assert!(
            std::fs::read_to_string(dir.path().join("log.txt"))
                .unwrap()
                .contains("generated 30 images")
        );
    }

    #[test]
    fn the_struct_and_stages_synthetic_v1_yaml_agree() {
        crate::stages::params::drift::<SyntheticParams>("synthetic-v1", &[("seed", json!(7))]);
    }

    #[test]
    fn parameters_are_read_once_and_named_when_wrong() {
        let read = |p: serde_json::Value| {
            let p: crate::kind::Params = p.as_object().unwrap().clone().into_iter().collect();
            with_params("sim", &p, read_stage::<SyntheticParams>)
        };
        let p = read(synthetic_params()).unwrap();
        let cfg = p.config();
        assert_eq!(
            (
                cfg.seed,
                cfg.population.neurons,
                cfg.population.complex_fraction
            ),
            (5, 3, 0.5)
        );
        assert_eq!((p.image_size, p.photos), (32, None));
        let mut wrong = synthetic_params();
        wrong["repeats"] = json!(-1);
        let err = read(wrong).unwrap_err().to_string();
        assert!(
            err.contains("stage 'sim': parameter 'repeats'") && err.contains("-1"),
            "{err}"
        );
        let mut wrong = synthetic_params();
        wrong["neuron"] = json!(3);
        let err = read(wrong).unwrap_err().to_string();
        assert!(
            err.contains("stage 'sim'") && err.contains("unknown field `neuron`"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_photo_folder_names_the_parameter() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = synthetic_params();
        p["photos"] = json!(dir.path().join("none").display().to_string());
        let (m, _) = run_kind(
            &SyntheticV1,
            p,
            BTreeMap::new(),
            &[("data", true)],
            dir.path(),
        );
        let e = m.unwrap_err().to_string();
        assert!(
            e.contains("stage 's': parameter 'photos'") && e.contains("not a folder"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod definition_tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::stages::fixtures::{params_from_definition, run_kind};

    #[test]
    fn the_definition_declares_what_the_kind_reads_and_writes() {
        let small = json!({"seed": 1, "neurons": 2, "train_images": 8, "validation_images": 2, "test_images": 3,
                           "image_size": 24});
        let (params, outputs) = params_from_definition("synthetic-v1.yaml", small);
        assert_eq!(outputs, vec!["data", "montage", "neurons"]);
        let dir = tempfile::tempdir().unwrap();
        let outs = [("data", true), ("montage", false), ("neurons", false)];
        let (m, _) = run_kind(&SyntheticV1, params, BTreeMap::new(), &outs, dir.path());
        m.unwrap();
    }
}
