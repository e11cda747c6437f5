//! Computes a stage's key record from its resolved definition and parameters, the content of
//! its inputs (upstream output digests) and the compute context.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Engine, ExecError};
use crate::key::{
    ComputeContext, ContentDigest, ImplementationKey, InputKey, KEY_SCHEMA, KeyRecord,
};
use crate::spec::{Implementation, Stage};
use crate::store::objects::Manifest;

/// Output digests of stages already known: stage -> output -> digest.
pub type Known = BTreeMap<String, BTreeMap<String, ContentDigest>>;

/// The key record of `stage`, or `None` if some input's upstream output is not known yet.
pub fn key_record(
    engine: &Engine,
    stage: &Stage,
    known: &Known,
) -> Result<Option<KeyRecord>, ExecError> {
    let def = &stage.definition;
    let mut inputs = BTreeMap::new();
    for (name, bindings) in &stage.inputs {
        let mut digests = BTreeMap::new();
        for b in bindings {
            match known.get(&b.stage).and_then(|o| o.get(&b.output)) {
                Some(d) => digests.insert(b.stage.clone(), d.clone()),
                None => return Ok(None),
            };
        }
        let spec_many = def.inputs.get(name).is_some_and(|i| i.many);
        let key = if spec_many {
            InputKey::Many(digests)
        } else {
            InputKey::One(
                digests
                    .into_values()
                    .next()
                    .expect("a bound input has one binding"),
            )
        };
        inputs.insert(name.clone(), key);
    }
    let mut params = stage.params.clone();
    params.retain(|name, _| def.params.get(name).is_none_or(|p| p.key));
    for (name, path) in &stage.paths {
        let digest = Manifest::digest_path(path).map_err(|e| {
            ExecError::Input(format!(
                "stage '{}', parameter '{name}': cannot read {}: {e}",
                stage.name,
                path.display()
            ))
        })?;
        params.insert(
            name.clone(),
            json!({ "path": params[name].clone(), "digest": digest }),
        );
    }
    let (implementation, context) = match &def.implementation {
        Implementation::Builtin {
            version,
            uses_device,
        } => (
            ImplementationKey::Builtin { version: *version },
            uses_device.then(|| ComputeContext {
                libtorch: engine.env.libtorch.clone().unwrap_or_else(|| "none".into()),
                device: engine.stage_device(stage),
                deterministic: engine.pipeline.deterministic,
                cpu_numerics: (engine.pipeline.deterministic
                    && engine.stage_device(stage) == crate::kind::DeviceClass::Cpu)
                    .then(|| engine.env.cpu_numerics.clone())
                    .flatten(),
            }),
        ),
        Implementation::Command { command, code } => {
            let mut digests = BTreeMap::new();
            for rel in code {
                let path = engine.pipeline.root.join(rel);
                let d = ContentDigest::of_file(&path).map_err(|e| {
                    ExecError::Input(format!(
                        "stage '{}': code file {}: {e}",
                        stage.name,
                        path.display()
                    ))
                })?;
                digests.insert(rel.clone(), d);
            }
            (
                ImplementationKey::Command {
                    command: command.clone(),
                    code: digests,
                },
                None,
            )
        }
    };
    Ok(Some(KeyRecord {
        schema: KEY_SCHEMA,
        definition: def.name.clone(),
        kind: def.kind.clone(),
        implementation,
        params: params.into_iter().collect::<BTreeMap<String, Value>>(),
        inputs,
        outputs: def.outputs.iter().map(|(n, o)| (n.clone(), o.ty)).collect(),
        context,
    }))
}
