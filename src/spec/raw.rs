//! Raw YAML structs, exactly as users write them. Parsed strictly (unknown fields are errors
//! with a line and column); nothing here is validated beyond its YAML shape. `resolve` turns
//! them into a checked [`crate::spec::Pipeline`].

use std::collections::BTreeMap;

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml::Value;

use super::SpecError;

use super::resources::RawResources;

/// A stage definition: `stages/<name>.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefinition {
    pub name: String,
    /// A built-in kind, or `command`.
    pub kind: String,
    #[serde(default)]
    pub description: String,
    /// For `kind: command`: the shell command. Placeholders `{params.NAME}`, `{inputs.NAME}`,
    /// `{outputs.NAME}` are replaced; the same values are in `SAPIPE_PARAM_*`,
    /// `SAPIPE_INPUT_*`, `SAPIPE_OUTPUT_*`.
    #[serde(default)]
    pub command: Option<String>,
    /// For `kind: command`: code files (relative to the project root) whose content enters the
    /// key, e.g. the Python script the command runs.
    #[serde(default)]
    pub code: Vec<String>,
    #[serde(default)]
    pub params: BTreeMap<String, RawParam>,
    #[serde(default)]
    pub inputs: BTreeMap<String, RawInput>,
    #[serde(default)]
    pub outputs: BTreeMap<String, RawOutput>,
}

/// A typed parameter declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub choices: Option<Vec<Value>>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub doc: String,
    /// `false` for a parameter that changes how a result is computed, not what it is (a
    /// memory budget): it stays out of the stage key.
    #[serde(default = "yes")]
    pub key: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub many: bool,
    #[serde(default)]
    pub doc: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    #[serde(rename = "type", default = "default_output_type")]
    pub ty: String,
    #[serde(default)]
    pub doc: String,
}

fn default_output_type() -> String {
    "file".into()
}

/// A pipeline file: `pipelines/<name>.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub seed: Option<i64>,
    /// cpu | cuda | auto
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub deterministic: Option<bool>,
    /// How many device-using stages may run at once on one device (default 1).
    #[serde(default)]
    pub device_slots: Option<usize>,
    /// local | slurm (see `spec::resources`).
    #[serde(default)]
    pub executor: Option<String>,
    /// Default Slurm resources of every stage's job.
    #[serde(default)]
    pub resources: Option<RawResources>,
    /// Named override sets, chosen with `--profile` (see `spec::profile`).
    #[serde(default)]
    pub profiles: BTreeMap<String, super::profile::RawProfile>,
    /// Keeps the order of the file (for `dag` and display).
    pub stages: serde_yaml::Mapping,
}

/// One stage instance in a pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub uses: String,
    #[serde(default)]
    pub needs: Vec<String>,
    /// Parameter overrides.
    #[serde(default, rename = "with")]
    pub with: BTreeMap<String, Value>,
    /// Explicit input bindings: input name -> `stage.output` (or a list for `many` inputs).
    #[serde(default)]
    pub inputs: BTreeMap<String, Value>,
    /// Copies outputs into the project after the stage completes: output name -> path.
    #[serde(default)]
    pub publish: BTreeMap<String, String>,
    /// Slurm resources of this stage's job, over the pipeline's defaults.
    #[serde(default)]
    pub resources: Option<RawResources>,
    /// Key -> values: one stage per combination (consumed by `spec::matrix` first).
    #[serde(default)]
    pub matrix: Option<Value>,
    /// `{ seeds: [...] }`: one stage per seed (consumed by `spec::matrix`, see `spec::repeat`).
    #[serde(default)]
    pub repeat: Option<Value>,
    /// The names of a matrix stage's instances, e.g. "train_${model}" (see `spec::matrix`).
    #[serde(default)]
    pub name: Option<String>,
}

/// Parses a pipeline or definition file's text: a leading UTF-8 byte-order mark is ignored (some
/// editors write one), and a key given twice in one mapping is an error with its line (typed
/// maps would silently keep the last one).
pub fn parse_yaml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, SpecError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some((line, why)) = super::limits::too_deep(text) {
        return Err(SpecError::new(file, why).line(Some(line)));
    }
    serde_yaml::from_str::<Value>(text).map_err(|e| SpecError::yaml(file, &e))?;
    serde_yaml::from_str(text).map_err(|e| SpecError::yaml(file, &e))
}
