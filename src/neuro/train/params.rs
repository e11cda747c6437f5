//! The `train` kind's parameters, one typed struct ([`TrainParams`]) read once by serde from
//! what the pipeline resolved against `stages/train.yaml` (unknown keys rejected; the drift
//! test in `stages::train_spec` checks the two agree: names, types, defaults, bounds, choices).
//! The stage adapter, [`super::fit::fit`], the trainer and the recorded recipe all take it as
//! it is, so a new parameter is a line of the definition and a field here. What depends on the
//! architecture and the data (block names, the combiner's start) is resolved against them by
//! [`TrainParams::architecture`] and [`CombineChoice::resolve`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::memory::Budget;
use super::{BiasRefit, CombineInit, ReadoutBias, Selection, Strategy};
use crate::neuro::choice::Choice;
use crate::neuro::model::arch::{ArchError, ReadoutKind};
use crate::neuro::model::{Architecture, FreezeMode, ModelId, Unit};

/// `init: {from, blocks}`: start from these blocks of an upstream stage's checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct InitSpec {
    pub from: String,
    pub blocks: Vec<String>,
}

impl InitSpec {
    /// Reads `init` as written: `{}` (or null) means none; the error names the key and what
    /// would be valid.
    pub fn from_value(value: &Value) -> Result<Option<Self>, String> {
        let map = match value {
            Value::Null => return Ok(None),
            Value::Object(m) if m.is_empty() => return Ok(None),
            Value::Object(m) => m,
            other => {
                return Err(format!(
                    "init must be a mapping {{from: <stage>, blocks: [...]}}, found {other}"
                ));
            }
        };
        if let Some(k) = map.keys().find(|k| *k != "from" && *k != "blocks") {
            return Err(format!(
                "init: unknown key '{k}' (valid keys: from, blocks)"
            ));
        }
        let from = match map.get("from") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err("init.from must name the upstream train stage".into()),
        };
        let blocks = match map.get("blocks") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("init.blocks: {v} is not a block name"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err("init.blocks must list the blocks to copy, e.g. [alpha]".into()),
        };
        Ok(Some(InitSpec { from, blocks }))
    }
}

/// `init` as a field: `{}` is `None`.
mod init_field {
    use super::*;

    pub fn serialize<S: serde::Serializer>(v: &Option<InitSpec>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => serde_json::json!({}).serialize(s),
            Some(i) => serde_json::json!({ "from": i.from, "blocks": i.blocks }).serialize(s),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<InitSpec>, D::Error> {
        InitSpec::from_value(&Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A whole number where 0 means "not set" (`channels`, `patience`).
mod zero_is_none {
    use super::*;

    pub fn serialize<S: serde::Serializer>(v: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
        v.unwrap_or(0).serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        Ok(Some(usize::deserialize(d)?).filter(|&n| n != 0))
    }
}

/// A string where "" means "not set" (`label`).
mod empty_is_none {
    use super::*;

    pub fn serialize<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        v.as_deref().unwrap_or("").serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Some(String::deserialize(d)?).filter(|l| !l.is_empty()))
    }
}

/// `combine_init` as written: how an FC1 model's combiner starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CombineChoice {
    /// `centre` when the step copies the centre term from upstream, else `random`.
    Auto,
    Centre,
    Random,
}

impl Choice for CombineChoice {
    const ALL: &'static [Self] = &[
        CombineChoice::Auto,
        CombineChoice::Centre,
        CombineChoice::Random,
    ];

    fn id(self) -> &'static str {
        match self {
            CombineChoice::Auto => "auto",
            CombineChoice::Centre => "centre",
            CombineChoice::Random => "random",
        }
    }
}

crate::neuro::choice::choice_serde!(CombineChoice);

impl CombineChoice {
    /// The combiner start for `arch`; `copies_centre` says whether `init` copies the centre
    /// term. A explicit choice on a model without a combiner is an error.
    pub fn resolve(self, arch: &Architecture, copies_centre: bool) -> Result<CombineInit, String> {
        let split = arch.readout == ReadoutKind::SplitFcl;
        match self {
            CombineChoice::Auto if split && copies_centre => Ok(CombineInit::Centre),
            CombineChoice::Auto => Ok(CombineInit::Random),
            _ if !split => Err(format!(
                "combine_init applies to ff-sa-cnn-star-fc1 only (model {} has no combiner); leave it at auto",
                arch.model
            )),
            CombineChoice::Centre => Ok(CombineInit::Centre),
            CombineChoice::Random => Ok(CombineInit::Random),
        }
    }
}

