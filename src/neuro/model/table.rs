//! The model table (`sapipe models`): the seven architectures of models.md §3 at the reference
//! input size with their trainable parameter counts, and the incremental chain of §5.

use std::collections::BTreeSet;

use super::arch::{Architecture, ModelId, REFERENCE_INPUT_SIZE};

/// One row of the model table (`sapipe models`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArchInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub channels: usize,
    pub body: String,
    pub readout: String,
    /// Trainable parameters per neuron (batch-norm scale and shift included, running
    /// statistics not), at the reference input size of 50 pixels.
    pub trainable_params: usize,
}

/// The seven architectures at the reference input size, in the order of models.md §3.
pub fn architectures() -> Vec<ArchInfo> {
    ModelId::ALL
        .into_iter()
        .map(|m| {
            let a = Architecture::new(m, REFERENCE_INPUT_SIZE)
                .expect("the reference input size fits every model");
            ArchInfo {
                id: m.id(),
                name: m.display_name(),
                channels: a.channels,
                body: a.body_description(),
                readout: a.readout_description(),
                trainable_params: a.trainable_params(&BTreeSet::new()),
            }
        })
        .collect()
}

/// One step of the incremental chain (models.md §5) that starts from upstream blocks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainStep {
    pub label: &'static str,
    pub model: &'static str,
    /// The blocks copied from upstream and frozen (as `init.blocks` / `freeze` write them).
    pub frozen: Vec<&'static str>,
    pub trainable_params: usize,
}

/// The incremental steps of models.md §5 with their trainable parameter counts.
pub fn incremental_chain() -> Vec<ChainStep> {
    let steps: [(&'static str, ModelId, Vec<&'static str>); 3] = [
        ("rf+sa-CNN* (Incr.)", ModelId::RfSaCnnStar, vec!["alpha"]),
        (
            "ff+sa-CNN* (Incr. FC2)",
            ModelId::FfSaCnnStar,
            vec!["alpha", "sa", "beta"],
        ),
        (
            "ff+sa-CNN* (Incr. FC1)",
            ModelId::FfSaCnnStarFc1,
            vec!["alpha", "sa", "beta", "centre"],
        ),
    ];
    steps
        .into_iter()
        .map(|(label, model, frozen)| {
            let a = Architecture::new(model, REFERENCE_INPUT_SIZE)
                .expect("the reference input size fits every model");
            let names: Vec<String> = frozen.iter().map(|s| (*s).to_owned()).collect();
            let units = a
                .resolve_units(&names, "freeze")
                .expect("chain block names are valid");
            ChainStep {
                label,
                model: model.id(),
                frozen,
                trainable_params: a.trainable_params(&units),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trainable_parameter_counts_match_models_md() {
        let counts: Vec<(&str, usize)> = architectures()
            .iter()
            .map(|a| (a.id, a.trainable_params))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("ff-cnn", 46_017),
                ("ff-sa-cnn", 41_267),
                ("rf-cnn", 28_865),
                ("rf-sa-cnn", 25_812),
                ("rf-sa-cnn-star", 26_147),
                ("ff-sa-cnn-star", 28_547),
                ("ff-sa-cnn-star-fc1", 28_551),
            ]
        );
    }

    #[test]
    fn incremental_chain_counts_match_models_md() {
        let counts: Vec<usize> = incremental_chain()
            .iter()
            .map(|s| s.trainable_params)
            .collect();
        assert_eq!(counts, vec![2_717, 2_431, 2_404]);
    }
}
