//! Missing responses in training (data.md: NaN = a neuron not recorded for an image). Which
//! entries were recorded is a mask ([`Observed`]); before any tensor is made, unrecorded
//! training entries are set to 0 (so no NaN reaches autograd: NaN * 0 is NaN) and unrecorded
//! validation entries to NaN (which the validation scores skip). The training loss of a neuron
//! is then the mean of its squared errors over the recorded entries of the batch
//! ([`masked_mse`]); a batch without any recorded entry for a neuron gives it zero loss and
//! zero gradient. What an unrecorded entry held influences nothing.
//!
//! Data without missing entries has no mask at all, and trains through the unmasked loss, so
//! its results are what they were before masks existed.

use tch::{Device, Tensor};

use super::TrainError;
use crate::neuro::array::ArrayF32;
use crate::neuro::model::network::tensor_from;

/// Which entries (`[n, neurons]`, row-major) of the training and validation responses were
/// recorded; `None`: all of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub train: Option<Vec<bool>>,
    pub val: Option<Vec<bool>>,
}

impl Observed {
    /// The recorded entries are the ones that are not NaN.
    pub fn from_nan(train: &ArrayF32, val: &ArrayF32) -> Self {
        Observed {
            train: recorded(train),
            val: recorded(val),
        }
    }
}

/// Which entries are not NaN; `None` when none is.
pub fn recorded(responses: &ArrayF32) -> Option<Vec<bool>> {
    responses
        .data
        .iter()
        .any(|v| v.is_nan())
        .then(|| responses.data.iter().map(|v| !v.is_nan()).collect())
}

/// Checks a mask against its responses (`what` names the split): one flag per entry, and no
/// recorded entry NaN. (Infinite responses are left to the loss, which then fails naming the
/// epoch and the neuron.)
pub fn check(responses: &ArrayF32, mask: Option<&[bool]>, what: &str) -> Result<(), TrainError> {
    let Some(m) = mask else {
        return Ok(());
    };
    if m.len() != responses.data.len() {
        return Err(TrainError::Invalid(format!(
            "{what} responses: the mask has {} entries, the responses {}",
            m.len(),
            responses.data.len()
        )));
    }
    let neurons = responses.shape.get(1).copied().unwrap_or(1).max(1);
    match (0..m.len()).find(|&i| m[i] && responses.data[i].is_nan()) {
        Some(i) => Err(TrainError::Invalid(format!(
            "{what} responses: NaN at image {}, neuron {} is marked as recorded",
            i / neurons,
            i % neurons
        ))),
        None => Ok(()),
    }
}

/// `responses` with every unrecorded entry replaced by `fill`.
pub fn fill_unrecorded(responses: &ArrayF32, mask: &[bool], fill: f32) -> ArrayF32 {
    let data = responses
        .data
        .iter()
        .zip(mask)
        .map(|(&v, &seen)| if seen { v } else { fill })
        .collect();
    ArrayF32::new(responses.shape.clone(), data)
}

/// Recorded entries per neuron (column) of a `[n, neurons]` mask.
pub fn recorded_per_neuron(mask: &[bool], neurons: usize) -> Vec<usize> {
    let mut counts = vec![0; neurons];
    for (i, &seen) in mask.iter().enumerate() {
        counts[i % neurons.max(1)] += usize::from(seen);
    }
    counts
}

/// Per-neuron mean squared error over the recorded entries: `prediction`, `targets` (0 where
/// unrecorded) and `mask` (1 recorded, 0 not) are contiguous `[P, B]`, each neuron's row
/// reduced on its own. Returns the losses `[P]`; a row without a recorded entry has loss 0
/// (0 / 1) and, since its squared errors are multiplied by 0, zero gradient. A fully recorded
/// row computes what the unmasked mean computes (a sum, then a division by B).
pub fn masked_mse(prediction: &Tensor, targets: &Tensor, mask: &Tensor) -> Tensor {
    let kind = prediction.kind();
    let squared = (prediction - targets).square() * mask;
    let counts = mask.sum_dim_intlist(1, false, kind);
    squared.sum_dim_intlist(1, false, kind) / counts.clamp_min(1.0)
}

/// The mask as a float tensor of `shape` (1 recorded, 0 not).
pub fn mask_tensor(mask: &[bool], shape: &[usize], device: Device) -> Tensor {
    let values: Vec<f32> = mask.iter().map(|&b| f32::from(u8::from(b))).collect();
    tensor_from(shape, &values, device)
}

#[cfg(test)]
mod tests {
    use tch::Kind;

    use super::*;
    use crate::neuro::model::network::to_array;

    #[test]
    fn the_masked_mean_skips_unrecorded_entries_and_an_empty_row_is_zero() {
        let p = tensor_from(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], Device::Cpu)
            .set_requires_grad(true);
        let t = tensor_from(&[2, 3], &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0], Device::Cpu);
        let m = tensor_from(&[2, 3], &[1.0, 0.0, 1.0, 0.0, 0.0, 0.0], Device::Cpu);
        let loss = masked_mse(&p, &t, &m);
        assert_eq!(to_array(&loss).data, vec![(1.0 + 4.0) / 2.0, 0.0]);
        loss.sum(Kind::Float).backward();
        assert_eq!(to_array(&p.grad()).data, vec![1.0, 0.0, 2.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_fully_recorded_row_matches_the_unmasked_mean_bit_for_bit() {
        let values: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin()).collect();
        let p = tensor_from(&[2, 20], &values, Device::Cpu);
        let t = p.cos();
        let ones = Tensor::ones([2, 20], (Kind::Float, Device::Cpu));
        let plain = (&p - &t).square().mean_dim(1, false, Kind::Float);
        assert_eq!(
            to_array(&masked_mse(&p, &t, &ones)).data,
            to_array(&plain).data
        );
    }

    #[test]
    fn masks_come_from_nan_and_fill_and_count() {
        let a = ArrayF32::new(vec![2, 2], vec![1.0, f32::NAN, 3.0, 4.0]);
        let m = recorded(&a).unwrap();
        assert_eq!(m, vec![true, false, true, true]);
        assert!(recorded(&ArrayF32::zeros(vec![2, 2])).is_none());
        assert_eq!(fill_unrecorded(&a, &m, 0.0).data, vec![1.0, 0.0, 3.0, 4.0]);
        assert_eq!(recorded_per_neuron(&m, 2), vec![2, 1]);
        assert!(check(&a, Some(&m), "training").is_ok());
        let e = check(&a, Some(&[true; 4]), "training")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("training responses: NaN at image 0, neuron 1 is marked as recorded"),
            "{e}"
        );
    }
}
