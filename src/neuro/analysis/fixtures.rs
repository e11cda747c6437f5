//! Test fixtures: a decomposition directory's files with chosen numbers (for the readers and
//! the report).

use std::collections::BTreeMap;

use super::files::{
    AttentionSummary, DecompositionSummary, ModelNeurons, ModelSummary, PerNeuronFile, SplitName,
};
use super::summary::{NeuronSummary, NeuronTruth, PopulationSummary, PopulationTruth};

/// A summary of two train stages: an FCL model with self-attention and ground truth
/// (`ff_sa`), and an attention-only model whose mean self-weight is undefined (`rf_sa`).
pub fn summary() -> DecompositionSummary {
    let fcl = PopulationSummary {
        centre_fraction: Some(0.75),
        centre_mean: 0.125,
        centre_share_mean: Some(0.8),
        neurons: 4,
        surround_mean: -0.5,
        truth: Some(PopulationTruth {
            centre_corr: Some(0.9),
            dominance_agreement: Some(1.0),
            share_corr: None,
            surround_corr: Some(0.25),
            truth_centre_fraction: Some(0.75),
        }),
    };
    let ff_sa = ModelSummary {
        attention: Some(AttentionSummary {
            centre_self_weight: Some(0.0625),
            largest_deviation_from_uniform: Some(0.5),
            uniform: Some(1.0 / 9.0),
        }),
        fcl: Some(fcl),
        label: "ff+sa-CNN*".into(),
        model: "ff-sa-cnn-star".into(),
    };
    let rf_sa = ModelSummary {
        attention: Some(AttentionSummary {
            centre_self_weight: None,
            largest_deviation_from_uniform: Some(0.05),
            uniform: Some(1.0 / 9.0),
        }),
        fcl: None,
        label: "rf+sa-CNN".into(),
        model: "rf-sa-cnn".into(),
    };
    DecompositionSummary {
        images: 9,
        models: BTreeMap::from([("ff_sa".into(), ff_sa), ("rf_sa".into(), rf_sa)]),
        split: SplitName::Test,
        top_k: 3,
        truth: true,
    }
}

/// One neuron's entry with a chosen mean centre contribution.
pub fn neuron(centre_mean: f64) -> NeuronSummary {
    NeuronSummary {
        centre_mean,
        centre_share: Some(0.5),
        centre_strength: 1.0,
        surround_mean: -0.25,
        surround_strength: 1.0,
        truth: Some(NeuronTruth {
            centre_corr: Some(0.5),
            surround_corr: None,
            truth_centre_share: Some(0.75),
        }),
    }
}

/// `per_neuron.json` of one model (`ff`) with two neurons, the second one's numbers
/// non-finite.
pub fn per_neuron() -> PerNeuronFile {
    BTreeMap::from([(
        "ff".to_owned(),
        ModelNeurons {
            attention_centre_self_weight: Some(vec![0.25, f64::NAN]),
            fcl: Some(vec![neuron(0.5), neuron(f64::INFINITY)]),
            label: "ff".into(),
        },
    )])
}
