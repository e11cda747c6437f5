//! The output level refit (`refit_bias: train`, issue 29): once training ends, each neuron's
//! readout bias is shifted so that its mean inference-mode prediction over the training images
//! equals its mean recorded training response.
//!
//! Why: a full-field readout (9x9xC inputs, each a sigmoid in (0, 1)) gets Adam steps of about
//! `lr` on every weight, all of one sign while the residual has one, so one step moves the
//! prediction's level by about `lr` x the sum of the inputs (3e-3 x ~1,200 ≈ 3.6 on responses
//! of s.d. 0.3). The level swings from step to step, and the best epoch (chosen on validation
//! CORR, blind to the level) keeps whatever level its last step left: measured on the main job,
//! ff+sa-CNN* (Incr. FC2) predicted validation responses offset by up to 1.7 s.d., test FEVE
//! -2.6 at CORR 0.48. The shift changes no CORR and no selection; it is one inference pass
//! over the training images, per neuron in image order (the same whatever the grouping).

use crate::neuro::array::ArrayF32;
use crate::neuro::stats::{mean_var, widen};

/// Per group neuron `j`, the mean over images with a recorded response (not NaN) of
/// `responses[i, cols[j]] - predictions[i, j]`: what its output bias must gain.
pub fn level_shift(predictions: &ArrayF32, responses: &ArrayF32, cols: &[usize]) -> Vec<f32> {
    cols.iter()
        .enumerate()
        .map(|(j, &col)| {
            let residuals: Vec<f32> = predictions
                .column(j)
                .into_iter()
                .zip(responses.column(col))
                .filter(|(_, r)| !r.is_nan())
                .map(|(p, r)| r - p)
                .collect();
            if residuals.is_empty() {
                0.0
            } else {
                mean_var(&widen(&residuals)).0 as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shift_closes_each_neurons_mean_residual_over_recorded_images() {
        // 3 images; the group holds population neurons 1 and 0, in that order.
        let responses = ArrayF32::new(vec![3, 2], vec![1.0, 10.0, 2.0, f32::NAN, 3.0, 20.0]);
        let predictions = ArrayF32::new(vec![3, 2], vec![0.0, 1.0, 5.0, 1.0, 0.0, 1.0]);
        let shift = level_shift(&predictions, &responses, &[1, 0]);
        // Neuron 1: images 0 and 2 recorded: ((10 - 0) + (20 - 0)) / 2; neuron 0: (0 + 1 + 2) / 3.
        assert_eq!(shift, vec![15.0, 1.0]);
        let all_missing = ArrayF32::new(vec![1, 1], vec![f32::NAN]);
        assert_eq!(level_shift(&all_missing, &all_missing, &[0]), vec![0.0]);
    }
}
