//! Why a stage must run: the typed difference between the key record last completed for a
//! stage and the one computed now, compared field by field in a fixed order (as cargo's
//! fingerprints do). Each reason carries the old and new values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::record::{ImplementationKey, InputKey, KeyRecord};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DirtyReason {
    /// Nothing was ever recorded for this stage.
    NoRecord,
    /// `--force` was given.
    Forced,
    /// The key has a record, but an output it names is missing or damaged in the store.
    Damaged {
        detail: String,
    },
    /// An upstream stage will run first; this stage's inputs may change.
    UpstreamPending {
        stages: Vec<String>,
    },
    Schema {
        old: u32,
        new: u32,
    },
    Definition {
        old: String,
        new: String,
    },
    KindVersion {
        kind: String,
        old: u32,
        new: u32,
    },
    ImplementationChanged {
        old: String,
        new: String,
    },
    Command {
        old: String,
        new: String,
    },
    CodeFile {
        path: String,
        change: String,
    },
    Param {
        name: String,
        old: Option<Value>,
        new: Option<Value>,
    },
    Input {
        name: String,
        change: String,
    },
    Outputs {
        old: Vec<String>,
        new: Vec<String>,
    },
    Context {
        field: String,
        old: String,
        new: String,
    },
}

impl fmt::Display for DirtyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRecord => write!(f, "no record"),
            Self::Forced => write!(f, "forced"),
            Self::Damaged { detail } => write!(f, "its stored output is damaged: {detail}"),
            Self::UpstreamPending { stages } => {
                write!(f, "upstream {} will run first", stages.join(", "))
            }
            Self::Schema { old, new } => write!(f, "key schema {old} -> {new}"),
            Self::Definition { old, new } => write!(f, "definition {old} -> {new}"),
            Self::KindVersion { kind, old, new } => {
                write!(f, "kind {kind} implementation v{old} -> v{new}")
            }
            Self::ImplementationChanged { old, new } => write!(f, "implementation {old} -> {new}"),
            Self::Command { old, new } => write!(f, "command `{old}` -> `{new}`"),
            Self::CodeFile { path, change } => write!(f, "code file {path} {change}"),
            Self::Param { name, old, new } => {
                write!(f, "parameter `{name}` {} -> {}", show(old), show(new))
            }
            Self::Input { name, change } => write!(f, "input `{name}` {change}"),
            Self::Outputs { old, new } => {
                write!(f, "outputs [{}] -> [{}]", old.join(", "), new.join(", "))
            }
            Self::Context { field, old, new } => write!(f, "{field} {old} -> {new}"),
        }
    }
}

fn show(v: &Option<Value>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "(absent)".into())
}

/// The reasons `new` differs from `old`, in a fixed order; empty when they are equal.
pub fn diff(old: &KeyRecord, new: &KeyRecord) -> Vec<DirtyReason> {
    let mut out = Vec::new();
    if old.schema != new.schema {
        out.push(DirtyReason::Schema {
            old: old.schema,
            new: new.schema,
        });
    }
    if old.definition != new.definition || old.kind != new.kind {
        out.push(DirtyReason::Definition {
            old: format!("{} ({})", old.definition, old.kind),
            new: format!("{} ({})", new.definition, new.kind),
        });
    }
    implementation(
        &old.implementation,
        &new.implementation,
        &new.kind,
        &mut out,
    );
    for name in union(&old.params, &new.params) {
        let (o, n) = (old.params.get(name), new.params.get(name));
        if o != n {
            out.push(DirtyReason::Param {
                name: name.clone(),
                old: o.cloned(),
                new: n.cloned(),
            });
        }
    }
    for name in union(&old.inputs, &new.inputs) {
        if let Some(change) = input_change(old.inputs.get(name), new.inputs.get(name)) {
            out.push(DirtyReason::Input {
                name: name.clone(),
                change,
            });
        }
    }
    if old.outputs != new.outputs {
        let names = |m: &BTreeMap<String, crate::spec::OutputType>| m.keys().cloned().collect();
        out.push(DirtyReason::Outputs {
            old: names(&old.outputs),
            new: names(&new.outputs),
        });
    }
    context(old, new, &mut out);
    out
}