/// Every parameter of a train stage (`stages/train.yaml`), typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    pub model: ModelId,
    /// Channels of the body; `None` (written 0) keeps the model's own.
    #[serde(with = "zero_is_none")]
    pub channels: Option<usize>,
    /// The most epochs a neuron trains.
    pub epochs: usize,
    /// Early stopping's patience in epochs; `None` (written 0) trains all `epochs`.
    #[serde(with = "zero_is_none")]
    pub patience: Option<usize>,
    pub batch_size: usize,
    pub lr: f64,
    pub seed: u64,
    /// Blocks to copy from an upstream checkpoint; `None` (written `{}`) starts at random.
    #[serde(with = "init_field")]
    pub init: Option<InitSpec>,
    /// Block names to hold fixed, as written (resolved against the architecture).
    pub freeze: Vec<String>,
    pub freeze_mode: FreezeMode,
    pub selection: Selection,
    pub strategy: Strategy,
    /// The memory budget, which caps the neurons per group (not part of the result or the
    /// key).
    pub memory: Budget,
    pub combine_init: CombineChoice,
    pub readout_bias: ReadoutBias,
    /// What happens to the output bias once training ends.
    pub refit_bias: BiasRefit,
    /// Display label; the model's display name when `None` (written "").
    #[serde(with = "empty_is_none")]
    pub label: Option<String>,
}

impl TrainParams {
    /// The architecture for images of `input_size` pixels.
    pub fn architecture(&self, input_size: usize) -> Result<Architecture, ArchError> {
        let arch = Architecture::new(self.model, input_size)?;
        match self.channels {
            Some(c) => arch.with_channels(c),
            None => Ok(arch),
        }
    }

    /// The frozen units and, with `init`, the copied ones, resolved against `arch`.
    pub fn units(
        &self,
        arch: &Architecture,
    ) -> Result<(BTreeSet<Unit>, Option<BTreeSet<Unit>>), ArchError> {
        let frozen = arch.resolve_units(&self.freeze, "freeze")?;
        let copied = match &self.init {
            Some(init) => Some(arch.resolve_units(&init.blocks, "init.blocks")?),
            None => None,
        };
        Ok((frozen, copied))
    }

    /// The label models are shown with.
    pub fn display_label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.model.display_name().to_owned())
    }
}

/// `stages/train.yaml`'s defaults for `model` and `seed`, for test fixtures (so a new
/// parameter needs no edit of them).
#[cfg(test)]
impl TrainParams {
    pub fn defaults(model: ModelId, seed: u64) -> Self {
        let definition: serde_yaml::Value =
            serde_yaml::from_str(include_str!("../../../stages/train.yaml")).unwrap();
        let mut params = serde_json::Map::new();
        for (name, spec) in definition["params"].as_mapping().unwrap() {
            if let Some(default) = spec.get("default") {
                let name = name.as_str().unwrap().to_owned();
                params.insert(name, serde_json::to_value(default).unwrap());
            }
        }
        params.insert("model".into(), Value::from(model.id()));
        params.insert("seed".into(), Value::from(seed));
        serde_json::from_value(Value::Object(params)).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_init_auto_follows_the_copied_centre() {
        let fc1 = Architecture::new(ModelId::FfSaCnnStarFc1, 50).unwrap();
        let rf = Architecture::new(ModelId::RfCnn, 50).unwrap();
        assert_eq!(
            CombineChoice::Auto.resolve(&fc1, true),
            Ok(CombineInit::Centre)
        );
        assert_eq!(
            CombineChoice::Auto.resolve(&fc1, false),
            Ok(CombineInit::Random)
        );
        assert_eq!(
            CombineChoice::Random.resolve(&fc1, true),
            Ok(CombineInit::Random)
        );
        assert_eq!(
            CombineChoice::Auto.resolve(&rf, true),
            Ok(CombineInit::Random)
        );
        let err = CombineChoice::Centre.resolve(&rf, false).unwrap_err();
        assert!(err.contains("ff-sa-cnn-star-fc1 only"), "{err}");
        assert_eq!(CombineChoice::from_id("middle"), None);
    }
}
