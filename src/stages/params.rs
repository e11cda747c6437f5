//! A stage kind's parameters, read once into its typed struct: [`read`] deserialises the
//! values the pipeline resolved (every declared parameter, defaults filled in) with serde, so
//! an unknown or missing key and a value of the wrong type or outside the choices are errors
//! that name the parameter. The test harness [`drift`] checks a struct against its
//! `stages/*.yaml` definition (names, types, defaults, bounds, choices), so the two cannot
//! drift apart.

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::kind::{KindError, Params, StageContext};

/// The parameters of a stage as `T`; the error names the parameter and what would be valid.
pub fn read<T: DeserializeOwned>(params: &Params) -> Result<T, String> {
    T::deserialize(ParamsDeserializer(params)).map_err(|e| e.to_string())
}

/// [`read`] as a kind calls it, once per run: the error names the stage too.
pub fn read_stage<T: DeserializeOwned>(ctx: &StageContext) -> Result<T, KindError> {
    read(ctx.params).map_err(|e| KindError::Invalid(format!("stage '{}': {e}", ctx.stage)))
}

/// [`read`] for a struct that flattens another (serde cannot deny unknown keys through
/// `#[serde(flatten)]`): a key the struct does not write back is refused by name.
pub fn read_flattened<T: DeserializeOwned + serde::Serialize>(
    params: &Params,
) -> Result<T, String> {
    let typed: T = read(params)?;
    let written = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    match params.keys().find(|k| written.get(k.as_str()).is_none()) {
        Some(k) => Err(format!("unknown parameter '{k}'")),
        None => Ok(typed),
    }
}

/// An optional `path` parameter as a field (`#[serde(with = "params::optional_path")]`): the
/// engine passes "" for "not set" ([`crate::spec::params::ParamType::Path`]), which is `None`.
pub mod optional_path {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        v.as_deref().unwrap_or(Path::new("")).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Ok(Some(PathBuf::deserialize(d)?).filter(|p| !p.as_os_str().is_empty()))
    }
}

/// Deserialises a [`Params`] map as a struct, naming the key in a value's error.
struct ParamsDeserializer<'a>(&'a Params);

impl<'de> de::Deserializer<'de> for ParamsDeserializer<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(Entries {
            iter: self.0.iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// The entries of a [`Params`] map, one key and value at a time.
struct Entries<'a> {
    iter: std::collections::btree_map::Iter<'a, String, Value>,
    current: Option<(&'a str, &'a Value)>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.current = Some((key, value));
        seed.deserialize(key.as_str().into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let Some((key, value)) = self.current.take() else {
            return Err(de::Error::custom("a parameter's value without its name"));
        };
        seed.deserialize(value.clone())
            .map_err(|e| de::Error::custom(format!("parameter '{key}': {e}")))
    }
}

/// Checks a kind's parameter struct `T` against its built-in definition (`stages/<kind>.yaml`):
/// the definition's defaults (with `required` for parameters without one) read into `T` and
/// write back unchanged (so every parameter has a field and every field a parameter, of a
/// type that holds the default); each bound is a value `T` holds; each `choices` list is
/// exactly the values `T` accepts, in the definition's order. Panics with what differs.
#[cfg(test)]
pub fn drift<T: DeserializeOwned + serde::Serialize>(kind: &str, required: &[(&str, Value)]) {
    use crate::spec::params::ParamType;

    let definition = crate::spec::definition::Definition::builtin(
        kind,
        std::path::Path::new("."),
        &crate::stages::registry(),
    )
    .unwrap()
    .unwrap_or_else(|| panic!("no built-in definition {kind}"));
    let mut values = Params::new();
    for (name, spec) in &definition.params {
        let value = spec
            .default
            .clone()
            .or_else(|| {
                required
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| panic!("{kind}: give a value of `{name}`, which has no default"));
        values.insert(name.clone(), value);
    }
    let typed: T =
        read(&values).unwrap_or_else(|e| panic!("{kind}: the defaults do not read: {e}"));
    let written = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        written,
        Value::Object(values.clone().into_iter().collect()),
        "{kind}: the struct does not write back the definition's parameters and defaults"
    );
    let with = |name: &str, v: Value| {
        let mut p = values.clone();
        p.insert(name.to_owned(), v);
        read::<T>(&p)
    };
    for (name, spec) in &definition.params {
        let accepts = |v: Value| {
            with(name, v.clone()).unwrap_or_else(|e| {
                panic!("{kind}: `{name}` = {v} is valid but does not read: {e}")
            });
        };
        match spec.ty {
            ParamType::Int => {
                accepts(Value::from(spec.min.map_or(i64::MIN, |m| m as i64)));
                accepts(Value::from(spec.max.map_or(i64::MAX, |m| m as i64)));
            }
            ParamType::Float => {
                accepts(Value::from(spec.min.unwrap_or(f64::MIN)));
                accepts(Value::from(spec.max.unwrap_or(f64::MAX)));
            }
            _ => {}
        }
        let bogus = Value::from("\u{1}not a value");
        match &spec.choices {
            // Numeric choices are plain numbers of the struct: each must read.
            Some(choices) if !choices.iter().all(Value::is_string) => {
                for c in choices {
                    accepts(c.clone());
                }
            }
            Some(choices) => {
                for c in choices {
                    accepts(c.clone());
                }
                let err = with(name, bogus).err().unwrap_or_else(|| {
                    panic!("{kind}: `{name}` accepts a value outside its choices")
                });
                let listed = err
                    .split("(valid: ")
                    .nth(1)
                    .and_then(|l| l.strip_suffix(')'))
                    .unwrap_or_else(|| panic!("{kind}: `{name}`: '{err}' lists no values"));
                let choices: Vec<&str> = choices.iter().filter_map(Value::as_str).collect();
                assert_eq!(
                    listed,
                    choices.join(", "),
                    "{kind}: `{name}`: the type's values differ from the definition's choices"
                );
            }
            None if spec.ty == ParamType::String => {
                if let Err(e) = with(name, bogus) {
                    assert!(
                        !e.contains("unknown value"),
                        "{kind}: `{name}` is a choice in the struct but not in the definition: {e}"
                    );
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Two {
        n: usize,
        s: String,
    }

    fn params(pairs: &[(&str, Value)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn errors_name_the_parameter() {
        let err = read::<Two>(&params(&[("n", json!("x")), ("s", json!("a"))])).unwrap_err();
        assert_eq!(
            err,
            "parameter 'n': invalid type: string \"x\", expected usize"
        );
        let err = read::<Two>(&params(&[("n", json!(1))])).unwrap_err();
        assert_eq!(err, "missing field `s`");
        let err = read::<Two>(&params(&[
            ("n", json!(1)),
            ("s", json!("a")),
            ("t", json!(2)),
        ]))
        .unwrap_err();
        assert_eq!(err, "unknown field `t`, expected `n` or `s`");
    }
}
