//! The seven architectures of models.md §3 as data: their blocks, the variables each block owns
//! (stable names and per-neuron shapes), the named units that `init` and `freeze` address, and
//! trainable parameter counts. This file has no libtorch dependency: the network in
//! `network.rs` is built from [`Architecture::variables`], so the counts reported here are the
//! counts of the variables that exist (a test checks that too).

use std::collections::BTreeSet;
use std::fmt;

use super::units::Unit;

/// Channels of the attention layer's query / key / value projections.
pub const ATTENTION_DIM: usize = 5;
/// Side of the model input in pixels that the published parameter counts assume.
pub const REFERENCE_INPUT_SIZE: usize = 50;
/// Channel-dropout probability of every dropout layer.
pub const DROPOUT_P: f64 = 0.3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchError {
    #[error("unknown model '{found}'; valid models: {}", ModelId::ALL.iter().map(|m| m.id()).collect::<Vec<_>>().join(", "))]
    UnknownModel { found: String },
    #[error(
        "model {model}: input size {size} is too small or gives a feature grid of side {grid} ({why})"
    )]
    InputSize {
        model: &'static str,
        size: usize,
        grid: i64,
        why: &'static str,
    },
    #[error("model {model}: channels must be at least 1")]
    Channels { model: &'static str },
    #[error("{field}: unknown block '{found}' for model {model}; valid blocks: {valid}")]
    UnknownUnit {
        field: String,
        found: String,
        model: &'static str,
        valid: String,
    },
}

/// One of the seven models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelId {
    FfCnn,
    FfSaCnn,
    RfCnn,
    RfSaCnn,
    RfSaCnnStar,
    FfSaCnnStar,
    FfSaCnnStarFc1,
}

impl ModelId {
    pub const ALL: [ModelId; 7] = [
        ModelId::FfCnn,
        ModelId::FfSaCnn,
        ModelId::RfCnn,
        ModelId::RfSaCnn,
        ModelId::RfSaCnnStar,
        ModelId::FfSaCnnStar,
        ModelId::FfSaCnnStarFc1,
    ];

    /// The identifier pipelines write (`model: rf-sa-cnn-star`).
    pub fn id(self) -> &'static str {
        match self {
            ModelId::FfCnn => "ff-cnn",
            ModelId::FfSaCnn => "ff-sa-cnn",
            ModelId::RfCnn => "rf-cnn",
            ModelId::RfSaCnn => "rf-sa-cnn",
            ModelId::RfSaCnnStar => "rf-sa-cnn-star",
            ModelId::FfSaCnnStar => "ff-sa-cnn-star",
            ModelId::FfSaCnnStarFc1 => "ff-sa-cnn-star-fc1",
        }
    }

    /// The name used in the paper's tables.
    pub fn display_name(self) -> &'static str {
        match self {
            ModelId::FfCnn => "ff-CNN",
            ModelId::FfSaCnn => "ff+sa-CNN",
            ModelId::RfCnn => "rf-CNN",
            ModelId::RfSaCnn => "rf+sa-CNN",
            ModelId::RfSaCnnStar => "rf+sa-CNN*",
            ModelId::FfSaCnnStar => "ff+sa-CNN*",
            ModelId::FfSaCnnStarFc1 => "ff+sa-CNN* FC1",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ArchError> {
        ModelId::ALL
            .into_iter()
            .find(|m| m.id() == s)
            .ok_or_else(|| ArchError::UnknownModel {
                found: s.to_owned(),
            })
    }
}

impl crate::neuro::choice::Choice for ModelId {
    const ALL: &'static [Self] = &ModelId::ALL;

    fn id(self) -> &'static str {
        ModelId::id(self)
    }
}

crate::neuro::choice::choice_serde!(ModelId);

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The readout on top of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadoutKind {
    /// One linear unit over all C x H x W features.
    Fcl,
    /// One linear unit over the C features of the centre hypercolumn.
    Ctl,
    /// Centre term (C -> 1) + surround term (other positions x C -> 1), combined 2 -> 1.
    SplitFcl,
}

