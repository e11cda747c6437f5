//! One trained model decomposed on a prepared dataset's split (models.md §7): the library call
//! behind the `decompose` stage. [`decompose_checkpoint`] runs the checkpoint
//! ([`super::fcl::analyse_checkpoint`]) and summarises the result ([`super::summary`]); the
//! returned [`ModelDecomposition`] holds the arrays to write and the entries of the
//! decomposition files ([`super::files`]).

use super::fcl::PopulationAnalysis;
use super::files::{AttentionSummary, ModelNeurons, ModelSummary, SplitName};
use super::summary::{
    NeuronSummary, PopulationSummary, deviation_from_uniform, mean_over_neurons, summarise_neurons,
    summarise_population, uniform_weight,
};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::data::truth::Truth;

/// The images of one split of a prepared dataset, with their recorded responses and, on the
/// test split of simulated data, the ground truth.
#[derive(Debug, Clone, Copy)]
pub struct SplitData<'a> {
    pub images: &'a ArrayF32,
    pub responses: &'a ArrayF32,
    pub truth: Option<&'a Truth>,
}

impl<'a> SplitData<'a> {
    pub fn of(data: &'a PreparedDataset, split: SplitName) -> Self {
        match split {
            SplitName::Test => SplitData {
                images: &data.test_images,
                responses: &data.test_responses,
                truth: data.truth.as_ref(),
            },
            SplitName::Val => SplitData {
                images: &data.val_images,
                responses: &data.val_responses,
                truth: None,
            },
        }
    }
}

/// An FCL readout's decomposition.
#[derive(Debug, Clone, PartialEq)]
pub struct FclDecomposition {
    /// `[n, neurons]` centre and surround contributions.
    pub centre: ArrayF32,
    pub surround: ArrayF32,
    /// `[neurons, G, G]` mean signed contribution per position, and its mean over neurons.
    pub maps: ArrayF32,
    pub mean_map: Vec<f64>,
    pub neurons: Vec<NeuronSummary>,
    pub population: PopulationSummary,
}

impl FclDecomposition {
    /// Per neuron: (centre strength, surround strength).
    pub fn strengths(&self) -> Vec<(f64, f64)> {
        self.neurons
            .iter()
            .map(|n| (n.centre_strength, n.surround_strength))
            .collect()
    }
}

/// Self-attention's highlighting.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionDecomposition {
    /// `[neurons, G, G]` the centre row over each neuron's top-k images, and its neuron mean.
    pub highlights: ArrayF32,
    pub mean: Vec<f64>,
    /// Per neuron: the centre hypercolumn's weight on itself; and its mean over neurons.
    pub self_weights: Vec<f64>,
    pub centre_self_weight: Option<f64>,
}

/// One model's decomposition: what the `decompose` stage writes for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDecomposition {
    /// The checkpoint's label (its model id when it has none) and model id.
    pub label: String,
    pub model: String,
    /// Side of the readout's feature grid and of the attention grid.
    pub feature_grid: usize,
    pub attention_grid: usize,
    pub fcl: Option<FclDecomposition>,
    pub attention: Option<AttentionDecomposition>,
}

impl ModelDecomposition {
    /// Summarises an analysis against the split's ground truth, if any.
    pub fn new(
        label: String,
        model: String,
        analysis: PopulationAnalysis,
        truth: Option<&Truth>,
    ) -> Self {
        let PopulationAnalysis {
            feature_grid,
            attention_grid,
            fcl,
            attention,
        } = analysis;
        let fcl = fcl.map(|(centre, surround, maps)| {
            let neurons = summarise_neurons(&centre, &surround, truth);
            FclDecomposition {
                mean_map: mean_over_neurons(&maps),
                population: summarise_population(&neurons),
                neurons,
                centre,
                surround,
                maps,
            }
        });
        let attention = attention.map(|(_, highlights)| {
            let mean = mean_over_neurons(&highlights);
            let centre = (attention_grid / 2) * attention_grid + attention_grid / 2;
            let width = attention_grid * attention_grid;
            let self_weights = highlights
                .data
                .chunks(width.max(1))
                .map(|row| f64::from(row[centre]))
                .collect();
            AttentionDecomposition {
                centre_self_weight: mean.get(centre).copied(),
                self_weights,
                mean,
                highlights,
            }
        });
        ModelDecomposition {
            label,
            model,
            feature_grid,
            attention_grid,
            fcl,
            attention,
        }
    }

    /// Whether there was anything to decompose (an FCL readout or self-attention).
    pub fn is_empty(&self) -> bool {
        self.fcl.is_none() && self.attention.is_none()
    }

    /// Its entry in `summary.json`.
    pub fn summary(&self) -> ModelSummary {
        ModelSummary {
            attention: self.attention.as_ref().map(|a| AttentionSummary {
                centre_self_weight: a.centre_self_weight,
                largest_deviation_from_uniform: deviation_from_uniform(&a.mean),
                uniform: Some(uniform_weight(a.mean.len())),
            }),
            fcl: self.fcl.as_ref().map(|f| f.population.clone()),
            label: self.label.clone(),
            model: self.model.clone(),
        }
    }

    /// Its entry in `per_neuron.json`.
    pub fn neurons(&self) -> ModelNeurons {
        ModelNeurons {
            attention_centre_self_weight: self.attention.as_ref().map(|a| a.self_weights.clone()),
            fcl: self.fcl.as_ref().map(|f| f.neurons.clone()),
            label: self.label.clone(),
        }
    }
}

/// Why a checkpoint could not be decomposed.
#[derive(Debug, thiserror::Error)]
pub enum DecomposeError {
    #[error(
        "{path}: {model_neurons} neurons on {model_size}-pixel images, but the prepared dataset \
         has {data_neurons} neurons on {data_size}-pixel images (bind the dataset the model was \
         trained on)"
    )]
    Mismatch {
        path: std::path::PathBuf,
        model_neurons: usize,
        model_size: usize,
        data_neurons: usize,
        data_size: usize,
    },
    #[error(transparent)]
    Analysis(#[from] crate::neuro::train::TrainError),
}

#[cfg(feature = "torch")]
pub use with_torch::decompose_checkpoint;

#[cfg(feature = "torch")]
mod with_torch {
    use std::path::Path;

    use super::*;
    use crate::neuro::analysis::fcl::analyse_checkpoint;
    use crate::neuro::model::checkpoint::Checkpoint;

    /// Runs `checkpoint` (read from `path`) on `data`'s `split` and decomposes it; `top_k`
    /// images per neuron for attention, `batch` images per forward pass.
    pub fn decompose_checkpoint(
        checkpoint: &Checkpoint,
        path: &Path,
        data: &PreparedDataset,
        split: SplitName,
        top_k: usize,
        device: tch::Device,
        batch: usize,
    ) -> Result<ModelDecomposition, DecomposeError> {
        let meta = &checkpoint.meta;
        if meta.neurons != data.meta.neurons || meta.input_size != data.meta.size {
            return Err(DecomposeError::Mismatch {
                path: path.to_owned(),
                model_neurons: meta.neurons,
                model_size: meta.input_size,
                data_neurons: data.meta.neurons,
                data_size: data.meta.size,
            });
        }
        let split = SplitData::of(data, split);
        let analysis = analyse_checkpoint(
            checkpoint,
            path,
            split.images,
            split.responses,
            top_k,
            device,
            batch,
        )?;
        let label = meta
            .extra
            .get("label")
            .cloned()
            .unwrap_or_else(|| meta.model.clone());
        Ok(ModelDecomposition::new(
            label,
            meta.model.clone(),
            analysis,
            split.truth,
        ))
    }
}
