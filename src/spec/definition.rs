//! Stage definitions (`stages/<name>.yaml`) resolved into checked values: a kind that exists,
//! typed parameters, inputs and outputs.

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

#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub file: PathBuf,
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
    /// Reads and checks `file`; `root` is the project root (code files are relative to it).
    pub fn load(file: &Path, root: &Path, kinds: &KindRegistry) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| SpecError::new(file, format!("cannot read the stage definition: {e}")))?;
        let raw: RawDefinition = super::raw::parse_yaml(file, &text)?;
        let at = |keys: &[&str]| super::error::locate(&text, keys);
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
            for (section, name) in crate::exec::command::placeholders(command) {
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
