//! Population layers and the alpha / beta blocks (models.md §2).
//!
//! A population of P neurons is one computation: activations are `[B, P*C, H, W]` with the
//! neuron as the outer channel index, and every variable is stored neuron-major
//! (`[P, C_out, C_in, k, k]`, viewed as `[P*C_out, C_in, k, k]` for a convolution with
//! `groups = P`). Batch-norm over P*C channels is per neuron by construction (statistics are per
//! channel), and dropout masks come per neuron from [`DropoutMasks`], so nothing couples neurons.

use std::collections::BTreeMap;

use tch::Tensor;

use super::pooling::conv_max_pool;

/// Batch-norm momentum and epsilon (PyTorch's defaults).
pub const BN_MOMENTUM: f64 = 0.1;
pub const BN_EPS: f64 = 1e-5;

/// The source of channel-dropout masks for one training step.
pub trait DropoutMasks {
    /// The mask of dropout layer `layer` for `channels` channels per neuron, shaped
    /// `[B, P*channels, 1, 1]`, with values 0 (dropped) or 1/(1-p) (kept).
    fn mask(&self, layer: usize, channels: usize) -> Tensor;
}

/// One neuron's view of a population's masks: each layer's mask is drawn once for the
/// population and shared by its neurons, each reading its own channels (the values it would
/// draw alone: a neuron's stream is its own).
pub(crate) struct NeuronMasks<'a> {
    population: &'a dyn DropoutMasks,
    /// Masks drawn so far, by (layer, channels).
    drawn: &'a std::cell::RefCell<BTreeMap<(usize, usize), Tensor>>,
    index: i64,
}

impl<'a> NeuronMasks<'a> {
    pub fn new(
        population: &'a dyn DropoutMasks,
        drawn: &'a std::cell::RefCell<BTreeMap<(usize, usize), Tensor>>,
        index: usize,
    ) -> Self {
        NeuronMasks {
            population,
            drawn,
            index: index as i64,
        }
    }
}

impl DropoutMasks for NeuronMasks<'_> {
    fn mask(&self, layer: usize, channels: usize) -> Tensor {
        let mut drawn = self.drawn.borrow_mut();
        let all = drawn
            .entry((layer, channels))
            .or_insert_with(|| self.population.mask(layer, channels));
        let c = channels as i64;
        all.narrow(1, self.index * c, c)
    }
}

/// How a block runs in one forward pass: inference (running statistics, no dropout) or
/// training (batch statistics that update the running ones, and dropout).
#[derive(Clone, Copy)]
pub enum BlockMode<'a> {
    Eval,
    Train(&'a dyn DropoutMasks),
}

impl BlockMode<'_> {
    pub fn training(&self) -> bool {
        matches!(self, BlockMode::Train(_))
    }

    /// Applies dropout layer `layer` to `x` (`[B, P*C, H, W]`) in training mode.
    pub fn dropout(&self, x: &Tensor, layer: usize, channels: usize) -> Tensor {
        match self {
            BlockMode::Eval => x.shallow_clone(),
            BlockMode::Train(masks) => x * masks.mask(layer, channels),
        }
    }
}

/// The network's variables by stable name, each `[P, ...]`.
pub type Vars = BTreeMap<String, Tensor>;

/// A handle on the variable `name`. The network creates every variable of its architecture
/// before building blocks from them, so a missing name is a bug in this crate.
pub(crate) fn var(vars: &Vars, name: &str) -> Tensor {
    vars.get(name)
        .unwrap_or_else(|| panic!("variable '{name}' was not created from the architecture"))
        .shallow_clone()
}

/// A population convolution (valid, stride 1).
pub(crate) struct Conv {
    /// `[P, C_out, C_in, k, k]`.
    weight: Tensor,
    /// `[P, C_out]`.
    bias: Tensor,
    /// True when every neuron reads the same input (the image): one convolution with P*C_out
    /// filters instead of a grouped one.
    shared_input: bool,
}