/// What a variable is, which fixes its initial value and whether it is trained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Role {
    /// A convolution or linear weight: uniform in +-1/sqrt(fan_in) (PyTorch's default).
    Weight {
        fan_in: usize,
    },
    /// A convolution or linear bias: uniform in +-1/sqrt(fan_in) (PyTorch's default).
    Bias {
        fan_in: usize,
    },
    /// Batch-norm scale (1) and shift (0).
    BnScale,
    BnShift,
    /// Batch-norm running statistics (0 and 1); buffers, not trained.
    RunningMean,
    RunningVar,
    /// The attention residual gate g (0).
    Gate,
}

impl Role {
    pub fn trainable(self) -> bool {
        !matches!(self, Role::RunningMean | Role::RunningVar)
    }
}

/// One variable of a network: its stable name and its shape for one neuron (the population
/// stores it as `[neurons, ...shape]`, neuron-major).
#[derive(Debug, Clone, PartialEq)]
pub struct VarSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub role: Role,
}

impl VarSpec {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The attention layer's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionSpec {
    /// With V mapping: v = Wv x, out = Wo (v A^T); without: out = x A^T.
    pub value_mapping: bool,
}

/// One architecture at one input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Architecture {
    pub model: ModelId,
    pub channels: usize,
    /// Kernel of the two beta blocks (3 or 1).
    pub beta_kernel: usize,
    pub attention: Option<AttentionSpec>,
    pub readout: ReadoutKind,
    pub input_size: usize,
}

impl Architecture {
    /// The architecture of `model` for square inputs of side `input_size`.
    pub fn new(model: ModelId, input_size: usize) -> Result<Self, ArchError> {
        let (channels, beta_kernel, attention, readout) = match model {
            ModelId::FfCnn => (32, 3, None, ReadoutKind::Fcl),
            ModelId::FfSaCnn => (30, 3, Some(true), ReadoutKind::Fcl),
            ModelId::RfCnn => (32, 1, None, ReadoutKind::Ctl),
            ModelId::RfSaCnn => (30, 1, Some(false), ReadoutKind::Ctl),
            ModelId::RfSaCnnStar => (30, 1, Some(true), ReadoutKind::Ctl),
            ModelId::FfSaCnnStar => (30, 1, Some(true), ReadoutKind::Fcl),
            ModelId::FfSaCnnStarFc1 => (30, 1, Some(true), ReadoutKind::SplitFcl),
        };
        let arch = Architecture {
            model,
            channels,
            beta_kernel,
            attention: attention.map(|value_mapping| AttentionSpec { value_mapping }),
            readout,
            input_size,
        };
        arch.check_size()?;
        Ok(arch)
    }

    fn check_size(&self) -> Result<(), ArchError> {
        let s = self.input_size as i64;
        let after_alpha1 = (s - 4) / 2;
        let grid = (after_alpha1 - 4) / 2;
        let features = grid - 2 * (self.beta_kernel as i64 - 1);
        let bad = |why| ArchError::InputSize {
            model: self.model.id(),
            size: self.input_size,
            grid: features,
            why,
        };
        if s < 6 || after_alpha1 < 5 || grid < 1 || features < 1 {
            return Err(bad(
                "the two alpha and two beta blocks need a grid of side >= 1",
            ));
        }
        match self.readout {
            ReadoutKind::Fcl => Ok(()),
            ReadoutKind::Ctl if features % 2 == 1 => Ok(()),
            ReadoutKind::SplitFcl if features % 2 == 1 && features >= 3 => Ok(()),
            _ => Err(bad(
                "a centre hypercolumn needs an odd grid side (>= 3 for a surround)",
            )),
        }
    }

