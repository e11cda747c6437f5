//! Typed stage parameters: declarations from stage definitions, and the checking of the values
//! pipelines give them. Values are kept as JSON (`serde_json::Value`) because that is also
//! their canonical form inside stage keys.

use serde_json::Value;

use super::raw::RawParam;

/// The type of a declared parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Int,
    Float,
    Bool,
    String,
    List,
    Map,
    /// A file or folder of the project: its content digest enters the key, the kind receives
    /// an absolute path. The empty string means "not set".
    Path,
}

impl ParamType {
    pub const NAMES: [&'static str; 7] = ["int", "float", "bool", "string", "list", "map", "path"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "int" => Self::Int,
            "float" => Self::Float,
            "bool" => Self::Bool,
            "string" => Self::String,
            "list" => Self::List,
            "map" => Self::Map,
            "path" => Self::Path,
            _ => return None,
        })
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Int => "an integer",
            Self::Float => "a number",
            Self::Bool => "true or false",
            Self::String => "a string",
            Self::List => "a list",
            Self::Map => "a mapping",
            Self::Path => "a path (string)",
        }
    }
}

/// A declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub ty: ParamType,
    /// `None` means required, except for `seed`, which inherits the pipeline's seed.
    pub default: Option<Value>,
    pub choices: Option<Vec<Value>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub doc: String,
    /// Whether the value enters the stage key (`key: false`: it changes how, not what).
    pub key: bool,
}

impl ParamSpec {
    /// Builds a declaration; errors are messages about the declaration itself.
    pub fn from_raw(raw: &RawParam) -> Result<Self, String> {
        let ty = ParamType::parse(&raw.ty).ok_or_else(|| {
            format!(
                "unknown type '{}' ({})",
                raw.ty,
                super::error::suggest(&raw.ty, ParamType::NAMES)
            )
        })?;
        if (raw.min.is_some() || raw.max.is_some())
            && !matches!(ty, ParamType::Int | ParamType::Float)
        {
            return Err(format!(
                "min and max only apply to int and float parameters, not {}",
                ty.describe()
            ));
        }
        let mut spec = ParamSpec {
            ty,
            default: None,
            choices: None,
            min: raw.min,
            max: raw.max,
            doc: raw.doc.clone(),
            key: raw.key,
        };
        if let Some(choices) = &raw.choices {
            let checked: Result<Vec<Value>, String> = choices
                .iter()
                .map(|c| spec.coerce(&yaml_to_json(c)))
                .collect();
            spec.choices = Some(checked.map_err(|e| format!("choices: {e}"))?);
        }
        if let Some(d) = &raw.default {
            spec.default = Some(spec.check_yaml(d).map_err(|e| format!("default: {e}"))?);
        }
        Ok(spec)
    }

    /// Checks a value against the type, range and choices; returns its canonical form
    /// (integers given for floats become floats).
    /// Checks a parameter value as written in YAML (see `check`).
    pub fn check_yaml(&self, v: &serde_yaml::Value) -> Result<Value, String> {
        match v {
            serde_yaml::Value::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => {
                Err(format!(
                    "{} is not a finite number (.nan and .inf are not valid parameter values)",
                    serde_yaml::to_string(v).unwrap_or_default().trim()
                ))
            }
            _ => self.check(&yaml_to_json(v)),
        }
    }

    pub fn check(&self, v: &Value) -> Result<Value, String> {
        let v = self.coerce(v)?;
        if let Some(x) = v.as_f64() {
            if let Some(min) = self.min.filter(|m| x < *m) {
                return Err(format!("{v} is below the minimum {min}"));
            }
            if let Some(max) = self.max.filter(|m| x > *m) {
                return Err(format!("{v} is above the maximum {max}"));
            }
        }
        if let Some(choices) = &self.choices
            && !choices.contains(&v)
        {
            let list: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
            return Err(format!("{v} is not one of {}", list.join(", ")));
        }
        Ok(v)
    }

    fn coerce(&self, v: &Value) -> Result<Value, String> {
        let ok = match (self.ty, v) {
            (ParamType::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(v.clone()),
            (ParamType::Float, Value::Number(n)) => n
                .as_f64()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)),
            (ParamType::Bool, Value::Bool(_))
            | (ParamType::String | ParamType::Path, Value::String(_))
            | (ParamType::List, Value::Array(_))
            | (ParamType::Map, Value::Object(_)) => Some(v.clone()),
            _ => None,
        };
        ok.ok_or_else(|| {
            format!(
                "expected {}, found {}",
                self.ty.describe(),
                describe_value(v)
            )
        })
    }
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
        other => other.to_string(),
    }
}

/// Converts parsed YAML to JSON (YAML tags are dropped; non-string map keys are stringified).
pub fn yaml_to_json(v: &serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(s) => Value::Array(s.iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(&t.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(ty: &str) -> ParamSpec {
        ParamSpec::from_raw(&RawParam {
            ty: ty.into(),
            default: None,
            choices: None,
            min: Some(0.0),
            max: None,
            doc: String::new(),
            key: true,
        })
        .unwrap()
    }

    #[test]
    fn integers_given_for_floats_become_floats() {
        assert_eq!(spec("float").check(&json!(1)).unwrap(), json!(1.0));
        assert_eq!(spec("float").check(&json!(1)).unwrap().to_string(), "1.0");
    }

    #[test]
    fn wrong_types_and_ranges_are_explained() {
        assert_eq!(
            spec("int").check(&json!("ten")).unwrap_err(),
            "expected an integer, found the string \"ten\""
        );
        assert_eq!(
            spec("int").check(&json!(2.5)).unwrap_err(),
            "expected an integer, found 2.5"
        );
        assert_eq!(
            spec("int").check(&json!(-1)).unwrap_err(),
            "-1 is below the minimum 0"
        );
    }

    #[test]
    fn unknown_types_suggest_the_nearest() {
        let raw = RawParam {
            ty: "integer".into(),
            default: None,
            choices: None,
            min: None,
            max: None,
            doc: String::new(),
            key: true,
        };
        assert!(
            ParamSpec::from_raw(&raw)
                .unwrap_err()
                .contains("unknown type 'integer'")
        );
    }
}
