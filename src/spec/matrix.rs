//! `matrix:` on a pipeline stage: one stage per combination of the listed values, expanded on
//! the raw YAML before anything else is resolved, so an expanded stage is exactly the stage a
//! user would have written out by hand (same parameters, same key).
//!
//! ```yaml
//! train:
//!   uses: train
//!   matrix: { model: [ff-cnn, rf-cnn], fraction: [0.25, 0.5] }
//!   needs: ["prep@${fraction}"]
//!   with: { model: "${model}", epochs: 2, label: "${model}" }
//! ```
//!
//! makes `train@ff-cnn,0.25`, `train@ff-cnn,0.5`, `train@rf-cnn,0.25`, `train@rf-cnn,0.5`
//! (values in the matrix's key order; or `name: "train_${model}_${fraction}"`). A string that
//! is exactly `${key}` takes the value with its YAML type; inside a longer string the value is
//! interpolated. `@` and `,` are reserved for these names (hand-written stage names are
//! letters, digits, '_' and '-'), so an expanded name never shadows a written one; they and '.'
//! are safe in file names, YAML keys and shell words. References (`needs:`, `inputs:`, `--set`)
//! may name the matrix stage itself (all its instances) or a pattern with `*`
//! (`train@*,0.25`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::error::{SpecError, locate};
use super::limits;
use super::pipeline::valid_name;
use super::repeat;
use super::template::{
    describe, glob, interpolate, placeholders, scalar_text, substitute, unknown,
};

/// The pipeline's stages after expansion.
#[derive(Debug, Clone, Default)]
pub struct Expanded {
    /// Name and stage mapping (without `matrix:` and `name:`), in file order, each matrix
    /// stage's instances in its place.
    pub stages: Vec<(String, Value)>,
    /// Matrix stage -> its instances, in expansion order.
    pub families: BTreeMap<String, Vec<String>>,
    /// The matrix stages that have a `repeat:` (see `spec::repeat`).
    pub repeated: BTreeSet<String>,
    origin: BTreeMap<String, String>,
    /// Every stage name, for lookups that do not scan `stages`.
    names: BTreeSet<String>,
}

impl Expanded {
    /// The stage of the file that `name` comes from (itself when it is not an instance).
    pub fn origin<'a>(&'a self, name: &'a str) -> &'a str {
        self.origin.get(name).map_or(name, String::as_str)
    }

    /// The matrix stage `name` is an instance of.
    pub fn family_of(&self, name: &str) -> Option<&str> {
        self.origin.get(name).map(String::as_str)
    }

    /// The stages a reference names: a stage, a matrix stage (all its instances), or a pattern
    /// where `*` matches any text; `None` when it names nothing.
    pub fn resolve(&self, reference: &str) -> Option<Vec<String>> {
        if let Some(instances) = self.families.get(reference) {
            return Some(instances.clone());
        }
        if !reference.contains('*') {
            return self
                .names
                .contains(reference)
                .then(|| vec![reference.to_string()]);
        }
        let found: Vec<String> = self
            .stages
            .iter()
            .map(|(n, _)| n)
            .filter(|n| glob(reference, n))
            .cloned()
            .collect();
        (!found.is_empty()).then_some(found)
    }

    /// Every name a reference may use, for suggestions: stages and matrix stages.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.stages.iter().map(|(n, _)| n.as_str()).collect();
        v.extend(self.families.keys().map(String::as_str));
        v
    }
}

/// Characters a matrix value may bring into a stage name.
fn name_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
}

/// Characters of an expanded stage's name.
fn instance_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '@' | ','))
}