    /// The same architecture with `channels` channels instead of the model's own (the published
    /// counts hold for the default). The incremental chain needs it: its first step, rf-CNN,
    /// must have the 30 channels of the rf+sa-CNN* that copies its alpha blocks.
    pub fn with_channels(mut self, channels: usize) -> Result<Self, ArchError> {
        if channels == 0 {
            return Err(ArchError::Channels {
                model: self.model.id(),
            });
        }
        self.channels = channels;
        Ok(self)
    }

    /// Side of the hypercolumn grid after the two alpha blocks (9 for 50-pixel inputs).
    pub fn grid(&self) -> usize {
        ((self.input_size - 4) / 2 - 4) / 2
    }

    /// Side of the feature map the readout sees (after the beta blocks).
    pub fn feature_grid(&self) -> usize {
        self.grid() - 2 * (self.beta_kernel - 1)
    }

    /// Flat index of the centre position of the readout's feature map (40 on a 9 x 9 grid).
    pub fn centre_index(&self) -> usize {
        let g = self.feature_grid();
        (g / 2) * g + g / 2
    }

    /// Every variable of one neuron's network, in a fixed order.
    pub fn variables(&self) -> Vec<VarSpec> {
        let c = self.channels;
        let mut v = Vec::new();
        conv_block(&mut v, "alpha1", 1, c, 5);
        conv_block(&mut v, "alpha2", c, c, 5);
        if let Some(att) = self.attention {
            let d = ATTENTION_DIM;
            conv(&mut v, "sa.attn.q", c, d, 1);
            conv(&mut v, "sa.attn.k", c, d, 1);
            if att.value_mapping {
                conv(&mut v, "sa.attn.v", c, d, 1);
                conv(&mut v, "sa.attn.o", d, c, 1);
            }
            v.push(VarSpec {
                name: "sa.attn.gamma".into(),
                shape: vec![1],
                role: Role::Gate,
            });
            batch_norm(&mut v, "sa.bn", c);
        }
        conv_block(&mut v, "beta1", c, c, self.beta_kernel);
        conv_block(&mut v, "beta2", c, c, self.beta_kernel);
        let g = self.feature_grid();
        match self.readout {
            ReadoutKind::Fcl => linear(&mut v, "readout", c * g * g, 1),
            ReadoutKind::Ctl => linear(&mut v, "readout", c, 1),
            ReadoutKind::SplitFcl => {
                linear(&mut v, "readout.centre", c, 1);
                linear(&mut v, "readout.surround", c * (g * g - 1), 1);
                linear(&mut v, "readout.combine", 2, 1);
            }
        }
        v
    }

    /// Trainable parameters per neuron with the given units frozen.
    pub fn trainable_params(&self, frozen: &BTreeSet<Unit>) -> usize {
        self.variables()
            .iter()
            .filter(|s| s.role.trainable() && !frozen.iter().any(|u| u.owns(&s.name)))
            .map(VarSpec::numel)
            .sum()
    }

    /// A one-line description of the body, e.g. "alpha5, alpha5, SA(V on), beta3, beta3".
    pub fn body_description(&self) -> String {
        let mut parts = vec!["alpha5".to_owned(), "alpha5".to_owned()];
        if let Some(a) = self.attention {
            parts.push(format!(
                "SA(V {})",
                if a.value_mapping { "on" } else { "off" }
            ));
        }
        let beta = format!("beta{}", self.beta_kernel);
        parts.extend([beta.clone(), beta]);
        parts.join(", ")
    }

    pub fn readout_description(&self) -> String {
        let g = self.feature_grid();
        match self.readout {
            ReadoutKind::Fcl => format!("FCL ({g}x{g}xC)"),
            ReadoutKind::Ctl => "CTL".to_owned(),
            ReadoutKind::SplitFcl => "split FCL (FC1)".to_owned(),
        }
    }
}

