//! Binding a stage's inputs to upstream outputs: explicit `inputs:` references
//! (`STAGE.OUTPUT`), inputs a kind derives from its parameters, and implicit ones (an output of
//! a stage in `needs` named like the input). A reference may name a matrix stage (all its
//! instances) or a pattern with `*`; several bindings need a `many: true` input.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::definition::Definition;
use super::error::{SpecError, suggest};
use super::params::yaml_to_json;
use super::pipeline::{Binding, Resolver, Stage};
use super::raw::RawStage;

impl Resolver<'_> {
    pub(super) fn bind(
        &self,
        stage: &mut Stage,
        rs: &RawStage,
        defs: &BTreeMap<String, Arc<Definition>>,
    ) -> Result<(), SpecError> {
        let name = stage.name.clone();
        // A matrix stage or a pattern in `needs` stands for several stages.
        let mut several = None;
        let mut resolved = Vec::new();
        for need in &stage.needs {
            let Some(found) = self.expanded.resolve(need) else {
                return Err(self.err(
                    &["stages", &name, "needs"],
                    format!("stage '{name}', field 'needs'"),
                    format!(
                        "no stage named '{need}' ({})",
                        suggest(need, self.expanded.names())
                    ),
                ));
            };
            if found.len() > 1 {
                several.get_or_insert((need.clone(), found.len()));
            }
            resolved.extend(found);
        }
        resolved.sort();
        resolved.dedup();
        stage.needs = resolved;
        let def = stage.definition.clone();
        let mut explicit: BTreeMap<String, Vec<Binding>> = BTreeMap::new();
        for (input, value) in &rs.inputs {
            let ctx = format!("stage '{name}', input '{input}'");
            if !def.inputs.contains_key(input) {
                let hint = suggest(input, def.inputs.keys().map(String::as_str));
                return Err(self.err(
                    &["stages", &name, input],
                    ctx,
                    format!("'{}' declares no input '{input}' ({hint})", def.name),
                ));
            }
            let refs: Vec<String> = match yaml_to_json(value) {
                Value::String(s) => vec![s],
                Value::Array(a) if a.iter().all(Value::is_string) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => {
                    return Err(self.err(
                        &["stages", &name, input],
                        ctx,
                        "expected 'stage.output' or a list of them",
                    ));
                }
            };
            let mut bound = Vec::new();
            for r in refs {
                bound.extend(self.reference(&name, input, &r, defs)?);
            }
            explicit.insert(input.clone(), bound);
        }
        let kind = self.kinds.get(&def.kind);
        if let Some(kind) = kind {
            let derived = kind
                .derived_inputs(&stage.params)
                .map_err(|m| self.err(&["stages", &name], format!("stage '{name}'"), m))?;
            for (input, up, output) in derived {
                let b = self.reference(&name, &input, &format!("{up}.{output}"), defs)?;
                explicit.entry(input).or_default().extend(b);
            }
        }
        let mut needs = stage.needs.clone();
        for (input, spec) in &def.inputs {
            let bound = match explicit.remove(input) {
                Some(b) => b,
                None => implicit(&stage.needs, input, defs),
            };
            if bound.len() > 1 && !spec.many {
                let list: Vec<String> = bound.iter().map(|b| b.to_string()).collect();
                let why = match &several {
                    Some((need, n)) => format!(
                        "'{}' takes one artifact, and '{need}' in 'needs' stands for {n} stages; \
                         name one of them (or a pattern with `*` that matches one), or bind \
                         the input with inputs: {{ {input}: STAGE.OUTPUT }}",
                        def.name
                    ),
                    None => format!("choose one with inputs: {{ {input}: STAGE.OUTPUT }}"),
                };
                return Err(self.err(
                    &["stages", &name],
                    format!("stage '{name}', input '{input}'"),
                    format!(
                        "several upstream outputs match ({}); {why}",
                        list.join(", ")
                    ),
                ));
            }
            if bound.is_empty() && !spec.optional {
                return Err(self.err(&["stages", &name], format!("stage '{name}', input '{input}'"), format!(
                    "not bound: no stage in 'needs' has an output named '{input}'; add its stage to 'needs' or bind it with inputs: {{ {input}: STAGE.OUTPUT }}"
                )));
            }
            needs.extend(bound.iter().map(|b| b.stage.clone()));
            if !bound.is_empty() {
                stage.inputs.insert(input.clone(), bound);
            }
        }
        needs.sort();
        needs.dedup();
        stage.needs = needs;
        Ok(())
    }

    fn reference(
        &self,
        stage: &str,
        input: &str,
        r: &str,
        defs: &BTreeMap<String, Arc<Definition>>,
    ) -> Result<Vec<Binding>, SpecError> {
        let ctx = format!("stage '{stage}', input '{input}'");
        let at = ["stages", stage, input];
        // Output names hold no '.'; expanded stage names may.
        let Some((up, output)) = r.rsplit_once('.') else {
            return Err(self.err(&at, ctx, format!("'{r}' is not of the form STAGE.OUTPUT")));
        };
        let Some(ups) = self.expanded.resolve(up) else {
            return Err(self.err(
                &at,
                ctx,
                format!(
                    "'{r}' names no stage '{up}' ({})",
                    suggest(up, self.expanded.names())
                ),
            ));
        };
        let mut bound = Vec::new();
        for up in ups {
            let outputs = &defs[up.as_str()].outputs;
            if !outputs.contains_key(output) {
                return Err(self.err(
                    &at,
                    ctx,
                    format!(
                        "stage '{up}' has no output '{output}' ({})",
                        suggest(output, outputs.keys().map(String::as_str))
                    ),
                ));
            }
            bound.push(Binding {
                stage: up,
                output: output.to_string(),
            });
        }
        Ok(bound)
    }
}

fn implicit(
    needs: &[String],
    input: &str,
    defs: &BTreeMap<String, Arc<Definition>>,
) -> Vec<Binding> {
    let mut found: Vec<Binding> = needs
        .iter()
        .filter(|n| defs.get(*n).is_some_and(|d| d.outputs.contains_key(input)))
        .map(|n| Binding {
            stage: n.clone(),
            output: input.to_string(),
        })
        .collect();
    found.sort();
    found
}
