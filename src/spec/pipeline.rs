//! Pipelines (`pipelines/<name>.yaml`) resolved into a checked [`Pipeline`]: every stage's
//! definition loaded, parameters type-checked with defaults filled in, inputs bound to upstream
//! outputs. Nothing runs before this succeeds, nor before the caller that builds the graph
//! (`graph::Dag`, as `ops::Session` does on opening) found it free of cycles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::definition::{Definition, OutputType};
use super::error::{SpecError, locate, suggest, with_suggestion};
use super::matrix::{self, Expanded};
use super::overrides;
use super::params::ParamType;
use super::profile;
use super::raw::{RawPipeline, RawStage};
use super::repeat;
use super::resources::{Executor, Resources};
use crate::kind::{KindRegistry, Params};

/// The pipeline's `device` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSetting {
    Cpu,
    Cuda,
    Auto,
}

/// Where an input comes from: an output of another stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Binding {
    pub stage: String,
    pub output: String,
}

impl std::fmt::Display for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.stage, self.output)
    }
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub definition: Arc<Definition>,
    /// Upstream stages, explicit and implied by bindings, sorted.
    pub needs: Vec<String>,
    pub params: Params,
    /// `path` parameters resolved against the project root (set ones only).
    pub paths: BTreeMap<String, PathBuf>,
    /// Input name -> bindings (one, or several for `many` inputs).
    pub inputs: BTreeMap<String, Vec<Binding>>,
    /// Output name -> project path it is copied to after completion.
    pub publish: BTreeMap<String, PathBuf>,
    /// What its Slurm job asks for (the pipeline's defaults with the stage's overrides).
    pub resources: Resources,
    /// The parameters `--set` gave it (checked values), for its record.
    pub overrides: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub root: PathBuf,
    pub seed: i64,
    pub device: DeviceSetting,
    pub deterministic: bool,
    pub device_slots: usize,
    pub executor: Executor,
    /// The profile applied (`--profile`), if any.
    pub profile: Option<String>,
    /// The `--set` overrides applied, as given (see `spec::overrides`).
    pub overrides: Vec<String>,
    /// Matrix stage -> the stages it expanded into (see `spec::matrix`).
    pub families: BTreeMap<String, Vec<String>>,
    /// In file order.
    pub stages: Vec<Stage>,
    /// Stage name -> its position in `stages`.
    index: BTreeMap<String, usize>,
}

impl Pipeline {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.index.get(name).map(|&i| &self.stages[i])
    }

    /// The stage named `name`, or an error suggesting the nearest stage name.
    pub fn require_stage(&self, name: &str) -> Result<&Stage, SpecError> {
        self.stage(name).ok_or_else(|| {
            let family = self.families.get(name).map_or(String::new(), |f| {
                format!(
                    "'{name}' is a matrix stage: name one of its {} instances, e.g. '{}'; ",
                    f.len(),
                    f.first().map_or("", String::as_str)
                )
            });
            let names = self.stages.iter().map(|s| s.name.as_str());
            SpecError::new(
                &self.file,
                format!("no stage named '{name}' ({family}{})", suggest(name, names)),
            )
        })
    }

    /// The stages `name` stands for: a matrix stage's instances, or the stage itself.
    pub fn require_stages(&self, name: &str) -> Result<Vec<String>, SpecError> {
        match self.families.get(name) {
            Some(instances) => Ok(instances.clone()),
            None => Ok(vec![self.require_stage(name)?.name.clone()]),
        }
    }

    /// Where the lock file of this pipeline lives: next to it, `.yaml` -> `.lock`, or
    /// `.PROFILE.lock` with a profile.
    pub fn lock_path(&self) -> PathBuf {
        match &self.profile {
            Some(p) => self.file.with_extension(format!("{p}.lock")),
            None => self.file.with_extension("lock"),
        }
    }
}

/// Reads, checks and resolves a pipeline file.
pub fn load(file: &Path, kinds: &KindRegistry) -> Result<Pipeline, SpecError> {
    load_profile(file, kinds, None)
}

/// Reads, checks and resolves a pipeline file with the overrides of `profile`.
pub fn load_profile(
    file: &Path,
    kinds: &KindRegistry,
    profile: Option<&str>,
) -> Result<Pipeline, SpecError> {
    load_with(file, kinds, profile, &[])
}