fn conv(v: &mut Vec<VarSpec>, path: &str, c_in: usize, c_out: usize, k: usize) {
    let fan_in = c_in * k * k;
    v.push(VarSpec {
        name: format!("{path}.weight"),
        shape: vec![c_out, c_in, k, k],
        role: Role::Weight { fan_in },
    });
    v.push(VarSpec {
        name: format!("{path}.bias"),
        shape: vec![c_out],
        role: Role::Bias { fan_in },
    });
}

fn batch_norm(v: &mut Vec<VarSpec>, path: &str, c: usize) {
    for (field, role) in [
        ("weight", Role::BnScale),
        ("bias", Role::BnShift),
        ("running_mean", Role::RunningMean),
        ("running_var", Role::RunningVar),
    ] {
        v.push(VarSpec {
            name: format!("{path}.{field}"),
            shape: vec![c],
            role,
        });
    }
}

fn conv_block(v: &mut Vec<VarSpec>, block: &str, c_in: usize, c_out: usize, k: usize) {
    conv(v, &format!("{block}.conv"), c_in, c_out, k);
    batch_norm(v, &format!("{block}.bn"), c_out);
}

fn linear(v: &mut Vec<VarSpec>, path: &str, fan_in: usize, out: usize) {
    v.push(VarSpec {
        name: format!("{path}.weight"),
        shape: vec![out, fan_in],
        role: Role::Weight { fan_in },
    });
    v.push(VarSpec {
        name: format!("{path}.bias"),
        shape: vec![out],
        role: Role::Bias { fan_in },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_reference_grid() {
        let a = Architecture::new(ModelId::FfSaCnnStar, 50).unwrap();
        assert_eq!((a.grid(), a.feature_grid(), a.centre_index()), (9, 9, 40));
        let f = Architecture::new(ModelId::FfCnn, 50).unwrap();
        assert_eq!((f.grid(), f.feature_grid(), f.centre_index()), (9, 5, 12));
    }

    #[test]
    fn variable_names_are_stable_paths() {
        let a = Architecture::new(ModelId::FfSaCnnStarFc1, 50).unwrap();
        let names: Vec<String> = a.variables().into_iter().map(|v| v.name).collect();
        for expected in [
            "alpha1.conv.weight",
            "alpha1.bn.running_var",
            "sa.attn.q.weight",
            "sa.attn.o.bias",
            "sa.attn.gamma",
            "sa.bn.weight",
            "beta2.conv.bias",
            "readout.centre.weight",
            "readout.surround.weight",
            "readout.combine.bias",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        let v_off = Architecture::new(ModelId::RfSaCnn, 50).unwrap();
        assert!(
            !v_off
                .variables()
                .iter()
                .any(|v| v.name.starts_with("sa.attn.v") || v.name.starts_with("sa.attn.o"))
        );
    }

    #[test]
    fn unknown_models_and_sizes_are_rejected_with_the_valid_choices() {
        let err = ModelId::parse("ff-cnnn").unwrap_err().to_string();
        assert!(
            err.contains("unknown model 'ff-cnnn'") && err.contains("rf-sa-cnn-star"),
            "{err}"
        );
        assert!(Architecture::new(ModelId::FfCnn, 20).is_err());
        let rf30 = Architecture::new(ModelId::RfCnn, 50)
            .unwrap()
            .with_channels(30)
            .unwrap();
        assert_eq!(
            rf30.trainable_params(&BTreeSet::new()),
            780 + 60 + 22_530 + 60 + 2 * 990 + 31
        );
        assert!(
            Architecture::new(ModelId::RfCnn, 50)
                .unwrap()
                .with_channels(0)
                .is_err()
        );
        assert!(Architecture::new(ModelId::RfCnn, 22).is_err());
        assert!(Architecture::new(ModelId::RfCnn, 26).is_ok());
        assert!(Architecture::new(ModelId::FfCnn, 32).is_ok());
        for m in ModelId::ALL {
            assert_eq!(ModelId::parse(m.id()).unwrap(), m);
        }
    }
}
