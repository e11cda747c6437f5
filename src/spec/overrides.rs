//! Command-line overrides: `--set STAGE.PARAM=VALUE` on `run`, `status`, `explain` (and every
//! command that loads a pipeline). The value is parsed as YAML and checked against the
//! parameter's declared type like any `with:` value, so it enters the key like one. STAGE is a
//! stage, a matrix stage (all its instances) or a pattern with `*`: `--set '*.epochs=5'` sets
//! `epochs` on every stage whose definition declares it. Overrides apply after the profile;
//! a later `--set` of the same parameter wins.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_yaml::Value;

use super::definition::Definition;
use super::error::suggest;
use super::pipeline::valid_name;

/// One `--set`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// As given on the command line.
    pub arg: String,
    pub stage: String,
    pub param: String,
    pub value: Value,
}

/// Why an override does not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error(
        "expected STAGE.PARAM=VALUE ({why}), e.g. --set train.epochs=5, or --set '*.epochs=5' \
         for every stage that declares `epochs`"
    )]
    Malformed { why: String },
    #[error("no stage named '{stage}' ({hint})")]
    UnknownStage { stage: String, hint: String },
    #[error("stage '{stage}' ('{definition}') declares no parameter '{param}' ({hint})")]
    UnknownParam {
        stage: String,
        definition: String,
        param: String,
        hint: String,
    },
    #[error("no stage matching '{pattern}' declares a parameter '{param}'")]
    Undeclared { pattern: String, param: String },
    #[error("stage '{stage}', parameter '{param}': {message}")]
    Type {
        stage: String,
        param: String,
        message: String,
    },
}

/// What overrides set: stage -> parameter -> value.
pub type Sets = BTreeMap<String, BTreeMap<String, Value>>;

/// Parses `STAGE.PARAM=VALUE`. The stage is what comes before the last '.' of the part before
/// the first '=' (expanded stage names may hold '.', parameter names do not).
pub fn parse(arg: &str) -> Result<Override, OverrideError> {
    let malformed = |why: &str| OverrideError::Malformed { why: why.into() };
    let (target, text) = arg.split_once('=').ok_or_else(|| malformed("no '='"))?;
    let (stage, param) = target
        .rsplit_once('.')
        .ok_or_else(|| malformed("no '.' between the stage and the parameter"))?;
    if stage.is_empty() {
        return Err(malformed("no stage before the '.'"));
    }
    if !valid_name(param) {
        return Err(malformed(&format!(
            "'{param}' is not a parameter name (letters, digits, '_' or '-')"
        )));
    }
    if let Some((_, why)) = super::limits::too_deep(text) {
        return Err(malformed(&format!("the value: {why}")));
    }
    let value = serde_yaml::from_str(text)
        .map_err(|e| malformed(&format!("the value '{text}' is not YAML: {e}")))?;
    Ok(Override {
        arg: arg.to_string(),
        stage: stage.to_string(),
        param: param.to_string(),
        value,
    })
}

/// What the overrides set on each stage: stage -> parameter -> value (checked against its
/// type). `resolve` gives the stages a STAGE names (see `matrix::Expanded::resolve`),
/// `names` the valid STAGE names for suggestions, `definitions` each stage's definition. An
/// error comes with the override it is about.
pub fn apply<'a>(
    overrides: &'a [Override],
    resolve: impl Fn(&str) -> Option<Vec<String>>,
    names: &[&str],
    definitions: &BTreeMap<String, Arc<Definition>>,
) -> Result<Sets, (&'a Override, OverrideError)> {
    let mut out = Sets::new();
    for o in overrides {
        let fail = |e| (o, e);
        let stages = resolve(&o.stage).ok_or_else(|| {
            fail(OverrideError::UnknownStage {
                stage: o.stage.clone(),
                hint: suggest(&o.stage, names.iter().copied()),
            })
        })?;
        let mut declared = false;
        for stage in stages {
            let Some(def) = definitions.get(&stage) else {
                continue;
            };
            let Some(spec) = def.params.get(&o.param) else {
                if o.stage.contains('*') {
                    continue;
                }
                return Err(fail(OverrideError::UnknownParam {
                    stage,
                    definition: def.name.clone(),
                    param: o.param.clone(),
                    hint: valid_params(&o.param, def),
                }));
            };
            spec.check_yaml(&o.value).map_err(|message| {
                fail(OverrideError::Type {
                    stage: stage.clone(),
                    param: o.param.clone(),
                    message,
                })
            })?;
            declared = true;
            out.entry(stage)
                .or_default()
                .insert(o.param.clone(), o.value.clone());
        }
        if !declared {
            return Err(fail(OverrideError::Undeclared {
                pattern: o.stage.clone(),
                param: o.param.clone(),
            }));
        }
    }
    Ok(out)
}

