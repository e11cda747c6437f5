//! The `import` stage kind: reads the user's recordings (NumPy, MATLAB, HDF5) ([`crate::neuro::data::import`]) and
//! writes them as a raw dataset directory (`data`), or fails naming the file, the array and
//! what was wrong, writing nothing. Its metrics add the import report (what was read from
//! where, what was skipped, the split's source, per-neuron response statistics) to the
//! dataset's summary; its log says the same at length. Its parameters are read once into
//! [`ImportParams`] (the test below keeps the struct and `stages/import.yaml` in step).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::data::import::{ImportConfig, import_named};
use crate::neuro::data::summary::dataset_metrics;

pub struct Import;

/// An `import` stage's parameters, as declared in `stages/import.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// The recordings: a folder of `.npy` files, an `.npz`, `.mat` or `.h5` file.
    pub source: PathBuf,
    /// Share of images held out for testing when the source gives no split.
    pub test_fraction: f64,
    /// Seed of that test split.
    pub seed: u64,
    /// Files or arrays of `source` to skip, with or without extension.
    #[serde(deserialize_with = "ignore_list")]
    pub ignore: Vec<String>,
    /// The importer's array names to the source's own.
    #[serde(deserialize_with = "names_map")]
    pub names: BTreeMap<String, String>,
}

impl ImportParams {
    /// How to import.
    pub fn config(&self) -> ImportConfig {
        ImportConfig {
            test_fraction: self.test_fraction,
            seed: self.seed,
        }
    }
}

/// The `ignore` parameter: a list of file or array names.
fn ignore_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    explained(
        d,
        "must be a list of file or array names (e.g. [notes.txt, extra])",
    )
}

/// The `names` parameter: the importer's array names to the source's own.
fn names_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    explained(
        d,
        "must map array names to the source's names (e.g. {images: stim, responses: resp})",
    )
}

/// A value read as `T`, or an error that says what it must be (`must`) and what was found:
/// serde's own would speak of one item's type, not of what the parameter holds.
fn explained<'de, T: DeserializeOwned, D: Deserializer<'de>>(
    d: D,
    must: &str,
) -> Result<T, D::Error> {
    let value = Value::deserialize(d)?;
    T::deserialize(&value).map_err(|_| D::Error::custom(format!("{must}, found {value}")))
}

impl StageKind for Import {
    fn name(&self) -> &'static str {
        "import"
    }

    /// 2: the noise ceiling is the evaluate stage's estimator (see `synthetic`).
    /// 3: unknown files are errors unless listed in `ignore`; split labels (`split`,
    /// `is_test`); the import report in the metrics (`array_*`, `skipped`, `split_source`,
    /// `neuron_*_responses`). (MATLAB and HDF5 sources, and `names`, left what `.npy` and
    /// `.npz` sources give unchanged.)
    fn version(&self) -> u32 {
        3
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let params: ImportParams = super::params::read_stage(ctx)?;
        let imported = import_named(
            &params.source,
            &params.config(),
            &params.ignore,
            &params.names,
        )
        .map_err(|e| {
            KindError::Invalid(format!("stage '{}': parameter 'source': {e}", ctx.stage))
        })?;
        let raw = &imported.raw;
        raw.write(ctx.output("data")?)
            .map_err(|e| KindError::Failed(format!("stage '{}': output 'data': {e}", ctx.stage)))?;
        for line in imported.report.log_lines(raw) {
            ctx.log(&line)?;
        }
        let mut metrics = dataset_metrics(raw);
        metrics.extend(imported.report.metrics());
        Ok(metrics)
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
    fn the_struct_and_stages_import_yaml_agree() {
        crate::stages::params::drift::<ImportParams>(
            "import",
            &[("source", json!("recordings")), ("seed", json!(7))],
        );
    }

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
        let m = m.unwrap();
        assert_eq!(m["test_images"], json!(1));
        assert_eq!(
            m["array_images"],
            json!("images.npy: shape [6, 8, 8], dtype |u1")
        );
        assert_eq!(
            m["split_source"],
            json!("random test_fraction 0.2 with seed 1")
        );
        assert_eq!(
            m["neuron_1_responses"],
            json!({"mean": 0.5, "sd": 0.0, "min": 0.5, "max": 0.5, "nan": 0, "missing": 0})
        );
        assert!(out["data"].join("images.npy").exists());
        let log = std::fs::read_to_string(dir.path().join("log.txt")).unwrap();
        assert!(
            log.contains("read responses.npy: shape [6, 2], dtype <f4"),
            "{log}"
        );
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

    #[test]
    fn ignore_is_a_list_of_names_and_what_it_skips_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("rec");
        std::fs::create_dir_all(&src).unwrap();
        npy(&src, "images", &[4, 2, 2], &[1u8; 16]);
        npy(&src, "responses", &[4, 1], &[0.5f32; 4]);
        std::fs::write(src.join("notes.txt"), "x").unwrap();
        let with = |ignore: serde_json::Value| json!({"source": src.display().to_string(), "seed": 1, "ignore": ignore});
        let (params, _) = params_from_definition("import.yaml", with(json!(["notes"])));
        let run = |params, sub: &str| {
            let out = dir.path().join(sub);
            std::fs::create_dir_all(&out).unwrap();
            run_kind(&Import, params, BTreeMap::new(), &[("data", true)], &out).0
        };
        assert_eq!(
            run(params, "a").unwrap()["skipped"],
            json!("notes.txt (ignore)")
        );
        let (params, _) = params_from_definition("import.yaml", with(json!([1])));
        let e = run(params, "b").unwrap_err().to_string();
        assert_eq!(
            e,
            "stage 's': parameter 'ignore': must be a list of file or array names (e.g. \
             [notes.txt, extra]), found [1]"
        );
        let (mut params, _) = params_from_definition("import.yaml", with(json!([])));
        params["names"] = json!({"images": 3});
        let e = run(params, "c").unwrap_err().to_string();
        assert_eq!(
            e,
            "stage 's': parameter 'names': must map array names to the source's names (e.g. \
             {images: stim, responses: resp}), found {\"images\":3}"
        );
    }
}