/// Expands the `stages:` mapping of the pipeline `file` (whose text locates errors).
pub fn expand(file: &Path, text: &str, stages: &Mapping) -> Result<Expanded, SpecError> {
    let err = |path: &[&str], context: String, message: String| {
        SpecError::new(file, message)
            .context(context)
            .line(locate(text, path))
    };
    let mut out = Expanded::default();
    for (key, value) in stages {
        let name = key.as_str().filter(|n| valid_name(n)).ok_or_else(|| {
            err(
                &["stages"],
                "stages".into(),
                format!(
                    "stage names must be letters, digits, '_' or '-', found {}",
                    serde_yaml::to_string(key).unwrap_or_default().trim()
                ),
            )
        })?;
        if let Some(why) = limits::name_too_long(name) {
            return Err(err(
                &["stages", name],
                format!("stage '{}…'", &name[..20]),
                why,
            ));
        }
        let expands = |m: &&Mapping| m.contains_key("matrix") || m.contains_key("repeat");
        let Some(map) = value.as_mapping().filter(expands) else {
            if value.as_mapping().is_some_and(|m| m.contains_key("name")) {
                return Err(err(
                    &["stages", name, "name"],
                    format!("stage '{name}', field 'name'"),
                    "`name:` names the instances of a matrix stage, and this stage has no \
                     `matrix:` or `repeat:`"
                        .into(),
                ));
            }
            out.stages.push((name.to_string(), value.clone()));
            continue;
        };
        let at = |field: &str| [String::from("stages"), name.into(), field.into()];
        let located = |field: &str, m: String| {
            let mut path = at(field).to_vec();
            if field == "with" {
                path.push(repeat::KEY.into());
            }
            let top = if field == "seeds" { "repeat" } else { field };
            let top = if map.contains_key(top) { top } else { "matrix" };
            err(
                &path.iter().map(String::as_str).collect::<Vec<_>>(),
                format!("stage '{name}', field '{top}'"),
                m,
            )
        };
        let seeds = repeat::seeds(map).map_err(|(field, m)| located(&field, m))?;
        let mut matrix = match map.contains_key("matrix") {
            true => Matrix::read(map).map_err(|(field, m)| located(&field, m))?,
            false => Matrix { keys: Vec::new() },
        };
        if let Some(seeds) = seeds {
            matrix.keys.push((repeat::KEY.to_string(), seeds));
            out.repeated.insert(name.to_string());
        }
        let repeated = out.repeated.contains(name);
        let template = match map.get("name") {
            None => None,
            Some(Value::String(t)) => Some(t.as_str()),
            Some(_) => {
                return Err(err(
                    &["stages", name, "name"],
                    format!("stage '{name}', field 'name'"),
                    "expected a string such as \"train_${model}\"".into(),
                ));
            }
        };
        if let Some(t) = template {
            let used = placeholders(t);
            let keys: Vec<&str> = matrix.keys.iter().map(|(k, _)| k.as_str()).collect();
            let check = used
                .iter()
                .find(|p| !keys.contains(&p.as_str()))
                .map(|p| unknown(p, &keys))
                .or_else(|| {
                    keys.iter()
                        .find(|k| !used.contains(&k.to_string()))
                        .map(|k| {
                            format!(
                                "the template does not use the matrix key '{k}', so instances \
                             would share names (use every key: {})",
                                keys.iter()
                                    .map(|k| format!("${{{k}}}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        })
                });
            if let Some(m) = check {
                return Err(err(
                    &["stages", name, "name"],
                    format!("stage '{name}', field 'name' \"{t}\""),
                    m,
                ));
            }
        }
        let mut body = map.clone();
        body.remove("matrix");
        body.remove("name");
        if body.remove("repeat").is_some() {
            repeat::with_seed(&mut body);
        }
        let body = Value::Mapping(body);
        let total = out.stages.len().saturating_add(matrix.size());
        if let Some(why) = limits::too_many_stages(total) {
            return Err(err(
                &["stages", name],
                format!("stage '{name}', field 'matrix'"),
                why,
            ));
        }
        let mut instances = Vec::new();
        for vars in matrix.combinations() {
            let instance = match template {
                Some(t) => interpolate(t, &vars)
                    .map_err(|m| err(&["stages", name, "name"], format!("stage '{name}'"), m))?,
                None => {
                    let part = |(k, v): &(String, Value)| match repeated && k == repeat::KEY {
                        true => repeat::name_part(v),
                        false => scalar_text(v),
                    };
                    let values: Vec<String> = vars.iter().map(part).collect();
                    format!("{name}@{}", values.join(","))
                }
            };
            if let Some(why) = limits::name_too_long(&instance) {
                return Err(err(
                    &["stages", name, "name"],
                    format!(
                        "stage '{name}', instance '{}…'",
                        instance.chars().take(40).collect::<String>()
                    ),
                    why,
                ));
            }
            if !instance_name(&instance) {
                return Err(err(
                    &["stages", name, "name"],
                    format!("stage '{name}', field 'name'"),
                    format!(
                        "the template makes '{instance}', which is not a stage name (letters, \
                         digits, '_', '-', '.', '+', '@' or ',', starting with a letter or digit)"
                    ),
                ));
            }
            let mut path = vec!["stages".to_string(), name.to_string()];
            let stage = substitute(&body, &vars, &mut path).map_err(|(path, m)| {
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                err(&path, format!("stage '{name}'"), m)
            })?;
            out.origin.insert(instance.clone(), name.to_string());
            out.stages.push((instance.clone(), stage));
            instances.push(instance);
        }
        out.families.insert(name.to_string(), instances);
    }
    let mut seen = BTreeSet::new();
    for (n, _) in &out.stages {
        let taken = !seen.insert(n.as_str()) || out.families.contains_key(n);
        if let (true, Some(family)) = (taken, out.family_of(n)) {
            return Err(err(
                &["stages", family],
                format!("stage '{family}', field 'matrix'"),
                format!(
                    "the matrix makes a stage named '{n}', and the pipeline already has a \
                     stage of that name (give the instances other names with `name:`)"
                ),
            ));
        }
    }
    out.names = out.stages.iter().map(|(n, _)| n.clone()).collect();
    Ok(out)
}

/// A `matrix:` as written: keys in file order, each with its values.
struct Matrix {
    keys: Vec<(String, Vec<Value>)>,
}

impl Matrix {
    /// Reads the `matrix:` of a stage mapping; errors are (field to locate, message).
    fn read(stage: &Mapping) -> Result<Self, (String, String)> {
        let field = |f: &str| f.to_string();
        let Some(Value::Mapping(m)) = stage.get("matrix") else {
            return Err((
                field("matrix"),
                "expected a mapping of keys to lists of values, e.g. \
                 matrix: { model: [ff-cnn, rf-cnn] }"
                    .into(),
            ));
        };
        if m.is_empty() {
            return Err((field("matrix"), "the matrix declares no keys".into()));
        }
        let mut keys = Vec::new();
        for (k, v) in m {
            let Some(k) = k.as_str().filter(|k| valid_name(k)) else {
                return Err((
                    field("matrix"),
                    format!(
                        "matrix keys are letters, digits, '_' or '-', found {}",
                        scalar_text(k)
                    ),
                ));
            };
            let values = match v {
                Value::Sequence(s) if s.is_empty() => {
                    return Err((
                        field(k),
                        format!("matrix key '{k}' has no values (list at least one)"),
                    ));
                }
                Value::Sequence(s) => s.clone(),
                other => {
                    return Err((
                        field(k),
                        format!(
                            "matrix key '{k}': expected a list of values, found {}",
                            describe(other)
                        ),
                    ));
                }
            };
            for v in &values {
                let text = match v {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => scalar_text(v),
                    other => {
                        return Err((
                            field(k),
                            format!(
                                "matrix key '{k}': {} is not a string, number or boolean",
                                describe(other)
                            ),
                        ));
                    }
                };
                if !name_part(&text) {
                    return Err((
                        field(k),
                        format!(
                            "matrix key '{k}': the value '{text}' cannot be part of a stage name \
                             (letters, digits, '_', '-', '.' or '+')"
                        ),
                    ));
                }
            }
            let mut seen = std::collections::HashSet::with_capacity(values.len());
            if let Some(twice) = values
                .iter()
                .find_map(|v| (!seen.insert(v)).then(|| scalar_text(v)))
            {
                return Err((
                    field(k),
                    format!("matrix key '{k}' lists the value '{twice}' twice"),
                ));
            }
            keys.push((k.to_string(), values));
        }
        Ok(Self { keys })
    }

    /// The number of combinations (saturated at `usize::MAX`).
    fn size(&self) -> usize {
        self.keys
            .iter()
            .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
            .unwrap_or(usize::MAX)
    }

    /// Every combination, the first key varying slowest, values in their listed order.
    fn combinations(&self) -> Vec<Vec<(String, Value)>> {
        let mut all: Vec<Vec<(String, Value)>> = vec![Vec::new()];
        for (k, values) in &self.keys {
            all = all
                .into_iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        let mut c = prefix.clone();
                        c.push((k.clone(), v.clone()));
                        c
                    })
                })
                .collect();
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "p.yaml";

    fn expand_text(text: &str) -> Result<Expanded, SpecError> {
        let v: Value = serde_yaml::from_str(text).unwrap();
        let stages = v["stages"].as_mapping().unwrap().clone();
        expand(Path::new(FILE), text, &stages)
    }

    fn names(e: &Expanded) -> Vec<&str> {
        e.stages.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn error(text: &str) -> String {
        expand_text(text).unwrap_err().to_string()
    }

    const GRID: &str = "stages:
  prep:
    uses: preprocess
    matrix: { fraction: [0.25, 0.5] }
    with: { fraction: \"${fraction}\" }
  train:
    uses: train
    matrix: { model: [ff-cnn, rf-cnn], fraction: [0.25, 0.5] }
    needs: [\"prep@${fraction}\"]
    with: { model: \"${model}\", epochs: \"${e}\", label: \"${model} at ${fraction}\" }
  report: { uses: report, needs: [train] }
";

    #[test]
    fn names_follow_the_key_order_and_instances_stay_in_place() {
        let e = expand_text(&GRID.replace("\"${e}\"", "2")).unwrap();
        assert_eq!(
            names(&e),
            [
                "prep@0.25",
                "prep@0.5",
                "train@ff-cnn,0.25",
                "train@ff-cnn,0.5",
                "train@rf-cnn,0.25",
                "train@rf-cnn,0.5",
                "report"
            ]
        );
        assert_eq!(e.origin("train@rf-cnn,0.5"), "train");
        assert_eq!(e.origin("report"), "report");
        assert_eq!(e.families["prep"], ["prep@0.25", "prep@0.5"]);
    }

    #[test]
    fn whole_placeholders_keep_their_type_and_partial_ones_interpolate() {
        let text = GRID.replace("epochs: \"${e}\"", "epochs: 2");
        let e = expand_text(&text).unwrap();
        let (_, prep) = &e.stages[1];
        assert_eq!(prep["with"]["fraction"], Value::from(0.5));
        let (_, train) = &e.stages[3];
        assert_eq!(train["with"]["model"], Value::from("ff-cnn"));
        assert_eq!(train["with"]["label"], Value::from("ff-cnn at 0.5"));
        assert_eq!(train["needs"][0], Value::from("prep@0.5"));
        assert!(train.get("matrix").is_none());
        let ints = "stages:\n  t:\n    uses: x\n    matrix: { e: [1, 2] }\n    with: { epochs: \"${e}\" }\n";
        let e = expand_text(ints).unwrap();
        assert_eq!(e.stages[1].1["with"]["epochs"], Value::from(2));
        assert_eq!(names(&e), ["t@1", "t@2"]);
    }

    #[test]
    fn a_name_template_names_the_instances() {
        let text = "stages:\n  t:\n    uses: x\n    name: \"fit_${m}_${s}\"\n    matrix: { m: [a, b], s: [1] }\n";
        assert_eq!(names(&expand_text(text).unwrap()), ["fit_a_1", "fit_b_1"]);
    }

    #[test]
    fn references_name_stages_families_and_patterns() {
        let e = expand_text(&GRID.replace("\"${e}\"", "2")).unwrap();
        assert_eq!(e.resolve("report").unwrap(), ["report"]);
        assert_eq!(e.resolve("prep").unwrap(), ["prep@0.25", "prep@0.5"]);
        assert_eq!(
            e.resolve("train@*,0.25").unwrap(),
            ["train@ff-cnn,0.25", "train@rf-cnn,0.25"]
        );
        assert_eq!(e.resolve("*").unwrap().len(), 7);
        assert_eq!(e.resolve("train@*,0.75"), None);
        assert_eq!(e.resolve("trian"), None);
    }

    #[test]
    fn unknown_placeholders_are_located_and_named() {
        let err = error(GRID);
        assert!(
            err.starts_with("p.yaml:10: stage 'train': unknown placeholder '${e}'"),
            "{err}"
        );
        assert!(err.contains("matrix keys: model, fraction"), "{err}");
        let err = error(&GRID.replace("\"${e}\"", "\"${fracton}\""));
        assert!(err.contains("did you mean 'fraction'?"), "{err}");
    }

    #[test]
    fn bad_matrices_are_located() {
        let cases = [
            ("matrix: { m: [] }", ":4: ", "matrix key 'm' has no values"),
            (
                "matrix: { m: [[a]] }",
                ":4: ",
                "is not a string, number or boolean",
            ),
            (
                "matrix: { m: [{a: 1}] }",
                ":4: ",
                "is not a string, number or boolean",
            ),
            ("matrix: { m: a }", ":4: ", "expected a list of values"),
            (
                "matrix: { m: [a b] }",
                ":4: ",
                "'a b' cannot be part of a stage name",
            ),
            ("matrix: { m: [a, a] }", ":4: ", "lists the value 'a' twice"),
            ("matrix: {}", ":4: ", "declares no keys"),
            ("matrix: [a]", ":4: ", "expected a mapping"),
        ];
        for (matrix, line, message) in cases {
            let text = format!("name: p\nstages:\n  t:\n    {matrix}\n    uses: x\n");
            let err = error(&text);
            assert!(
                err.contains(line) && err.contains(message),
                "{matrix}: {err}"
            );
        }
    }

    #[test]
    fn templates_must_use_every_key_and_names_must_not_collide() {
        let t = "stages:\n  a: { uses: x }\n  t:\n    uses: x\n    matrix: { m: [a, b], s: [1] }\n    name: \"fit_${m}\"\n";
        let err = error(t);
        assert!(
            err.starts_with("p.yaml:6: stage 't', field 'name' \"fit_${m}\": the template does not use the matrix key 's'"),
            "{err}"
        );
        let err = error(&t.replace("fit_${m}", "${m}${s}${x}"));
        assert!(err.contains("unknown placeholder '${x}'"), "{err}");
        let err = error(&t.replace("fit_${m}", "${m}"));
        assert!(err.contains("does not use the matrix key 's'"), "{err}");
        let clash = t.replace("fit_${m}\"", "${m}\"").replace(", s: [1]", "");
        let err = error(&clash);
        assert!(
            err.starts_with(
                "p.yaml:3: stage 't', field 'matrix': the matrix makes a stage named 'a'"
            ),
            "{err}"
        );
        let other = "stages:\n  t:\n    uses: x\n    matrix: { m: [a] }\n    name: \"u_${m}\"\n  u:\n    uses: x\n    matrix: { m: [a] }\n    name: \"u_${m}\"\n";
        assert!(error(other).contains("'u_a'"), "{}", error(other));
        let bad = t.replace("fit_${m}", "fit ${m}${s}");
        assert!(error(&bad).contains("makes 'fit a1', which is not a stage name"));
    }

    #[test]
    fn name_without_matrix_and_bad_stage_names_are_errors() {
        let err = error("stages:\n  t: { uses: x, name: y }\n");
        assert!(err.contains(":2: stage 't', field 'name'"), "{err}");
        let err = error("stages:\n  \"t@1\": { uses: x }\n");
        assert!(err.contains("stage names must be letters"), "{err}");
    }

    #[test]
    fn repeat_adds_the_seed_last_and_names_it() {
        let text = "stages:
  train:
    uses: train
    matrix: { model: [ff-cnn, rf-cnn] }
    repeat: { seeds: [1, 2] }
    with: { model: \"${model}\" }
  one: { uses: train, repeat: { seeds: [7] } }
";
        let e = expand_text(text).unwrap();
        assert_eq!(
            names(&e)[..4],
            [
                "train@ff-cnn,seed1",
                "train@ff-cnn,seed2",
                "train@rf-cnn,seed1",
                "train@rf-cnn,seed2"
            ]
        );
        assert_eq!(names(&e)[4], "one@seed7");
        let (_, stage) = &e.stages[3];
        assert_eq!(stage["with"]["seed"], Value::from(2));
        assert_eq!(stage["with"]["model"], Value::from("rf-cnn"));
        assert!(stage.get("repeat").is_none());
        assert!(e.repeated.contains("train") && e.repeated.contains("one"));
        let err = error(&text.replace("seeds: [7]", "seeds: [7, x]"));
        assert!(
            err.contains("p.yaml:7: stage 'one', field 'repeat': 'x' is not a seed"),
            "{err}"
        );
        let err = error(&text.replace("{ model: \"${model}\" }", "{ model: a, seed: 3 }"));
        assert!(
            err.contains("p.yaml:6: stage 'train', field 'with': `repeat:` sets"),
            "{err}"
        );
    }
}