/// "did you mean 'x'? valid: a, b" (the suggestion only when one is close).
fn valid_params(wrong: &str, def: &Definition) -> String {
    let names: Vec<&str> = def.params.keys().map(String::as_str).collect();
    if names.is_empty() {
        return format!("'{}' has no parameters", def.name);
    }
    let valid = format!("valid: {}", names.join(", "));
    match suggest(wrong, names.iter().copied()) {
        s if s.starts_with("did you mean") => format!("{s} {valid}"),
        _ => valid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::template::glob;

    #[test]
    fn parses_the_value_as_yaml_and_splits_at_the_last_dot() {
        let o = parse("train@ff-cnn,0.25.epochs=5").unwrap();
        assert_eq!(
            (o.stage.as_str(), o.param.as_str()),
            ("train@ff-cnn,0.25", "epochs")
        );
        assert_eq!(o.value, Value::from(5));
        assert_eq!(parse("*.label=a=b").unwrap().value, Value::from("a=b"));
        assert_eq!(
            parse("t.m=[1, 2]")
                .unwrap()
                .value
                .as_sequence()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(parse("t.x=0.5").unwrap().value, Value::from(0.5));
        assert_eq!(parse("t.x=").unwrap().value, Value::Null);
    }

    #[test]
    fn malformed_overrides_say_the_expected_form() {
        for (arg, why) in [
            ("train.epochs", "no '='"),
            ("epochs=5", "no '.' between"),
            (".epochs=5", "no stage before"),
            ("train.ep ochs=5", "is not a parameter name"),
            ("train.epochs=[1", "is not YAML"),
        ] {
            let err = parse(arg).unwrap_err().to_string();
            assert!(
                err.starts_with("expected STAGE.PARAM=VALUE (") && err.contains(why),
                "{arg}: {err}"
            );
        }
    }

    fn definition(name: &str, params: &str) -> Definition {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("{name}.yaml"));
        let text = format!(
            "name: {name}\nkind: command\ncommand: \"true\"\nparams:\n{params}\noutputs:\n  o: {{}}\n"
        );
        std::fs::write(&file, text).unwrap();
        let kinds = crate::kind::KindRegistry::default();
        Definition::load(&file, dir.path(), &kinds).unwrap()
    }

    fn run(args: &[&str]) -> Result<Sets, String> {
        let fit = definition(
            "fit",
            "  epochs: { type: int, default: 1, min: 1 }\n  lr: { type: float, default: 0.1 }",
        );
        let data = definition("data", "  n: { type: int, default: 3 }");
        let stages = ["data", "fit@a", "fit@b"];
        let resolve = |r: &str| -> Option<Vec<String>> {
            let found: Vec<String> = match r {
                "fit" => vec!["fit@a".into(), "fit@b".into()],
                _ => stages
                    .iter()
                    .filter(|s| glob(r, s))
                    .map(|s| s.to_string())
                    .collect(),
            };
            (!found.is_empty()).then_some(found)
        };
        let overrides: Vec<Override> = args.iter().map(|a| parse(a).unwrap()).collect();
        let defs = BTreeMap::from([
            ("data".to_string(), Arc::new(data)),
            ("fit@a".to_string(), Arc::new(fit.clone())),
            ("fit@b".to_string(), Arc::new(fit)),
        ]);
        apply(
            &overrides,
            resolve,
            &["data", "fit", "fit@a", "fit@b"],
            &defs,
        )
        .map_err(|(o, e)| format!("{}: {e}", o.arg))
    }

    #[test]
    fn every_stage_family_and_instance() {
        let all = run(&["*.epochs=5", "fit@b.epochs=7"]).unwrap();
        assert_eq!(all["fit@a"]["epochs"], Value::from(5));
        assert_eq!(all["fit@b"]["epochs"], Value::from(7));
        assert!(!all.contains_key("data"));
        let family = run(&["fit.lr=1"]).unwrap();
        assert_eq!(family.len(), 2);
    }

    #[test]
    fn unknown_stages_parameters_and_wrong_types_are_named() {
        for (arg, expected) in [
            ("fti.epochs=5", "no stage named 'fti' (did you mean 'fit'?)"),
            (
                "fit.epoch=5",
                "stage 'fit@a' ('fit') declares no parameter 'epoch' (did you mean 'epochs'? \
                 valid: epochs, lr)",
            ),
            (
                "data.zzzzzz=5",
                "stage 'data' ('data') declares no parameter 'zzzzzz' (valid: n)",
            ),
            (
                "*.zzz=5",
                "no stage matching '*' declares a parameter 'zzz'",
            ),
            (
                "fit@a.epochs=five",
                "stage 'fit@a', parameter 'epochs': expected an integer, found the string \"five\"",
            ),
            (
                "fit@a.epochs=0",
                "stage 'fit@a', parameter 'epochs': 0 is below the minimum 1",
            ),
        ] {
            assert_eq!(run(&[arg]).unwrap_err(), format!("{arg}: {expected}"));
        }
    }
}
