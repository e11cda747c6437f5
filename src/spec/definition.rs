//! Stage definitions (a project's `stages/<name>.yaml`, or a built-in one embedded in the
//! binary) resolved into checked values: a kind that exists, typed parameters, inputs and
//! outputs, and where the definition came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{SpecError, suggest};
use super::params::ParamSpec;
use super::raw::RawDefinition;
use crate::kind::KindRegistry;

/// How a stage is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Implementation {
    /// A built-in kind, with its implementation version and whether it uses a compute device.
    Builtin { version: u32, uses_device: bool },
    /// A shell command with the project files whose content enters the key.
    Command { command: String, code: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub optional: bool,
    pub many: bool,
    pub doc: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputType {
    File,
    Dir,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    pub ty: OutputType,
    pub doc: String,
}

/// Where a definition came from. Not part of the key: the key holds what the definition
/// says, so a project file identical to the built-in gives the same keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum DefinitionSource {
    /// Embedded in this sapipe (from its repository's `stages/`).
    Builtin,
    /// The project's own file. `same_as_builtin`: `None` when no built-in has its name,
    /// else whether its text is identical to the built-in's (if not, it overrides it).
    Project {
        file: PathBuf,
        same_as_builtin: Option<bool>,
    },
}

impl DefinitionSource {
    /// The group `status` lists it under.
    pub fn group(&self) -> &'static str {
        match self {
            Self::Builtin => "built-in",
            Self::Project {
                same_as_builtin: None,
                ..
            } => "project stages/",
            Self::Project {
                same_as_builtin: Some(true),
                ..
            } => "project stages/, same as the built-in",
            Self::Project {
                same_as_builtin: Some(false),
                ..
            } => "project stages/, OVERRIDING the built-in",
        }
    }

    /// Whether this is a project file that differs from a built-in of the same name.
    pub fn overrides_builtin(&self) -> bool {
        matches!(
            self,
            Self::Project {
                same_as_builtin: Some(false),
                ..
            }
        )
    }
}

