//! The readouts (models.md §2) for a population: every neuron has its own linear unit, applied
//! as an elementwise product and a sum over the neuron's features (no cross-neuron terms).
//!
//! Feature order follows PyTorch's `flatten` of one neuron's `[C, H, W]` map: FCL weights are
//! `[1, C*H*W]`. The split FCL's surround term reads `[C, N-1]` (every position but the centre,
//! in raster order, for each channel) flattened channel-major: `[1, C*(N-1)]`.

use tch::Tensor;

use super::arch::{Architecture, ReadoutKind};
use super::blocks::{Vars, var};

/// One linear unit per neuron.
pub(crate) struct Linear {
    /// `[P, 1, F]`.
    weight: Tensor,
    /// `[P, 1]`.
    bias: Tensor,
}

impl Linear {
    fn new(vars: &Vars, path: &str) -> Self {
        Linear {
            weight: var(vars, &format!("{path}.weight")),
            bias: var(vars, &format!("{path}.bias")),
        }
    }

    /// `x`: `[P, B, F]` -> `[P, B]`. Neuron-outer, so every reduction (the dot products here,
    /// and over the batch in the backward pass) runs along one neuron's contiguous rows.
    fn forward(&self, x: &Tensor) -> Tensor {
        (x * &self.weight).sum_dim_intlist(-1, false, x.kind()) + &self.bias
    }

    /// The weights as `[P, F]`.
    pub fn weights(&self) -> Tensor {
        let s = self.weight.size();
        self.weight.view([s[0], s[2]])
    }
}

/// A population readout.
pub(crate) enum Readout {
    Fcl(Linear),
    Ctl {
        unit: Linear,
        centre: i64,
    },
    Split {
        centre_unit: Linear,
        surround: Linear,
        combine: Linear,
        centre: i64,
    },
}

impl Readout {
    pub fn new(vars: &Vars, arch: &Architecture) -> Self {
        let centre = arch.centre_index() as i64;
        match arch.readout {
            ReadoutKind::Fcl => Readout::Fcl(Linear::new(vars, "readout")),
            ReadoutKind::Ctl => Readout::Ctl {
                unit: Linear::new(vars, "readout"),
                centre,
            },
            ReadoutKind::SplitFcl => Readout::Split {
                centre_unit: Linear::new(vars, "readout.centre"),
                surround: Linear::new(vars, "readout.surround"),
                combine: Linear::new(vars, "readout.combine"),
                centre,
            },
        }
    }

    /// `features`: `[B, P, C, N]` (N grid positions) -> predictions `[P, B]`.
    pub fn forward(&self, features: &Tensor) -> Tensor {
        let s = features.size();
        let (b, p, c, n) = (s[0], s[1], s[2], s[3]);
        // Neuron-outer and contiguous: [P, B, C, N].
        let x = features.permute([1, 0, 2, 3]).contiguous();
        match self {
            Readout::Fcl(unit) => unit.forward(&x.view([p, b, c * n])),
            Readout::Ctl { unit, centre } => unit.forward(&x.select(3, *centre).contiguous()),
            Readout::Split {
                centre_unit,
                surround,
                combine,
                centre,
            } => {
                let centre_term = centre_unit.forward(&x.select(3, *centre).contiguous());
                let surround_term =
                    surround.forward(&surround_features(&x, *centre).view([p, b, c * (n - 1)]));
                combine.forward(&Tensor::stack(&[centre_term, surround_term], -1))
            }
        }
    }

    /// The readout as one linear unit over all `[C, N]` features, `[P, C*N]`: a plain FCL's
    /// weights, or the split FCL's equivalent weights (the combine weight of each term times
    /// that term's unit weights, the centre unit's at the centre position). `None` for a CTL.
    pub fn fcl_weights(&self) -> Option<Tensor> {
        match self {
            Readout::Fcl(unit) => Some(unit.weights()),
            Readout::Ctl { .. } => None,
            Readout::Split {
                centre_unit,
                surround,
                combine,
                centre,
            } => {
                let combine = combine.weights();
                let wc = centre_unit.weights() * combine.narrow(1, 0, 1);
                let (p, c) = (wc.size()[0], wc.size()[1]);
                let ws = surround.weights().view([p, c, -1]) * combine.narrow(1, 1, 1).unsqueeze(2);
                let others = ws.size()[2];
                let full = Tensor::cat(
                    &[
                        ws.narrow(2, 0, *centre),
                        wc.unsqueeze(2),
                        ws.narrow(2, *centre, others - *centre),
                    ],
                    2,
                );
                Some(full.contiguous().view([p, -1]))
            }
        }
    }
}

/// `[P, B, C, N]` -> `[P, B, C, N-1]` (contiguous): every position except `centre`.
fn surround_features(features: &Tensor, centre: i64) -> Tensor {
    let n = features.size()[3];
    let before = features.narrow(3, 0, centre);
    let after = features.narrow(3, centre + 1, n - centre - 1);
    Tensor::cat(&[before, after], 3)
}