impl Conv {
    pub fn new(vars: &Vars, path: &str, shared_input: bool) -> Self {
        Conv {
            weight: var(vars, &format!("{path}.weight")),
            bias: var(vars, &format!("{path}.bias")),
            shared_input,
        }
    }

    /// A per-neuron convolution of a population is one grouped convolution (`groups = P`); the
    /// CPU path runs every neuron alone (`Network::forward`), where P is 1.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let (w, b, groups) = self.grouped();
        x.conv2d(&w, Some(b), [1, 1], [0, 0], [1, 1], groups)
    }

    /// The convolution followed by 2x2 max-pooling, computed by pooling phase
    /// ([`conv_max_pool`]).
    pub fn forward_pooled(&self, x: &Tensor) -> Tensor {
        let (w, b, groups) = self.grouped();
        conv_max_pool(x, &w, &b, groups)
    }

    /// The weights `[P*C_out, C_in, k, k]`, biases `[P*C_out]` and groups of the convolution.
    fn grouped(&self) -> (Tensor, Tensor, i64) {
        let s = self.weight.size();
        let (p, c_out) = (s[0], s[1]);
        let w = self.weight.view([p * c_out, s[2], s[3], s[4]]);
        let b = self.bias.view([p * c_out]);
        (w, b, if self.shared_input { 1 } else { p })
    }
}

/// Per-neuron batch-norm over P*C channels.
pub(crate) struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
}

impl BatchNorm {
    pub fn new(vars: &Vars, path: &str) -> Self {
        BatchNorm {
            weight: var(vars, &format!("{path}.weight")),
            bias: var(vars, &format!("{path}.bias")),
            running_mean: var(vars, &format!("{path}.running_mean")),
            running_var: var(vars, &format!("{path}.running_var")),
        }
    }

    /// Normalises `x`; in training mode the running statistics (views of the stored buffers)
    /// are updated in place.
    pub fn forward(&self, x: &Tensor, training: bool) -> Tensor {
        x.batch_norm(
            Some(self.weight.view([-1])),
            Some(self.bias.view([-1])),
            Some(self.running_mean.view([-1])),
            Some(self.running_var.view([-1])),
            training,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )
    }
}

/// An alpha block (conv 5x5 -> max-pool 2 -> BN -> sigmoid -> dropout) or a beta block
/// (conv kxk -> BN -> sigmoid, optionally followed by the dropout between the beta blocks).
pub(crate) struct ConvBlock {
    conv: Conv,
    pool: bool,
    bn: BatchNorm,
    channels: usize,
    /// The dropout layer's index in the network (its masks' stream), if the block ends in one.
    dropout_layer: Option<usize>,
}

impl ConvBlock {
    pub fn alpha(
        vars: &Vars,
        block: &str,
        channels: usize,
        first: bool,
        dropout_layer: usize,
    ) -> Self {
        ConvBlock {
            conv: Conv::new(vars, &format!("{block}.conv"), first),
            pool: true,
            bn: BatchNorm::new(vars, &format!("{block}.bn")),
            channels,
            dropout_layer: Some(dropout_layer),
        }
    }

    pub fn beta(vars: &Vars, block: &str, channels: usize, dropout_layer: Option<usize>) -> Self {
        ConvBlock {
            conv: Conv::new(vars, &format!("{block}.conv"), false),
            pool: false,
            bn: BatchNorm::new(vars, &format!("{block}.bn")),
            channels,
            dropout_layer,
        }
    }

    pub fn forward(&self, x: &Tensor, mode: BlockMode) -> Tensor {
        // Pooling phase by phase pays where the convolution's output is large (the first
        // block's 46x46 maps); on the second block's 19x19 maps `max_pool2d` measured faster.
        let h = match (self.pool, self.conv.shared_input) {
            (true, true) => self.conv.forward_pooled(x),
            (true, false) => self
                .conv
                .forward(x)
                .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false),
            (false, _) => self.conv.forward(x),
        };
        let h = self.bn.forward(&h, mode.training()).sigmoid();
        match self.dropout_layer {
            Some(layer) => mode.dropout(&h, layer, self.channels),
            None => h,
        }
    }
}
