//! The key record: everything a stage's result depends on, as a serde struct. Its canonical
//! encoding (JSON with sorted keys, no whitespace) is hashed into the stage key; the record
//! itself is stored beside the result so `explain` can say what changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::digest::{ContentDigest, StageKey};
use crate::kind::DeviceClass;
use crate::spec::OutputType;

/// Bump when the key record's meaning changes: every stage then reruns.
pub const KEY_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub schema: u32,
    /// The stage definition's name (`uses:`).
    pub definition: String,
    pub kind: String,
    pub implementation: ImplementationKey,
    /// Fully resolved parameters (defaults filled in). `path` parameters appear as
    /// `{"path": <as written>, "digest": <content digest>}`.
    pub params: BTreeMap<String, Value>,
    /// Input name -> content digest(s) of the bound artifacts.
    pub inputs: BTreeMap<String, InputKey>,
    /// Declared outputs and their types.
    pub outputs: BTreeMap<String, OutputType>,
    /// For stages whose numbers depend on it.
    pub context: Option<ComputeContext>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImplementationKey {
    Builtin {
        version: u32,
    },
    Command {
        command: String,
        code: BTreeMap<String, ContentDigest>,
    },
}

/// The content behind one input: a single artifact, or (for `many` inputs) one per upstream
/// stage, keyed by the stage's name (kinds see those names).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum InputKey {
    One(ContentDigest),
    Many(BTreeMap<String, ContentDigest>),
}

/// Read as its two shapes, then each digest checked, so that an invalid one is named (an
/// untagged enum would only say that no shape matched).
impl<'de> Deserialize<'de> for InputKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::IntoDeserializer;
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(BTreeMap<String, String>),
        }
        let digest = |s: String| {
            ContentDigest::deserialize(IntoDeserializer::<D::Error>::into_deserializer(s))
        };
        match Raw::deserialize(d)? {
            Raw::One(s) => digest(s).map(InputKey::One),
            Raw::Many(m) => m
                .into_iter()
                .map(|(stage, s)| Ok((stage, digest(s)?)))
                .collect::<Result<_, _>>()
                .map(InputKey::Many),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeContext {
    pub libtorch: String,
    pub device: DeviceClass,
    pub deterministic: bool,
    /// The version of deterministic CPU numerics (kernels, threads, BLAS mode pinned so that
    /// every x86-64 machine computes alike); absent on CUDA and without determinism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_numerics: Option<String>,
}

impl KeyRecord {
    /// The canonical bytes that are hashed.
    pub fn canonical(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("a key record always serialises");
        let mut out = Vec::new();
        write_canonical(&value, &mut out);
        out
    }

    pub fn key(&self) -> StageKey {
        StageKey::from_hash(blake3::hash(&self.canonical()))
    }
}

/// JSON with object keys sorted, whatever map type serde_json was built with.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            out.push(b'{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(k).expect("strings serialise"));
                out.push(b':');
                write_canonical(&map[*k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => out.extend(serde_json::to_vec(other).expect("scalars serialise")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::key::fixtures::fixture;

    /// Pins the key of a fixed record: if this changes, every user's cache is invalidated,
    /// so it must only change together with KEY_SCHEMA.
    #[test]
    fn key_of_a_fixed_record_is_stable() {
        let r = fixture();
        let input = ContentDigest::of_bytes(b"prepared");
        let expected = format!(
            r#"{{"context":{{"deterministic":true,"device":"cpu","libtorch":"2.11.0"}},"definition":"train","implementation":{{"builtin":{{"version":3}}}},"inputs":{{"prepared":"{input}"}},"kind":"train","outputs":{{"checkpoint":"file"}},"params":{{"epochs":20,"freeze":["alpha"],"lr":0.001,"model":"rf-cnn"}},"schema":1}}"#
        );
        assert_eq!(String::from_utf8(r.canonical()).unwrap(), expected);
        assert_eq!(r.key().hex(), PINNED_KEY);
    }

    const PINNED_KEY: &str = "19f73bd90d9b907df34c5064c9e0ca7c89fcc9eea29c854ab0163c01e870c689";

    #[test]
    fn canonical_form_round_trips_through_serde() {
        let r = fixture();
        let back: KeyRecord = serde_json::from_slice(&r.canonical()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.key(), r.key());
    }

    proptest::proptest! {
        /// The key depends on the parameters' values, never on the order they were written in.
        #[test]
        fn key_is_independent_of_parameter_order(entries in proptest::collection::btree_map("[a-z]{1,8}", -1000i64..1000, 1..8), seed in 0u64..1000) {
            let mut forward = fixture();
            let mut backward = fixture();
            forward.params.clear();
            backward.params.clear();
            let items: Vec<(String, i64)> = entries.into_iter().collect();
            for (k, v) in &items {
                forward.params.insert(k.clone(), json!(v));
            }
            for (k, v) in items.iter().rev() {
                backward.params.insert(k.clone(), json!(v));
            }
            proptest::prop_assert_eq!(forward.key(), backward.key());
            let (k, v) = &items[(seed as usize) % items.len()];
            backward.params.insert(k.clone(), json!(v + 1));
            proptest::prop_assert_ne!(forward.key(), backward.key());
        }
    }
}
