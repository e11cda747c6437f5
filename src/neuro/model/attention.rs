//! The self-attention layer and the SA block (models.md §2), for a population of neurons.
//!
//! Per neuron and image, with x of C channels on an N-position grid: q = Wq x and k = Wk x
//! (1x1, C -> 5, with bias); energy = q^T k (N x N, no 1/sqrt(d) scaling); A = softmax over the
//! key axis. With V mapping: out = Wo (v A^T) with v = Wv x (1x1, C -> 5) and Wo 1x1 5 -> C;
//! without: out = x A^T. Residual y = g * out + x, g a learned scalar starting at 0.
//! The population's P neurons x B images run as one batched matrix product over B*P.

use tch::Tensor;

use super::arch::ATTENTION_DIM;
use super::blocks::{BatchNorm, BlockMode, Conv, Vars, var};

/// The attention layer of P neurons.
pub(crate) struct Attention {
    q: Conv,
    k: Conv,
    /// Wv and Wo, present with V mapping.
    value: Option<(Conv, Conv)>,
    /// `[P, 1]`.
    gamma: Tensor,
}

impl Attention {
    pub fn new(vars: &Vars, path: &str, value_mapping: bool) -> Self {
        Attention {
            q: Conv::new(vars, &format!("{path}.q"), false),
            k: Conv::new(vars, &format!("{path}.k"), false),
            value: value_mapping.then(|| {
                (
                    Conv::new(vars, &format!("{path}.v"), false),
                    Conv::new(vars, &format!("{path}.o"), false),
                )
            }),
            gamma: var(vars, &format!("{path}.gamma")),
        }
    }

    /// Returns y (`[B, P*C, H, W]`, like `x`) and the attention maps A (`[B, P, N, N]`, rows
    /// are queries, columns keys; each row sums to 1).
    pub fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let s = x.size();
        let (b, pc, h, w) = (s[0], s[1], s[2], s[3]);
        let p = self.gamma.size()[0];
        let c = pc / p;
        let n = h * w;
        let d = ATTENTION_DIM as i64;
        let q = self.q.forward(x).view([b * p, d, n]);
        let k = self.k.forward(x).view([b * p, d, n]);
        let energy = q.transpose(1, 2).bmm(&k);
        let a = energy.softmax(-1, None);
        let out = match &self.value {
            Some((wv, wo)) => {
                let v = wv.forward(x).view([b * p, d, n]);
                let o = v.bmm(&a.transpose(1, 2)).view([b, p * d, h, w]);
                wo.forward(&o)
            }
            None => x
                .view([b * p, c, n])
                .bmm(&a.transpose(1, 2))
                .view([b, pc, h, w]),
        };
        let y = out.view([b, p, c * n]) * self.gamma.view([1, p, 1]) + x.view([b, p, c * n]);
        (y.view([b, pc, h, w]), a.view([b, p, n, n]))
    }
}

/// The SA block: attention -> batch-norm -> sigmoid -> channel dropout.
pub(crate) struct SaBlock {
    attention: Attention,
    bn: BatchNorm,
    channels: usize,
    dropout_layer: usize,
}

impl SaBlock {
    pub fn new(vars: &Vars, value_mapping: bool, channels: usize, dropout_layer: usize) -> Self {
        SaBlock {
            attention: Attention::new(vars, "sa.attn", value_mapping),
            bn: BatchNorm::new(vars, "sa.bn"),
            channels,
            dropout_layer,
        }
    }

    /// The block's output and the attention maps.
    pub fn forward(&self, x: &Tensor, mode: BlockMode) -> (Tensor, Tensor) {
        let (y, a) = self.attention.forward(x);
        let y = self.bn.forward(&y, mode.training()).sigmoid();
        (mode.dropout(&y, self.dropout_layer, self.channels), a)
    }
}
