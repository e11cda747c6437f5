//! The forward pass of one architecture over a set of variables (a population's, or one
//! neuron's): its blocks (`Layers`), what else a pass needs (`Plan`: which units are frozen and
//! how), one neuron's network on variables of its own (`NeuronNet`, which can go to another
//! thread), and inference in batches.

use std::collections::BTreeSet;

use tch::Tensor;

use super::arch::Architecture;
use super::attention::SaBlock;
use super::blocks::{BlockMode, ConvBlock, Vars};
use super::network::{DROPOUT_ALPHA1, DROPOUT_ALPHA2, DROPOUT_BETA, DROPOUT_SA, Output, Pass};
use super::readout::Readout;
use super::units::{FreezeMode, Unit};

/// The blocks of one architecture over a set of variables: a population's, or one neuron's
/// slices of them.
pub(crate) struct Layers {
    alpha1: ConvBlock,
    alpha2: ConvBlock,
    sa: Option<SaBlock>,
    beta1: ConvBlock,
    beta2: ConvBlock,
    pub(crate) readout: Readout,
}

impl Layers {
    pub(crate) fn new(arch: &Architecture, vars: &Vars) -> Self {
        let c = arch.channels;
        Layers {
            alpha1: ConvBlock::alpha(vars, "alpha1", c, true, DROPOUT_ALPHA1),
            alpha2: ConvBlock::alpha(vars, "alpha2", c, false, DROPOUT_ALPHA2),
            sa: arch
                .attention
                .map(|a| SaBlock::new(vars, a.value_mapping, c, DROPOUT_SA)),
            beta1: ConvBlock::beta(vars, "beta1", c, Some(DROPOUT_BETA)),
            beta2: ConvBlock::beta(vars, "beta2", c, None),
            readout: Readout::new(vars, arch),
        }
    }
}

/// What a forward pass needs besides the variables: plain data, so it can go to any thread.
#[derive(Clone)]
pub(crate) struct Plan {
    pub(crate) arch: Architecture,
    pub(crate) frozen: BTreeSet<Unit>,
    pub(crate) freeze_mode: FreezeMode,
}

impl Plan {
    fn mode<'a>(&self, unit: Unit, pass: Pass<'a>) -> BlockMode<'a> {
        match pass {
            Pass::Eval => BlockMode::Eval,
            Pass::Train(_)
                if self.freeze_mode == FreezeMode::Strict && self.frozen.contains(&unit) =>
            {
                BlockMode::Eval
            }
            Pass::Train(masks) => BlockMode::Train(masks),
        }
    }

    pub(crate) fn forward(&self, layers: &Layers, images: &Tensor, pass: Pass) -> Output {
        let h = layers.alpha1.forward(images, self.mode(Unit::Alpha1, pass));
        let h = layers.alpha2.forward(&h, self.mode(Unit::Alpha2, pass));
        let (h, attention) = match &layers.sa {
            Some(sa) => {
                let (h, a) = sa.forward(&h, self.mode(Unit::Sa, pass));
                (h, Some(a))
            }
            None => (h, None),
        };
        let h = layers.beta1.forward(&h, self.mode(Unit::Beta1, pass));
        let h = layers.beta2.forward(&h, self.mode(Unit::Beta2, pass));
        let s = h.size();
        let c = self.arch.channels as i64;
        let (b, p) = (s[0], s[1] / c);
        let features = h.view([b, p, c, s[2] * s[3]]);
        let prediction = layers.readout.forward(&features).transpose(0, 1);
        Output {
            prediction,
            features: features.view([b, p, c, s[2], s[3]]),
            attention,
        }
    }
}

/// One neuron's network on variables of its own (see [`Network::neurons_apart`]); it can move
/// to another thread.
pub struct NeuronNet {
    pub(crate) vars: Vars,
    pub(crate) layers: Layers,
    pub(crate) plan: Plan,
}

impl NeuronNet {
    /// As [`Network::forward`], for this neuron alone (`prediction` `[B, 1]`).
    pub fn forward(&self, images: &Tensor, pass: Pass) -> Output {
        self.plan.forward(&self.layers, images, pass)
    }

    /// The variables that train.
    pub fn trainable(&self) -> Vec<Tensor> {
        self.vars
            .values()
            .filter(|t| t.requires_grad())
            .map(Tensor::shallow_clone)
            .collect()
    }
}

/// `forward` over `images` in batches of `batch`, concatenated: `[n, neurons]`.
pub(crate) fn predict_batches(
    images: &Tensor,
    batch: usize,
    neurons: usize,
    forward: &dyn Fn(&Tensor) -> Tensor,
) -> Tensor {
    let n = images.size()[0];
    let batch = batch.max(1) as i64;
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        parts.push(forward(&images.narrow(0, start, len)));
        start += len;
    }
    if parts.is_empty() {
        return Tensor::zeros([0, neurons as i64], (images.kind(), images.device()));
    }
    Tensor::cat(&parts, 0)
}
