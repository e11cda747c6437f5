//! Analyses of trained networks (models.md §7) used by the `decompose` stage.
//!
//! - **FCL decomposition**: for a model whose readout is one linear unit over a grid, the
//!   contribution of hypercolumn p to a prediction is sum_c w[c, p] * h[c, p]. Per neuron and
//!   image: the centre contribution (p = centre) and the surround contribution (all other p);
//!   per neuron: the average contribution map over images.
//! - **Attention highlighting**: the attention row of the centre hypercolumn (its weights over
//!   all N keys, as a grid map) per image, and its average over a neuron's top-k images (by
//!   recorded response; ties: lower image index first).
//!
//! The arithmetic is plain functions on arrays; running a checkpoint to get the hypercolumns and
//! attention maps needs the `torch` feature ([`analyse_checkpoint`]).

use crate::neuro::array::ArrayF32;

/// Contributions of one neuron's hypercolumns to its predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronDecomposition {
    /// Per image: the centre hypercolumn's contribution.
    pub centre: Vec<f64>,
    /// Per image: the sum of all other hypercolumns' contributions.
    pub surround: Vec<f64>,
    /// Per position (raster order): the contribution averaged over images.
    pub mean_map: Vec<f64>,
}

/// Decomposes one neuron's FCL output. `features`: `[n, C, N]` flat (the neuron's readout input
/// per image), `weights`: `[C, N]` flat (its FCL weights in PyTorch's flatten order).
pub fn fcl_contributions(
    features: &[f32],
    weights: &[f32],
    channels: usize,
    centre: usize,
) -> NeuronDecomposition {
    let per_image = weights.len();
    let positions = per_image / channels.max(1);
    let n = features.len() / per_image.max(1);
    let mut out = NeuronDecomposition {
        centre: Vec::with_capacity(n),
        surround: Vec::with_capacity(n),
        mean_map: vec![0.0; positions],
    };
    for i in 0..n {
        let h = &features[i * per_image..(i + 1) * per_image];
        let mut contribution = vec![0.0f64; positions];
        for c in 0..channels {
            for (p, slot) in contribution.iter_mut().enumerate() {
                *slot += f64::from(weights[c * positions + p]) * f64::from(h[c * positions + p]);
            }
        }
        let total: f64 = contribution.iter().sum();
        out.centre.push(contribution[centre]);
        out.surround.push(total - contribution[centre]);
        for (m, c) in out.mean_map.iter_mut().zip(&contribution) {
            *m += c / n as f64;
        }
    }
    out
}

/// Indices of the `k` largest values, largest first; ties go to the lower index.
pub fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// The average of `rows` (`[n, N]` flat, one row per image) over the images in `images`.
pub fn mean_rows(rows: &[f32], width: usize, images: &[usize]) -> Vec<f64> {
    let mut out = vec![0.0; width];
    for &i in images {
        for (o, &v) in out.iter_mut().zip(&rows[i * width..(i + 1) * width]) {
            *o += f64::from(v) / images.len() as f64;
        }
    }
    out
}

/// What [`analyse_checkpoint`] computes for a population.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationAnalysis {
    /// Side of the readout's feature grid and of the attention grid.
    pub feature_grid: usize,
    pub attention_grid: usize,
    /// FCL models: `[n, neurons]` centre and surround contributions and the `[neurons, G, G]`
    /// mean contribution maps.
    pub fcl: Option<(ArrayF32, ArrayF32, ArrayF32)>,
    /// SA models: the centre row of A per image `[n, neurons, G, G]` and its average over each
    /// neuron's top-k images `[neurons, G, G]`.
    pub attention: Option<(ArrayF32, ArrayF32)>,
}

#[cfg(feature = "torch")]
pub use with_torch::analyse_checkpoint;

#[cfg(feature = "torch")]
mod with_torch {
    use std::path::Path;

    use tch::{Device, Tensor};

    use super::*;
    use crate::neuro::model::Network;
    use crate::neuro::model::arch::ReadoutKind;
    use crate::neuro::model::checkpoint::Checkpoint;
    use crate::neuro::model::network::{images_tensor, to_array};
    use crate::neuro::train::TrainError;

