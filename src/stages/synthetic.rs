//! The `synthetic-v1` stage kind: generates the simulated V1 data set of data.md
//! ([`crate::neuro::data::sim`]) as a raw dataset directory (`data`), with a montage of stimuli
//! (`montage`) and a picture of a dozen neurons' receptive fields, surrounds and size tuning
//! (`neurons`). Its metrics are the calibration figures (single-trial vs noise-free
//! correlation, noise ceilings, sparseness, spectral slope) and dataset summaries.

use std::path::Path;
use std::time::Instant;

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

/// Appends a line to the stage's log.
pub(crate) fn usize_param(ctx: &StageContext, name: &str) -> Result<usize, KindError> {
    Ok(ctx.param_u64(name)? as usize)
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
        let size = usize_param(ctx, "image_size")?;
        let cfg = SimConfig {
            seed: ctx.param_u64("seed")?,
            train_images: usize_param(ctx, "train_images")?,
            validation_images: usize_param(ctx, "validation_images")?,
            test_images: usize_param(ctx, "test_images")?,
            repeats: usize_param(ctx, "repeats")?,
            population: PopulationConfig {
                neurons: usize_param(ctx, "neurons")?,
                complex_fraction: ctx.param_f64("complex_fraction")?,
                no_surround_fraction: ctx.param_f64("no_surround_fraction")?,
                ..Default::default()
            },
        };
        let photos = ctx.param_str("photos")?;
        let source: Box<dyn StimulusSource> = if photos.is_empty() {
            Box::new(DeadLeaves::new(size))
        } else {
            Box::new(
                PhotoCrops::load(Path::new(photos), size)
                    .map_err(|e| invalid(&format!("parameter 'photos': {e}")))?,
            )
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
            (if photos.is_empty() {
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
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use serde_json::{Value, json};

    use super::*;
    use crate::kind::{DeviceClass, Params};

    /// Runs `kind` with `params`, inputs and outputs (name -> (path, is_dir)) in `dir`.
    pub(crate) fn run_kind(
        kind: &dyn StageKind,
        params: Value,
        inputs: BTreeMap<String, PathBuf>,
        outputs: &[(&str, bool)],
        dir: &Path,
    ) -> (Result<Metrics, KindError>, BTreeMap<String, PathBuf>) {
        let params: Params = params.as_object().unwrap().clone().into_iter().collect();
        let mut out = BTreeMap::new();
        for &(name, is_dir) in outputs {
            let p = dir.join(name);
            if is_dir {
                std::fs::create_dir_all(&p).unwrap();
            }
            out.insert(name.to_owned(), p);
        }
        let ctx = StageContext {
            stage: "s",
            params: &params,
            inputs: &inputs,
            outputs: &out,
            workdir: dir.to_owned(),
            log_path: dir.join("log.txt"),
            device: DeviceClass::Cpu,
            deterministic: true,
            progress: &|_, _, _| {},
            numerics: &|_| {},
        };
        (kind.run(&ctx), out)
    }

    pub(crate) fn synthetic_params() -> Value {
        json!({
            "neurons": 3, "train_images": 20, "validation_images": 4, "test_images": 6, "repeats": 2,
            "image_size": 32, "complex_fraction": 0.5, "no_surround_fraction": 0.2, "photos": "", "seed": 5
        })
    }

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
pub(crate) mod definition_tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::tests::run_kind;
    use super::*;

    /// The parameters a stage definition declares, with its defaults, overridden by `with`.
    pub(crate) fn params_from_definition(file: &str, with: Value) -> (Value, Vec<String>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("stages")
            .join(file);
        let def: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut params = serde_json::Map::new();
        for (name, spec) in def["params"].as_mapping().unwrap() {
            if let Some(d) = spec.get("default") {
                params.insert(
                    name.as_str().unwrap().to_owned(),
                    serde_json::to_value(d).unwrap(),
                );
            }
        }
        for (k, v) in with.as_object().unwrap() {
            params.insert(k.clone(), v.clone());
        }
        let outputs = def["outputs"]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect());
        (Value::Object(params), outputs.unwrap_or_default())
    }

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