/// [`load_profile`] with command-line overrides, `--set STAGE.PARAM=VALUE` each.
pub fn load_with(
    file: &Path,
    kinds: &KindRegistry,
    profile: Option<&str>,
    sets: &[String],
) -> Result<Pipeline, SpecError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| SpecError::new(file, format!("cannot read the pipeline: {e}")))?;
    let raw: RawPipeline = super::raw::parse_yaml(file, &text)?;
    let root = super::project::root_of_pipeline(file)?;
    let r = Resolver {
        file,
        text: &text,
        root: &root,
        kinds,
        definitions: BTreeMap::new(),
        expanded: Expanded::default(),
    };
    r.resolve(raw, profile, sets)
}

pub(super) struct Resolver<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) root: &'a Path,
    pub(super) kinds: &'a KindRegistry,
    pub(super) definitions: BTreeMap<String, Arc<Definition>>,
    pub(super) expanded: Expanded,
}

impl Resolver<'_> {
    /// A located error; `path` may name an expanded stage, located at its matrix stage.
    pub(super) fn err(
        &self,
        path: &[&str],
        context: String,
        message: impl Into<String>,
    ) -> SpecError {
        let mut path = path.to_vec();
        if path.first() == Some(&"stages")
            && let Some(stage) = path.get_mut(1)
        {
            *stage = self.expanded.origin(stage);
        }
        SpecError::new(self.file, message)
            .context(context)
            .line(locate(self.text, &path))
    }

    fn resolve(
        mut self,
        mut raw: RawPipeline,
        profile: Option<&str>,
        sets: &[String],
    ) -> Result<Pipeline, SpecError> {
        let profiles = std::mem::take(&mut raw.profiles);
        self.expanded = matrix::expand(self.file, self.text, &raw.stages)?;
        let profile = match profile {
            Some(name) => {
                let names = self.expanded.names();
                let p = profile::choose(&profiles, name, &names).map_err(|e| {
                    self.err(&["profiles"], format!("profile '{name}'"), e.message())
                })?;
                if p.device.is_some() {
                    raw.device = p.device.clone();
                }
                Some((name, p))
            }
            None => None,
        };
        let device = match raw.device.as_deref().unwrap_or("auto") {
            "cpu" => DeviceSetting::Cpu,
            "cuda" => DeviceSetting::Cuda,
            "auto" => DeviceSetting::Auto,
            other => {
                return Err(self.err(
                    &["device"],
                    "field 'device'".into(),
                    format!("'{other}' is not a device (valid: cpu, cuda, auto)"),
                ));
            }
        };
        let seed = raw.seed.unwrap_or(0);
        let executor = Executor::parse(raw.executor.as_deref())
            .map_err(|m| self.err(&["executor"], "field 'executor'".into(), m))?;
        Resources::resolve(raw.resources.as_ref(), None)
            .map_err(|m| self.err(&["resources"], "field 'resources'".into(), m))?;
        if !valid_name(&raw.name) {
            // The name names the pipeline's folder of heads in the cache.
            return Err(self.err(
                &["name"],
                "field 'name'".into(),
                format!(
                    "'{}' is not a valid pipeline name (letters, digits, '_' or '-')",
                    raw.name
                ),
            ));
        }
        if let Some(why) = super::limits::name_too_long(&raw.name) {
            return Err(self.err(&["name"], "field 'name'".into(), why));
        }
        let mut stages = Vec::new();
        let mut raws = Vec::new();
        for (name, value) in &self.expanded.stages {
            let name = name.as_str();
            let stage: RawStage = serde_yaml::from_value(value.clone()).map_err(|e| {
                self.err(
                    &["stages", name],
                    format!("stage '{name}'"),
                    with_suggestion(&e.to_string()),
                )
            })?;
            raws.push((name.to_string(), stage));
        }
        if raws.is_empty() {
            return Err(self.err(
                &["stages"],
                "field 'stages'".into(),
                "the pipeline declares no stages",
            ));
        }
        let mut defs: BTreeMap<String, Arc<Definition>> = BTreeMap::new();
        for (name, rs) in &raws {
            let def = self.definition(name, &rs.uses)?;
            let family = self.expanded.family_of(name);
            if let Some(family) = family.filter(|f| self.expanded.repeated.contains(*f))
                && !def.params.contains_key(repeat::KEY)
            {
                let mut params: Vec<&str> = def.params.keys().map(String::as_str).collect();
                params.truncate(12);
                return Err(self.err(
                    &["stages", family, "repeat"],
                    format!("stage '{family}', field 'repeat'"),
                    format!(
                        "'{}' declares no parameter `seed`, so it cannot be repeated over seeds \
                         (repeat a stage that takes a seed, such as `uses: train`; '{}' \
                         declares: {})",
                        def.name,
                        def.name,
                        if params.is_empty() {
                            "nothing".into()
                        } else {
                            params.join(", ")
                        }
                    ),
                ));
            }
            defs.insert(name.clone(), def);
        }
        if let Some((profile_name, p)) = profile {
            for (name, rs) in &mut raws {
                let def = &defs[name.as_str()];
                let family = self.expanded.family_of(name);
                let scopes: Vec<&str> = family.into_iter().chain([name.as_str()]).collect();
                if let Some((scope, key)) = scopes.iter().find_map(|s| {
                    let own = p.with.get(*s)?;
                    Some((*s, own.keys().find(|k| !def.params.contains_key(*k))?))
                }) {
                    let hint = suggest(key, def.params.keys().map(String::as_str));
                    return Err(self.err(
                        &["profiles", profile_name, "with", scope, key],
                        format!("profile '{profile_name}', stage '{scope}'"),
                        format!("'{}' declares no parameter '{key}' ({hint})", def.name),
                    ));
                }
                let set = profile::overrides(p, &scopes, |k| def.params.contains_key(k));
                rs.with.extend(set);
            }
        }
        let by_stage = self.overrides(sets, &defs)?;
        for (name, rs) in &mut raws {
            if let Some(set) = by_stage.get(name.as_str()) {
                rs.with
                    .extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        for (name, rs) in &raws {
            let def = defs[name.as_str()].clone();
            let mut stage = self.stage(name, rs, def, seed)?;
            if let Some(set) = by_stage.get(name.as_str()) {
                stage.overrides = set
                    .keys()
                    .map(|k| (k.clone(), stage.params[k].clone()))
                    .collect();
            }
            stage.resources = Resources::resolve(raw.resources.as_ref(), rs.resources.as_ref())
                .map_err(|m| {
                    self.err(&["stages", name, "resources"], format!("stage '{name}'"), m)
                })?;
            stages.push(stage);
        }
        for (stage, (_, rs)) in stages.iter_mut().zip(&raws) {
            self.bind(stage, rs, &defs)?;
        }
        let pipeline = Pipeline {
            name: raw.name,
            description: raw.description,
            file: self.file.to_owned(),
            root: self.root.to_owned(),
            seed,
            device,
            deterministic: raw.deterministic.unwrap_or(true),
            device_slots: raw.device_slots.unwrap_or(1).max(1),
            executor,
            profile: profile.map(|(name, _)| name.to_owned()),
            overrides: sets.to_vec(),
            families: self.expanded.families.clone(),
            index: stages
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), i))
                .collect(),
            stages,
        };
        Ok(pipeline)
    }

    /// What the `--set` overrides set on each stage (see `spec::overrides`).
    fn overrides(
        &self,
        sets: &[String],
        defs: &BTreeMap<String, Arc<Definition>>,
    ) -> Result<overrides::Sets, SpecError> {
        let located = |arg: &str, e: overrides::OverrideError| {
            SpecError::new(self.file, e.to_string()).context(format!("--set '{arg}'"))
        };
        let parsed = sets
            .iter()
            .map(|a| overrides::parse(a).map_err(|e| located(a, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let resolve = |r: &str| self.expanded.resolve(r);
        overrides::apply(&parsed, resolve, &self.expanded.names(), defs)
            .map_err(|(o, e)| located(&o.arg, e))
    }

    fn definition(&mut self, stage: &str, uses: &str) -> Result<Arc<Definition>, SpecError> {
        if let Some(d) = self.definitions.get(uses) {
            return Ok(d.clone());
        }
        let dir = self.root.join("stages");
        if !valid_name(uses) {
            return Err(self.err(
                &["stages", stage, "uses"],
                format!("stage '{stage}', field 'uses'"),
                format!(
                    "'{uses}' is not a definition name: `uses:` names a built-in definition or \
                     a file of {} without its .yaml (letters, digits, '_' or '-')",
                    dir.display()
                ),
            ));
        }
        let path = dir.join(format!("{uses}.yaml"));
        let def = if path.is_file() {
            Definition::load(&path, self.root, self.kinds)?
        } else if let Some(def) = Definition::builtin(uses, self.root, self.kinds)? {
            def
        } else {
            let mut known = available_definitions(&dir);
            known.extend(super::builtin::names().map(String::from));
            known.sort();
            known.dedup();
            return Err(self.err(
                &["stages", stage, "uses"],
                format!("stage '{stage}', field 'uses'"),
                format!(
                    "no stage definition '{uses}': neither built in nor in {} ({}); \
                     `sapipe stages` lists them",
                    dir.display(),
                    suggest(uses, known.iter().map(String::as_str))
                ),
            ));
        };
        let def = Arc::new(def);
        self.definitions.insert(uses.to_string(), def.clone());
        Ok(def)
    }

    fn stage(
        &self,
        name: &str,
        rs: &RawStage,
        def: Arc<Definition>,
        seed: i64,
    ) -> Result<Stage, SpecError> {
        let mut params = Params::new();
        let mut paths = BTreeMap::new();
        for (key, value) in &rs.with {
            let ctx = format!("stage '{name}', parameter '{key}'");
            let Some(spec) = def.params.get(key) else {
                let hint = suggest(key, def.params.keys().map(String::as_str));
                return Err(self.err(
                    &["stages", name, key],
                    ctx,
                    format!("'{}' declares no parameter '{key}' ({hint})", def.name),
                ));
            };
            let v = spec
                .check_yaml(value)
                .map_err(|m| self.err(&["stages", name, key], ctx.clone(), m))?;
            params.insert(key.clone(), v);
        }
        for (key, spec) in &def.params {
            if params.contains_key(key) {
                continue;
            }
            let v = match (&spec.default, key.as_str()) {
                (Some(d), _) => d.clone(),
                (None, "seed") => spec.check(&Value::from(seed)).map_err(|m| {
                    self.err(
                        &["seed"],
                        format!("field 'seed' (inherited by stage '{name}')"),
                        m,
                    )
                })?,
                (None, _) => {
                    return Err(self.err(&["stages", name], format!("stage '{name}'"), format!(
                        "parameter '{key}' of '{}' has no default and must be given under 'with:'",
                        def.name
                    )));
                }
            };
            params.insert(key.clone(), v);
        }
        for (key, spec) in &def.params {
            if spec.ty != ParamType::Path {
                continue;
            }
            let rel = params[key].as_str().unwrap_or_default();
            if rel.is_empty() {
                continue;
            }
            let abs = self.root.join(rel);
            if !abs.exists() {
                return Err(self.err(
                    &["stages", name, key],
                    format!("stage '{name}', parameter '{key}'"),
                    format!(
                        "'{rel}' does not exist (paths are relative to the project root {})",
                        self.root.display()
                    ),
                ));
            }
            paths.insert(key.clone(), abs);
        }
        let mut publish = BTreeMap::new();
        for (output, target) in &rs.publish {
            if !def.outputs.contains_key(output) {
                let hint = suggest(output, def.outputs.keys().map(String::as_str));
                return Err(self.err(
                    &["stages", name, "publish"],
                    format!("stage '{name}', field 'publish'"),
                    format!("'{}' has no output '{output}' ({hint})", def.name),
                ));
            }
            if let Some(why) = super::publish::refuse_target(self.root, self.file, target) {
                return Err(self.err(
                    &["stages", name, "publish"],
                    format!("stage '{name}', field 'publish', output '{output}'"),
                    why,
                ));
            }
            publish.insert(output.clone(), self.root.join(target));
        }
        Ok(Stage {
            name: name.to_string(),
            definition: def,
            needs: rs.needs.clone(),
            params,
            paths,
            inputs: BTreeMap::new(),
            publish,
            resources: Resources::default(),
            overrides: BTreeMap::new(),
        })
    }
}

/// Names that become file names (stages, pipelines, definitions, outputs): letters, digits,
/// '_' and '-'.
pub(crate) fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Names of the definitions in `stages/`, for suggestions.
pub fn available_definitions(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(String::from))?
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Whether an output of the definition is a directory.
pub fn is_dir_output(def: &Definition, output: &str) -> bool {
    def.outputs
        .get(output)
        .is_some_and(|o| o.ty == OutputType::Dir)
}