impl std::fmt::Display for DefinitionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Builtin => write!(f, "built-in"),
            Self::Project {
                file,
                same_as_builtin,
            } => {
                write!(f, "{}", file.display())?;
                match same_as_builtin {
                    None => Ok(()),
                    Some(true) => write!(f, " (same as the built-in)"),
                    Some(false) => write!(f, " (overrides the built-in)"),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub file: PathBuf,
    pub source: DefinitionSource,
    pub kind: String,
    pub description: String,
    pub implementation: Implementation,
    pub params: BTreeMap<String, ParamSpec>,
    pub inputs: BTreeMap<String, InputSpec>,
    pub outputs: BTreeMap<String, OutputSpec>,
}

/// The name a pipeline uses for the command kind.
pub const COMMAND_KIND: &str = "command";

impl Definition {
    /// Reads and checks the project file `file`; `root` is the project root (code files are
    /// relative to it).
    pub fn load(file: &Path, root: &Path, kinds: &KindRegistry) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| SpecError::new(file, format!("cannot read the stage definition: {e}")))?;
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let source = DefinitionSource::Project {
            file: file.strip_prefix(root).unwrap_or(file).to_owned(),
            same_as_builtin: super::builtin::text(stem).map(|b| b == text),
        };
        Self::parse(&text, file, source, root, kinds)
    }

    /// The built-in definition `name`, checked, or `None` if there is none of that name.
    pub fn builtin(
        name: &str,
        root: &Path,
        kinds: &KindRegistry,
    ) -> Result<Option<Self>, SpecError> {
        let Some(text) = super::builtin::text(name) else {
            return Ok(None);
        };
        let file = Path::new("(built-in)").join(format!("{name}.yaml"));
        Self::parse(text, &file, DefinitionSource::Builtin, root, kinds).map(Some)
    }

    /// Checks the definition `text`, named `file` in errors.
    fn parse(
        text: &str,
        file: &Path,
        source: DefinitionSource,
        root: &Path,
        kinds: &KindRegistry,
    ) -> Result<Self, SpecError> {
        let raw: RawDefinition = super::raw::parse_yaml(file, text)?;
        let at = |keys: &[&str]| super::error::locate(text, keys);
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if raw.name != stem {
            return Err(SpecError::new(
                file,
                format!(
                    "the definition is named '{}' but its file is '{stem}.yaml'; they must agree",
                    raw.name
                ),
            )
            .line(at(&["name"])));
        }
        let implementation = implementation(&raw, file, root, kinds, &at)?;
        let mut params = BTreeMap::new();
        for (name, p) in &raw.params {
            let spec = ParamSpec::from_raw(p).map_err(|m| {
                SpecError::new(file, m)
                    .context(format!("parameter '{name}'"))
                    .line(at(&["params", name]))
            })?;
            params.insert(name.clone(), spec);
        }
        let inputs = raw
            .inputs
            .iter()
            .map(|(n, i)| {
                (
                    n.clone(),
                    InputSpec {
                        optional: i.optional,
                        many: i.many,
                        doc: i.doc.clone(),
                    },
                )
            })
            .collect();
        let mut outputs = BTreeMap::new();
        for (name, o) in &raw.outputs {
            if !super::pipeline::valid_name(name) {
                return Err(SpecError::new(
                    file,
                    format!("'{name}' is not a valid output name (letters, digits, '_' or '-')"),
                )
                .context("field 'outputs'")
                .line(at(&["outputs", name])));
            }
            if let Some(why) = super::limits::name_too_long(name) {
                return Err(
                    SpecError::new(file, format!("output '{}…': {why}", &name[..20]))
                        .context("field 'outputs'")
                        .line(at(&["outputs", name])),
                );
            }
            let ty = match o.ty.as_str() {
                "file" => OutputType::File,
                "dir" => OutputType::Dir,
                other => {
                    return Err(SpecError::new(
                        file,
                        format!("unknown output type '{other}' (valid: file, dir)"),
                    )
                    .context(format!("output '{name}'"))
                    .line(at(&["outputs", name])));
                }
            };
            outputs.insert(
                name.clone(),
                OutputSpec {
                    ty,
                    doc: o.doc.clone(),
                },
            );
        }
        if outputs.is_empty() {
            return Err(SpecError::new(
                file,
                "a stage definition must declare at least one output",
            ));
        }
        if let Implementation::Command { command, .. } = &implementation {
            for (section, name) in super::command::placeholders(command) {
                let declared: Vec<&str> = match section.as_str() {
                    "params" => raw.params.keys().map(String::as_str).collect(),
                    "inputs" => raw.inputs.keys().map(String::as_str).collect(),
                    _ => outputs.keys().map(String::as_str).collect(),
                };
                if !declared.contains(&name.as_str()) {
                    return Err(SpecError::new(
                        file,
                        format!("the command uses {{{section}.{name}}}, but no such {} is declared ({})", &section[..section.len() - 1], suggest(&name, declared)),
                    )
                    .context("field 'command'")
                    .line(at(&["command"])));
                }
            }
        }
        Ok(Definition {
            name: raw.name,
            file: file.to_owned(),
            source,
            kind: raw.kind,
            description: raw.description,
            implementation,
            params,
            inputs,
            outputs,
        })
    }
}

fn implementation(
    raw: &RawDefinition,
    file: &Path,
    root: &Path,
    kinds: &KindRegistry,
    at: &dyn Fn(&[&str]) -> Option<usize>,
) -> Result<Implementation, SpecError> {
    if raw.kind == COMMAND_KIND {
        let command = raw.command.clone().ok_or_else(|| {
            SpecError::new(
                file,
                "a definition of kind 'command' needs a 'command' field",
            )
            .line(at(&["kind"]))
        })?;
        for code in &raw.code {
            if !root.join(code).is_file() {
                return Err(SpecError::new(
                    file,
                    format!("code file '{code}' does not exist (paths are relative to the project root {})", root.display()),
                )
                .context("field 'code'")
                .line(at(&["code"])));
            }
        }
        return Ok(Implementation::Command {
            command,
            code: raw.code.clone(),
        });
    }
    let Some(kind) = kinds.get(&raw.kind) else {
        let names: Vec<&str> = kinds.names().chain([COMMAND_KIND]).collect();
        return Err(SpecError::new(
            file,
            format!(
                "unknown stage kind '{}' ({})",
                raw.kind,
                suggest(&raw.kind, names)
            ),
        )
        .context("field 'kind'")
        .line(at(&["kind"])));
    };
    if raw.command.is_some() || !raw.code.is_empty() {
        return Err(SpecError::new(
            file,
            format!(
                "'command' and 'code' belong to kind 'command' only, not to '{}'",
                raw.kind
            ),
        ));
    }
    Ok(Implementation::Builtin {
        version: kind.version(),
        uses_device: kind.uses_device(),
    })
}
