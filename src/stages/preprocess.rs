//! The `preprocess` stage kind: turns a raw dataset directory (`data`, from `synthetic-v1` or
//! `import`) into the prepared dataset (`prepared`) that `train` and `evaluate` read, with
//! [`crate::neuro::data::preprocess`].

use serde_json::Value;

use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::data::preprocess::{PreprocessConfig, preprocess};
use crate::neuro::data::raw::RawDataset;
use crate::neuro::data::summary::json_number;

pub struct Preprocess;

impl StageKind for Preprocess {
    fn name(&self) -> &'static str {
        "preprocess"
    }

    fn version(&self) -> u32 {
        1
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let raw = RawDataset::read(ctx.input("data")?)
            .map_err(|e| KindError::Invalid(format!("stage '{}': input 'data': {e}", ctx.stage)))?;
        let cfg: PreprocessConfig = super::params::read_stage(ctx)?;
        let (prepared, report) = preprocess(&raw, &cfg)
            .map_err(|e| KindError::Invalid(format!("stage '{}': {e}", ctx.stage)))?;
        prepared.write(ctx.output("prepared")?).map_err(|e| {
            KindError::Failed(format!("stage '{}': output 'prepared': {e}", ctx.stage))
        })?;
        if report.validation_from_raw {
            ctx.log("validation images taken from the raw split; parameter 'validation' not used")?;
        }
        ctx.log(&format!(
            "prepared {} train / {} validation / {} test images at {} x {} (crop {})",
            report.train, report.validation, report.test, cfg.size, cfg.size, report.crop
        ))?;
        let mut m = Metrics::new();
        for (key, v) in [
            ("train_images", report.train),
            ("train_pool_images", report.train_pool),
            ("validation_images", report.validation),
            ("test_images", report.test),
            ("crop", report.crop),
        ] {
            m.insert(key.into(), Value::from(v));
        }
        m.insert(
            "validation_from_raw".into(),
            Value::Bool(report.validation_from_raw),
        );
        m.insert("norm_mean".into(), json_number(Some(report.norm_mean)));
        m.insert("norm_std".into(), json_number(Some(report.norm_std)));
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::neuro::data::dataset::PreparedDataset;
    use crate::stages::fixtures::{params_from_definition, run_kind, synthetic_params};
    use crate::stages::synthetic::SyntheticV1;

    #[test]
    fn the_struct_and_stages_preprocess_yaml_agree() {
        crate::stages::params::drift::<PreprocessConfig>("preprocess", &[("seed", json!(7))]);
    }

    #[test]
    fn preprocess_stage_prepares_synthetic_data_with_truth() {
        let dir = tempfile::tempdir().unwrap();
        let gen_dir = dir.path().join("gen");
        std::fs::create_dir_all(&gen_dir).unwrap();
        let outputs = [("data", true), ("montage", false), ("neurons", false)];
        let (m, out) = run_kind(
            &SyntheticV1,
            synthetic_params(),
            BTreeMap::new(),
            &outputs,
            &gen_dir,
        );
        m.unwrap();
        let inputs = BTreeMap::from([("data".to_owned(), out["data"].clone())]);
        let (params, outputs) = params_from_definition(
            "preprocess.yaml",
            json!({"size": 16, "fraction": 0.5, "seed": 5}),
        );
        assert_eq!(outputs, vec!["prepared"]);
        let (m, out) = run_kind(
            &Preprocess,
            params,
            inputs,
            &[("prepared", true)],
            dir.path(),
        );
        let m = m.unwrap();
        assert_eq!(m["validation_from_raw"], json!(true));
        assert_eq!(m["train_images"], json!(10));
        let ds = PreparedDataset::read(&out["prepared"]).unwrap();
        assert_eq!(ds.train_images.shape, vec![10, 16, 16]);
        assert!(ds.truth.is_some() && ds.test_repeats.is_some());
        assert_eq!(ds.meta.source, "synthetic-v1");
    }
}
