//! One training step of a group of neurons: forward in training mode, each neuron's MSE over
//! its recorded entries ([`masked_mse`]), backward, Adam.
//!
//! On CUDA the group is one computation: one graph over the population's variables, the
//! per-neuron losses summed (no gradient couples two neurons), one Adam. On CPU each neuron
//! steps on its own copy of its variables with an Adam of its own, the neurons side by side,
//! one per core, each with one intra-op thread (`runtime::threads`): the same arithmetic a
//! neuron has alone, whatever its group, its thread or the machine's core count.
//! [`Stepper::take_back`] returns the values to the population's variables, which evaluation,
//! snapshots and export read.

use tch::Tensor;

use super::dropout::StepDropout;
use super::mask::masked_mse;
use super::optimiser::Adam;
use crate::neuro::model::forward::NeuronNet;
use crate::neuro::model::{Network, Pass};
use crate::neuro::runtime::threads::each_neuron;

/// The optimiser state of a group, and where its neurons' variables live while it trains.
pub enum Stepper {
    /// One Adam over the population's variables (CUDA).
    Population(Adam),
    /// Each neuron's network and Adam apart (CPU).
    Neurons(Vec<(NeuronNet, Adam)>),
}

impl Stepper {
    /// A stepper for `net` (its trainable variables as they are now) at learning rate `lr`.
    pub fn new(net: &Network, lr: f64, device: tch::Device) -> Self {
        if device.is_cuda() {
            let params = net.trainable().into_iter().map(|(_, t)| t).collect();
            return Stepper::Population(Adam::new(params, lr));
        }
        Stepper::Neurons(
            net.neurons_apart()
                .into_iter()
                .map(|n| {
                    let adam = Adam::new(n.trainable(), lr);
                    (n, adam)
                })
                .collect(),
        )
    }

    /// One step on a batch (`responses` `[B, P]`, with `recorded` `[B, P]` when some are
    /// missing) of the neurons still training (`open`). Returns the per-neuron losses `[P]`
    /// (detached; 0 for a stopped neuron on CPU, where it no longer steps; on CUDA the group
    /// steps as one computation and a stopped neuron's selection alone is closed).
    pub fn step(
        &mut self,
        net: &Network,
        images: &Tensor,
        responses: &Tensor,
        recorded: Option<&Tensor>,
        masks: &StepDropout,
        open: &[bool],
    ) -> Tensor {
        match self {
            Stepper::Population(adam) => {
                let out = net.forward(images, Pass::Train(masks));
                let losses = losses(&out.prediction, responses, recorded);
                adam.zero_grad();
                losses.sum(losses.kind()).backward();
                adam.step();
                losses.detach()
            }
            Stepper::Neurons(neurons) => {
                let work: Vec<_> = neurons
                    .iter_mut()
                    .enumerate()
                    .filter(|(i, _)| open[*i])
                    .map(|(i, n)| {
                        let column = |t: &Tensor| t.narrow(1, i as i64, 1);
                        let inputs = (
                            images.shallow_clone(),
                            column(responses),
                            recorded.map(column),
                        );
                        (n, inputs, i)
                    })
                    .collect();
                let per_neuron = each_neuron(work, |((net, adam), (x, y, m), i)| {
                    let own = StepDropout {
                        neuron_ids: std::slice::from_ref(&masks.neuron_ids[i]),
                        ..*masks
                    };
                    let out = net.forward(&x, Pass::Train(&own));
                    let loss = losses(&out.prediction, &y, m.as_ref());
                    adam.zero_grad();
                    loss.sum(loss.kind()).backward();
                    adam.step();
                    (i, loss.detach())
                });
                let zero = || Tensor::zeros([1], (responses.kind(), responses.device()));
                let mut losses: Vec<Tensor> = (0..open.len()).map(|_| zero()).collect();
                for (i, loss) in per_neuron {
                    losses[i] = loss;
                }
                Tensor::cat(&losses, 0)
            }
        }
    }

    /// Writes the neurons' current variables into the population's (CPU; on CUDA they are
    /// the population's already).
    pub fn take_back(&self, net: &mut Network) {
        if let Stepper::Neurons(neurons) = self {
            let nets: Vec<&NeuronNet> = neurons.iter().map(|(n, _)| n).collect();
            net.take_back(&nets);
        }
    }
}

/// Per-neuron MSE `[P]` of `prediction` `[B, P]` against `responses` `[B, P]`, over the
/// recorded entries when `recorded` is given. Computed neuron-outer on contiguous `[P, B]`
/// tensors, so each neuron's batch reduction runs along its own contiguous row, as it does
/// alone.
fn losses(prediction: &Tensor, responses: &Tensor, recorded: Option<&Tensor>) -> Tensor {
    let prediction = prediction.transpose(0, 1).contiguous();
    let kind = prediction.kind();
    let targets = responses.transpose(0, 1).contiguous();
    match recorded {
        None => (prediction - targets).square().mean_dim(1, false, kind),
        Some(m) => masked_mse(&prediction, &targets, &m.transpose(0, 1).contiguous()),
    }
}
