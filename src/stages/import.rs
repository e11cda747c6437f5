//! The `import` stage kind: reads the user's NumPy recordings ([`crate::neuro::data::import`]) and
//! writes them as a raw dataset directory (`data`), or fails naming the file, the array and
//! what was wrong, writing nothing.

use std::path::Path;

use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::data::import::{ImportConfig, import};
use crate::neuro::data::summary::dataset_metrics;

pub struct Import;

impl StageKind for Import {
    fn name(&self) -> &'static str {
        "import"
    }

    /// 2: the noise ceiling is the evaluate stage's estimator (see `synthetic`).
    fn version(&self) -> u32 {
        2
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let source = Path::new(ctx.param_str("source")?);
        let cfg = ImportConfig {
            test_fraction: ctx.param_f64("test_fraction")?,
            seed: ctx.param_u64("seed")?,
        };
        let raw = import(source, &cfg).map_err(|e| {
            KindError::Invalid(format!("stage '{}': parameter 'source': {e}", ctx.stage))
        })?;
        raw.write(ctx.output("data")?)
            .map_err(|e| KindError::Failed(format!("stage '{}': output 'data': {e}", ctx.stage)))?;
        ctx.log(&format!(
            "imported {} images ({} x {}) x {} neurons from {}",
            raw.meta.images,
            raw.meta.height,
            raw.meta.width,
            raw.meta.neurons,
            source.display()
        ))?;
        Ok(dataset_metrics(&raw))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::neuro::data::fixtures::npy;
    use crate::stages::fixtures::{params_from_definition, run_kind};

    #[test]
    fn import_stage_writes_a_raw_dataset_or_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("rec");
        std::fs::create_dir_all(&src).unwrap();
        npy(&src, "images", &[6, 8, 8], &[7u8; 6 * 64]);
        npy(&src, "responses", &[6, 2], &[0.5f32; 12]);
        let with = json!({"source": src.display().to_string(), "test_fraction": 0.2, "seed": 1});
        let (params, outputs) = params_from_definition("import.yaml", with);
        assert_eq!(outputs, vec!["data"]);
        let (m, out) = run_kind(
            &Import,
            params.clone(),
            BTreeMap::new(),
            &[("data", true)],
            dir.path(),
        );
        assert_eq!(m.unwrap()["test_images"], json!(1));
        assert!(out["data"].join("images.npy").exists());
        npy(&src, "responses", &[5, 2], &[0.5f32; 10]);
        let (m, out) = run_kind(
            &Import,
            params,
            BTreeMap::new(),
            &[("data2", true)],
            dir.path(),
        );
        let e = m.unwrap_err().to_string();
        assert!(
            e.starts_with("stage 's': parameter 'source': ")
                && e.contains("responses.npy: expected shape"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_dir(&out["data2"]).unwrap().count(),
            0,
            "nothing written on failure"
        );
    }
}
