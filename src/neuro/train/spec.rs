//! A train request, resolved: every choice of `stages/train.yaml` parsed once into its type
//! ([`TrainSpec`]), so the trainer never re-reads raw parameters. What depends on the
//! architecture and the data (block names, the combiner's start) is resolved against them by
//! [`TrainSpec::architecture`] and [`CombineChoice::resolve`].

use std::collections::BTreeSet;

use super::memory::Budget;
use super::{BiasRefit, CombineInit, ReadoutBias, Selection, Strategy};
use crate::neuro::model::arch::{ArchError, ReadoutKind};
use crate::neuro::model::{Architecture, FreezeMode, ModelId, Unit};

/// `init: {from, blocks}`: start from these blocks of an upstream stage's checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct InitSpec {
    pub from: String,
    pub blocks: Vec<String>,
}

/// `combine_init` as written: how an FC1 model's combiner starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CombineChoice {
    /// `centre` when the step copies the centre term from upstream, else `random`.
    Auto,
    Centre,
    Random,
}

impl CombineChoice {
    pub const VALID: &'static str = "auto, centre, random";

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(CombineChoice::Auto),
            "centre" => Some(CombineChoice::Centre),
            "random" => Some(CombineChoice::Random),
            _ => None,
        }
    }

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

/// Everything a train stage asks for, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSpec {
    pub model: ModelId,
    /// Channels of the body; `None` keeps the model's own.
    pub channels: Option<usize>,
    /// The most epochs a neuron trains.
    pub epochs: usize,
    /// Early stopping's patience in epochs; `None` trains all `epochs`.
    pub patience: Option<usize>,
    pub batch_size: usize,
    pub lr: f64,
    pub seed: u64,
    pub selection: Selection,
    /// Block names to hold fixed, as written (resolved against the architecture).
    pub freeze: Vec<String>,
    pub freeze_mode: FreezeMode,
    pub strategy: Strategy,
    /// The memory budget, which caps the neurons per group (not part of the result).
    pub memory: Budget,
    pub combine_init: CombineChoice,
    pub readout_bias: ReadoutBias,
    /// What happens to the output bias once training ends.
    pub refit_bias: BiasRefit,
    pub init: Option<InitSpec>,
    /// Display label; the model's display name when `None`.
    pub label: Option<String>,
}

impl TrainSpec {
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
        assert_eq!(CombineChoice::parse("middle"), None);
    }
}
