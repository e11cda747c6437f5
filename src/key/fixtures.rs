//! Test fixtures shared by the key modules' tests (and the reproducibility verdicts'): a
//! complete key record of a train stage.

use std::collections::BTreeMap;

use serde_json::json;

use crate::key::digest::ContentDigest;
use crate::key::record::*;
use crate::kind::DeviceClass;
use crate::spec::OutputType;

/// The key record of a train stage with typical parameters and one input.
pub fn fixture() -> KeyRecord {
    KeyRecord {
        schema: KEY_SCHEMA,
        definition: "train".into(),
        kind: "train".into(),
        implementation: ImplementationKey::Builtin { version: 3 },
        params: BTreeMap::from([
            ("epochs".to_string(), json!(20)),
            ("lr".to_string(), json!(0.001)),
            ("model".to_string(), json!("rf-cnn")),
            ("freeze".to_string(), json!(["alpha"])),
        ]),
        inputs: BTreeMap::from([(
            "prepared".to_string(),
            InputKey::One(ContentDigest::of_bytes(b"prepared")),
        )]),
        outputs: BTreeMap::from([("checkpoint".to_string(), OutputType::File)]),
        context: Some(ComputeContext {
            libtorch: "2.11.0".into(),
            device: DeviceClass::Cpu,
            deterministic: true,
            cpu_numerics: None,
        }),
    }
}