fn implementation(
    old: &ImplementationKey,
    new: &ImplementationKey,
    kind: &str,
    out: &mut Vec<DirtyReason>,
) {
    match (old, new) {
        (ImplementationKey::Builtin { version: o }, ImplementationKey::Builtin { version: n })
            if o != n =>
        {
            out.push(DirtyReason::KindVersion {
                kind: kind.to_string(),
                old: *o,
                new: *n,
            });
        }
        (
            ImplementationKey::Command {
                command: oc,
                code: ocode,
            },
            ImplementationKey::Command {
                command: nc,
                code: ncode,
            },
        ) => {
            if oc != nc {
                out.push(DirtyReason::Command {
                    old: oc.clone(),
                    new: nc.clone(),
                });
            }
            for path in union(ocode, ncode) {
                let change = match (ocode.get(path), ncode.get(path)) {
                    (Some(o), Some(n)) if o != n => {
                        format!("content changed ({} -> {})", o.short(), n.short())
                    }
                    (None, Some(_)) => "added".into(),
                    (Some(_), None) => "removed".into(),
                    _ => continue,
                };
                out.push(DirtyReason::CodeFile {
                    path: path.clone(),
                    change,
                });
            }
        }
        (o, n) if o != n => out.push(DirtyReason::ImplementationChanged {
            old: describe(o),
            new: describe(n),
        }),
        _ => {}
    }
}

fn describe(i: &ImplementationKey) -> String {
    match i {
        ImplementationKey::Builtin { version } => format!("built-in v{version}"),
        ImplementationKey::Command { command, .. } => format!("command `{command}`"),
    }
}

fn input_change(old: Option<&InputKey>, new: Option<&InputKey>) -> Option<String> {
    match (old, new) {
        (Some(o), Some(n)) if o == n => None,
        (None, Some(_)) => Some("newly bound".into()),
        (Some(_), None) => Some("no longer bound".into()),
        (Some(InputKey::One(o)), Some(InputKey::One(n))) => {
            Some(format!("content changed ({} -> {})", o.short(), n.short()))
        }
        (Some(InputKey::Many(o)), Some(InputKey::Many(n))) => {
            let parts: Vec<String> = union(o, n)
                .into_iter()
                .filter_map(|s| match (o.get(s), n.get(s)) {
                    (Some(a), Some(b)) if a != b => Some(format!(
                        "{s} content changed ({} -> {})",
                        a.short(),
                        b.short()
                    )),
                    (None, Some(_)) => Some(format!("{s} added")),
                    (Some(_), None) => Some(format!("{s} removed")),
                    _ => None,
                })
                .collect();
            Some(parts.join("; "))
        }
        _ => Some("changed between one and many bindings".into()),
    }
}

fn context(old: &KeyRecord, new: &KeyRecord, out: &mut Vec<DirtyReason>) {
    let field = |name: &str, o: String, n: String, out: &mut Vec<DirtyReason>| {
        if o != n {
            out.push(DirtyReason::Context {
                field: name.to_string(),
                old: o,
                new: n,
            });
        }
    };
    match (&old.context, &new.context) {
        (Some(o), Some(n)) => {
            field("libtorch", o.libtorch.clone(), n.libtorch.clone(), out);
            field("device", o.device.to_string(), n.device.to_string(), out);
            field(
                "deterministic",
                o.deterministic.to_string(),
                n.deterministic.to_string(),
                out,
            );
        }
        (None, None) => {}
        (o, n) => field(
            "compute context",
            o.as_ref().map(|_| "recorded").unwrap_or("none").into(),
            n.as_ref().map(|_| "recorded").unwrap_or("none").into(),
            out,
        ),
    }
}

fn union<'a, V>(a: &'a BTreeMap<String, V>, b: &'a BTreeMap<String, V>) -> BTreeSet<&'a String> {
    a.keys().chain(b.keys()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::fixtures::fixture;
    use serde_json::json;

    #[test]
    fn a_changed_parameter_is_named_with_old_and_new_values() {
        let old = fixture();
        let mut new = fixture();
        new.params.insert("epochs".into(), json!(30));
        let d = diff(&old, &new);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].to_string(), "parameter `epochs` 20 -> 30");
    }

    #[test]
    fn equal_records_have_no_reasons_and_changed_inputs_are_named() {
        assert!(diff(&fixture(), &fixture()).is_empty());
        let mut new = fixture();
        new.inputs.insert(
            "prepared".into(),
            InputKey::One(crate::key::ContentDigest::of_bytes(b"x")),
        );
        new.context.as_mut().unwrap().deterministic = false;
        let d: Vec<String> = diff(&fixture(), &new)
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert!(
            d[0].starts_with("input `prepared` content changed ("),
            "{d:?}"
        );
        assert_eq!(d[1], "deterministic true -> false");
    }
}