    /// Runs a checkpoint on `images` (`[n, S, S]`) and decomposes its predictions; `responses`
    /// (`[n, neurons]`, recorded) pick each neuron's `top_k` images for attention highlighting.
    pub fn analyse_checkpoint(
        checkpoint: &Checkpoint,
        path: &Path,
        images: &ArrayF32,
        responses: &ArrayF32,
        top_k_images: usize,
        device: Device,
        batch: usize,
    ) -> Result<PopulationAnalysis, TrainError> {
        let arch = checkpoint.architecture(path)?;
        let neurons = checkpoint.meta.neurons;
        let n = images.shape[0];
        if responses.shape != [n, neurons] {
            return Err(TrainError::Invalid(format!(
                "analysis: responses must be [{n}, {neurons}], found {:?}",
                responses.shape
            )));
        }
        let (fg, ag, c) = (arch.feature_grid(), arch.grid(), arch.channels);
        // A split FCL is one linear unit over the grid too (see `Network::fcl_weights`).
        let is_fcl = matches!(arch.readout, ReadoutKind::Fcl | ReadoutKind::SplitFcl);
        let has_attention = arch.attention.is_some();
        let x = images_tensor(images, device);
        let mut centre = ArrayF32::zeros(vec![n, neurons]);
        let mut surround = ArrayF32::zeros(vec![n, neurons]);
        let mut maps = ArrayF32::zeros(vec![neurons, fg, fg]);
        let mut rows = ArrayF32::zeros(vec![n, neurons, ag, ag]);
        let mut highlights = ArrayF32::zeros(vec![neurons, ag, ag]);
        let attention_centre = (ag / 2) * ag + ag / 2;
        for id in 0..neurons {
            let net = Network::from_checkpoint(checkpoint, &[id], device, path)?;
            let (features, attention) = run(&net, &x, batch);
            if is_fcl {
                let w = net
                    .fcl_weights()
                    .map(|w| to_array(&w))
                    .unwrap_or_else(|| ArrayF32::zeros(vec![1, 0]));
                let d = fcl_contributions(&features.data, &w.data, c, arch.centre_index());
                for i in 0..n {
                    centre.data[i * neurons + id] = d.centre[i] as f32;
                    surround.data[i * neurons + id] = d.surround[i] as f32;
                }
                let m = fg * fg;
                for (dst, src) in maps.data[id * m..(id + 1) * m].iter_mut().zip(&d.mean_map) {
                    *dst = *src as f32;
                }
            }
            if let Some(a) = attention {
                let width = ag * ag;
                let centre_rows: Vec<f32> = (0..n)
                    .flat_map(|i| {
                        a.data[(i * width + attention_centre) * width..][..width].to_vec()
                    })
                    .collect();
                for i in 0..n {
                    rows.data[(i * neurons + id) * width..][..width]
                        .copy_from_slice(&centre_rows[i * width..][..width]);
                }
                let column: Vec<f32> = (0..n).map(|i| responses.data[i * neurons + id]).collect();
                let top = top_k(&column, top_k_images.min(n));
                for (dst, v) in highlights.data[id * width..][..width]
                    .iter_mut()
                    .zip(mean_rows(&centre_rows, width, &top))
                {
                    *dst = v as f32;
                }
            }
        }
        Ok(PopulationAnalysis {
            feature_grid: fg,
            attention_grid: ag,
            fcl: is_fcl.then_some((centre, surround, maps)),
            attention: has_attention.then_some((rows, highlights)),
        })
    }

    /// One neuron's readout input `[n, C, N]` and attention maps `[n, N, N]` (inference mode).
    fn run(net: &Network, images: &Tensor, batch: usize) -> (ArrayF32, Option<ArrayF32>) {
        let _guard = tch::no_grad_guard();
        let n = images.size()[0];
        let (mut feats, mut atts) = (Vec::new(), Vec::new());
        let mut start = 0;
        while start < n {
            let len = (batch.max(1) as i64).min(n - start);
            let out = net.forward(
                &images.narrow(0, start, len),
                crate::neuro::model::Pass::Eval,
            );
            let s = out.features.size();
            feats.push(out.features.view([s[0], s[2], s[3] * s[4]]));
            if let Some(a) = out.attention {
                let s = a.size();
                atts.push(a.view([s[0], s[2], s[3]]));
            }
            start += len;
        }
        let features = to_array(&Tensor::cat(&feats, 0));
        let attention = (!atts.is_empty()).then(|| to_array(&Tensor::cat(&atts, 0)));
        (features, attention)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributions_split_into_centre_and_surround() {
        // 2 channels, 3 positions, centre 1; two images.
        let w = [1.0, 2.0, 3.0, -1.0, 0.5, 0.0];
        let h = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 0.0, 2.0, 4.0];
        let d = fcl_contributions(&h, &w, 2, 1);
        // Image 0: positions 1-1=0, 2+0.5=2.5, 3+0=3.
        assert_eq!(d.centre, vec![2.5, 5.0]);
        assert_eq!(d.surround, vec![3.0, 0.0]);
        assert_eq!(d.mean_map, vec![0.0, 3.75, 1.5]);
        let total: f64 = w.iter().zip(&h[..6]).map(|(a, b)| f64::from(a * b)).sum();
        assert!((d.centre[0] + d.surround[0] - total).abs() < 1e-12);
    }

