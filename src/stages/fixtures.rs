//! Test fixtures shared by the stage adapters' tests: running a kind on a temporary
//! directory, the parameters of a small simulated dataset, and a definition's parameters with
//! its defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::kind::{DeviceClass, KindError, Metrics, Params, StageContext, StageKind};

/// Runs `kind` with `params`, inputs and outputs (name -> (path, is_dir)) in `dir`.
pub fn run_kind(
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

/// Calls `f` with a context of stage `stage` that holds `params` and no inputs or outputs
/// (for reading a kind's parameters).
pub fn with_params<T>(stage: &str, params: &Params, f: impl FnOnce(&StageContext) -> T) -> T {
    let none = BTreeMap::new();
    let ctx = StageContext {
        stage,
        params,
        inputs: &none,
        outputs: &none,
        workdir: ".".into(),
        log_path: "log".into(),
        device: DeviceClass::Cpu,
        deterministic: true,
        progress: &|_, _, _| {},
        numerics: &|_| {},
    };
    f(&ctx)
}

pub fn synthetic_params() -> Value {
    json!({
        "neurons": 3, "train_images": 20, "validation_images": 4, "test_images": 6, "repeats": 2,
        "image_size": 32, "complex_fraction": 0.5, "no_surround_fraction": 0.2, "photos": "", "seed": 5
    })
}

/// The parameters a stage definition declares, with its defaults, overridden by `with`.
pub fn params_from_definition(file: &str, with: Value) -> (Value, Vec<String>) {
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
