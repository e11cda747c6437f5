//! Channel-dropout masks drawn per neuron from counter-based streams keyed by (stage seed,
//! neuron, epoch, step, layer): a neuron's masks do not depend on which other neurons are
//! trained with it, so population training and one-neuron-at-a-time training agree.

use rayon::prelude::*;

use crate::neuro::model::arch::DROPOUT_P;
use crate::neuro::random::counter::{Purpose, Stream};

/// The mask values of one dropout layer for one step, laid out `[batch, neurons, channels]`
/// (i.e. `[B, P*C]`): 0 for a dropped channel, 1/(1-p) for a kept one.
pub fn mask_values(
    seed: u64,
    neuron_ids: &[usize],
    epoch: usize,
    step: usize,
    layer: usize,
    batch: usize,
    channels: usize,
) -> Vec<f32> {
    let keep = (1.0 / (1.0 - DROPOUT_P)) as f32;
    let streams: Vec<Stream> = neuron_ids
        .iter()
        .map(|&id| {
            Stream::new(seed, Purpose::Dropout)
                .child(id as u64)
                .child(epoch as u64)
                .child(step as u64)
                .child(layer as u64)
        })
        .collect();
    let mut out = vec![0f32; batch * neuron_ids.len() * channels];
    // One image's masks (all neurons) per task; each value depends only on its own key.
    out.par_chunks_mut((neuron_ids.len() * channels).max(1))
        .enumerate()
        .for_each(|(b, image)| {
            for (j, s) in streams.iter().enumerate() {
                for c in 0..channels {
                    let u = s.f32_at((b * channels + c) as u64);
                    image[j * channels + c] = if f64::from(u) < DROPOUT_P { 0.0 } else { keep };
                }
            }
        });
    out
}

/// The masks of one training step, as the model asks for them.
#[cfg(feature = "torch")]
pub struct StepDropout<'a> {
    pub seed: u64,
    pub neuron_ids: &'a [usize],
    pub epoch: usize,
    pub step: usize,
    pub batch: usize,
    pub device: tch::Device,
}

#[cfg(feature = "torch")]
impl crate::neuro::model::blocks::DropoutMasks for StepDropout<'_> {
    fn mask(&self, layer: usize, channels: usize) -> tch::Tensor {
        let values = mask_values(
            self.seed,
            self.neuron_ids,
            self.epoch,
            self.step,
            layer,
            self.batch,
            channels,
        );
        let shape = [self.batch, self.neuron_ids.len() * channels, 1, 1];
        crate::neuro::model::network::tensor_from(&shape, &values, self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_neurons_mask_is_the_same_alone_and_in_a_population() {
        let (b, c) = (7, 5);
        let together = mask_values(9, &[0, 1, 2, 3], 2, 4, 1, b, c);
        for j in 0..4 {
            let alone = mask_values(9, &[j], 2, 4, 1, b, c);
            for bi in 0..b {
                assert_eq!(
                    alone[bi * c..(bi + 1) * c],
                    together[(bi * 4 + j) * c..(bi * 4 + j + 1) * c]
                );
            }
        }
        assert_ne!(
            mask_values(9, &[0], 2, 4, 1, b, c),
            mask_values(9, &[0], 2, 5, 1, b, c)
        );
        assert_ne!(
            mask_values(9, &[0], 2, 4, 1, b, c),
            mask_values(9, &[0], 2, 4, 2, b, c)
        );
    }

    #[test]
    fn masks_drop_about_p_and_rescale_the_rest() {
        let m = mask_values(1, &[0, 1], 1, 0, 0, 100, 30);
        let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
        assert!((dropped - DROPOUT_P).abs() < 0.03, "dropped {dropped}");
        assert!(m.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    }
}