    #[test]
    fn top_k_breaks_ties_by_index_and_means_rows() {
        assert_eq!(top_k(&[1.0, 3.0, 3.0, 2.0], 3), vec![1, 2, 3]);
        let rows = [1.0, 0.0, 0.0, 1.0, 0.5, 0.5];
        assert_eq!(mean_rows(&rows, 2, &[0, 1]), vec![0.5, 0.5]);
    }
}

#[cfg(all(test, feature = "torch"))]
mod torch_tests {

    use std::path::Path;

    use tch::Device;

    use super::*;
    use crate::neuro::model::ModelId;
    use crate::neuro::model::checkpoint::Checkpoint;
    use crate::neuro::train::Strategy;
    use crate::neuro::train::fixtures::{checkpoint, run, settings, synthetic};
    use crate::neuro::train::trainer::predict_checkpoint;

    fn trained(model: ModelId) -> (Checkpoint, crate::neuro::data::dataset::PreparedDataset) {
        let ds = synthetic(20, 6, 7, 2, 26, 4);
        let mut settings = settings(model, 1, Strategy::Population);
        settings.params.seed = 3;
        let t = run(&settings, &ds, None);
        (checkpoint(model, &ds, &t), ds)
    }

    /// The readout's bias per neuron; for a split FCL, its equivalent single-unit bias.
    fn readout_bias(ckpt: &Checkpoint) -> Vec<f32> {
        let t = |name: &str| &ckpt.tensors[name].data;
        if !ckpt.tensors.contains_key("readout.combine.weight") {
            return t("readout.bias").clone();
        }
        let (w, b) = (t("readout.combine.weight"), t("readout.combine.bias"));
        let (bc, bs) = (t("readout.centre.bias"), t("readout.surround.bias"));
        (0..b.len())
            .map(|j| w[2 * j] * bc[j] + w[2 * j + 1] * bs[j] + b[j])
            .collect()
    }

    #[test]
    fn centre_plus_surround_plus_bias_is_the_prediction() {
        for model in [ModelId::FfSaCnnStar, ModelId::FfSaCnnStarFc1] {
            centre_plus_surround_plus_bias(model);
        }
    }

    fn centre_plus_surround_plus_bias(model: ModelId) {
        let (ckpt, ds) = trained(model);
        let path = Path::new("c.safetensors");
        let a = analyse_checkpoint(
            &ckpt,
            path,
            &ds.test_images,
            &ds.test_responses,
            3,
            Device::Cpu,
            4,
        )
        .unwrap();
        let pred = predict_checkpoint(&ckpt, path, &ds.test_images, Device::Cpu, 2, 50).unwrap();
        let (centre, surround, maps) = a.fcl.unwrap();
        assert_eq!(maps.shape, vec![2, 3, 3]);
        let bias = readout_bias(&ckpt);
        for i in 0..7 {
            for (j, b) in bias.iter().enumerate() {
                let sum = centre.data[i * 2 + j] + surround.data[i * 2 + j] + b;
                let p = pred.data[i * 2 + j];
                assert!(
                    (sum - p).abs() < 1e-5,
                    "{model:?} image {i} neuron {j}: {sum} vs {p}"
                );
            }
        }
        let (rows, highlights) = a.attention.unwrap();
        assert_eq!(
            (rows.shape.clone(), highlights.shape.clone()),
            (vec![7, 2, 3, 3], vec![2, 3, 3])
        );
        for r in rows.data.chunks(9).chain(highlights.data.chunks(9)) {
            assert!(
                (r.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                "attention rows are distributions"
            );
        }
        // The highlight of neuron 1 is the mean of its rows over its 3 most responsive images.
        let column: Vec<f32> = (0..7).map(|i| ds.test_responses.data[i * 2 + 1]).collect();
        let top = top_k(&column, 3);
        for p in 0..9 {
            let mean = top
                .iter()
                .map(|&i| rows.data[(i * 2 + 1) * 9 + p])
                .sum::<f32>()
                / 3.0;
            assert!((mean - highlights.data[9 + p]).abs() < 1e-6);
        }
    }

    #[test]
    fn models_without_fcl_or_attention_report_none() {
        let (ckpt, ds) = trained(ModelId::RfSaCnn);
        let a = analyse_checkpoint(
            &ckpt,
            Path::new("c"),
            &ds.test_images,
            &ds.test_responses,
            2,
            Device::Cpu,
            50,
        )
        .unwrap();
        assert!(a.fcl.is_none() && a.attention.is_some());
        let bad = analyse_checkpoint(
            &ckpt,
            Path::new("c"),
            &ds.test_images,
            &ds.val_responses,
            2,
            Device::Cpu,
            50,
        );
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("responses must be [7, 2]")
        );
    }
}
