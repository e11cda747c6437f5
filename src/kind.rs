//! What a stage kind is, seen from the engine: a named, versioned computation that turns
//! resolved parameters and input paths into files at output paths, and reports metrics.
//!
//! The engine knows nothing about what a kind computes; a kind knows nothing about the cache's
//! layout (it sees plain paths to read and plain paths to create). Built-in kinds live in
//! `crate::stages` and are looked up by name through [`KindRegistry`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

/// Resolved parameters of one stage: every declared parameter, defaults filled in.
pub type Params = BTreeMap<String, Value>;

/// Metrics a stage reports (stored in its record, shown by `sapipe show`).
pub type Metrics = serde_json::Map<String, Value>;

/// Whether a metric measures time or speed (named `*_seconds` or `*_per_s`): such metrics are
/// expected to vary between executions, so audits and lock files leave them out.
pub fn is_timing_metric(name: &str) -> bool {
    name.ends_with("_seconds") || name.ends_with("_per_s")
}

/// The compute device a stage runs on, resolved from the pipeline's `device` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceClass {
    Cpu,
    Cuda,
}

impl std::fmt::Display for DeviceClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceClass::Cpu => "cpu",
            DeviceClass::Cuda => "cuda",
        })
    }
}

/// Everything a kind needs to execute one stage.
pub struct StageContext<'a> {
    /// The stage's instance name in the pipeline (for messages).
    pub stage: &'a str,
    pub params: &'a Params,
    /// Declared input name -> path of the artifact (a file or a directory). Optional inputs
    /// that are not bound are absent. An input declared `many: true` appears once per bound
    /// upstream stage, under the key `"<input>/<upstream stage>"` (see [`StageContext::inputs_many`]).
    pub inputs: &'a BTreeMap<String, PathBuf>,
    /// Declared output name -> path the kind must create (a file, or a directory if the
    /// definition declares the output as a directory; the directory already exists).
    pub outputs: &'a BTreeMap<String, PathBuf>,
    /// The stage's working directory (scratch space, removed afterwards).
    pub workdir: PathBuf,
    /// Where the stage's log goes; a kind writes its own progress lines here.
    pub log_path: PathBuf,
    pub device: DeviceClass,
    pub deterministic: bool,
    /// Reports progress to the display: (done, total, message).
    pub progress: &'a (dyn Fn(u64, u64, &str) + Sync),
    /// Reports how the kind computed its numbers, for the stage's record (kinds whose results
    /// do not depend on the machine report nothing).
    pub numerics: &'a (dyn Fn(crate::reproducibility::Numerics) + Sync),
}

impl StageContext<'_> {
    /// A required input's path.
    pub fn input(&self, name: &str) -> Result<&PathBuf, KindError> {
        self.inputs.get(name).ok_or_else(|| {
            KindError::Invalid(format!(
                "stage '{}': input '{name}' is not bound",
                self.stage
            ))
        })
    }

    /// All artifacts bound to a `many: true` input, as (upstream stage name, path), in the
    /// order of the stage names.
    pub fn inputs_many(&self, name: &str) -> Vec<(&str, &PathBuf)> {
        let prefix = format!("{name}/");
        self.inputs
            .iter()
            .filter_map(|(k, p)| k.strip_prefix(&prefix).map(|stage| (stage, p)))
            .collect()
    }

    /// A declared output's path.
    pub fn output(&self, name: &str) -> Result<&PathBuf, KindError> {
        self.outputs.get(name).ok_or_else(|| {
            KindError::Invalid(format!(
                "stage '{}': the definition declares no output '{name}'",
                self.stage
            ))
        })
    }

    /// One parameter's value as the pipeline resolved it. The built-in stage kinds read theirs
    /// once, typed ([`crate::stages::params::read_stage`]).
    pub fn param(&self, name: &str) -> Result<&Value, KindError> {
        self.params.get(name).ok_or_else(|| {
            KindError::Invalid(format!(
                "stage '{}': parameter '{name}' is missing",
                self.stage
            ))
        })
    }

    pub fn param_u64(&self, name: &str) -> Result<u64, KindError> {
        self.param(name)?
            .as_u64()
            .ok_or_else(|| self.type_error(name, "a non-negative integer"))
    }

    /// Appends `line` to the stage's log (and traces it).
    pub fn log(&self, line: &str) -> Result<(), KindError> {
        use std::io::Write as _;
        tracing::info!(stage = self.stage, "{line}");
        let context = || format!("stage '{}': log {}", self.stage, self.log_path.display());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(KindError::io(context()))?;
        writeln!(file, "{line}").map_err(KindError::io(context()))
    }

    fn type_error(&self, name: &str, expected: &str) -> KindError {
        KindError::Invalid(format!(
            "stage '{}': parameter '{name}' must be {expected}, found {}",
            self.stage,
            self.params
                .get(name)
                .map(|v| v.to_string())
                .unwrap_or_default()
        ))
    }
}

/// Why a kind failed. The message is shown to the user as is, so it names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum KindError {
    /// The user's parameters or data are wrong.
    #[error("{0}")]
    Invalid(String),
    /// The computation itself failed (non-zero exit, NaN loss, ...).
    #[error("{0}")]
    Failed(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        // Shown in the message, so not also a `#[source]` (anyhow would print it twice).
        source: std::io::Error,
    },
}

impl KindError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> KindError {
        let context = context.into();
        move |source| KindError::Io { context, source }
    }
}

/// A built-in computation a stage definition can name as its `kind`.
pub trait StageKind: Send + Sync {
    /// The name used in `kind:` of a stage definition.
    fn name(&self) -> &'static str;
    /// Implementation version: bump it whenever the kind's outputs would change for the same
    /// inputs and parameters, so every stage of this kind reruns.
    fn version(&self) -> u32;
    /// Whether the stage's numbers depend on the compute context (libtorch version, device
    /// class, determinism), which then enters its key; such stages take a device slot.
    fn uses_device(&self) -> bool {
        false
    }
    /// Extra input bindings derived from parameters, as (input name, stage, output) — e.g. a
    /// `train` stage's `init.from`. Errors name the parameter.
    fn derived_inputs(&self, _params: &Params) -> Result<Vec<(String, String, String)>, String> {
        Ok(Vec::new())
    }
    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError>;
}

/// The built-in kinds, by name.
#[derive(Default)]
pub struct KindRegistry {
    kinds: BTreeMap<&'static str, Box<dyn StageKind>>,
}

impl KindRegistry {
    pub fn register(&mut self, kind: Box<dyn StageKind>) {
        self.kinds.insert(kind.name(), kind);
    }

    pub fn get(&self, name: &str) -> Option<&dyn StageKind> {
        self.kinds.get(name).map(|k| k.as_ref())
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }
}
