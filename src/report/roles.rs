//! The models of the paper's tables and ordering claims (models.md §3, §5, §8), and how to find
//! them among the models an `evaluate` stage measured: by architecture id and by whether the
//! model was trained incrementally.

use crate::neuro::scoring::evaluation::{Evaluation, ModelEvaluation, ModelInfo};

/// A model as the paper names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// The paper's name, e.g. `rf+sa-CNN* (Incr.)`.
    pub name: &'static str,
    /// Architecture id as train stages write it in `info.json`.
    pub model: &'static str,
    pub incremental: bool,
}

const fn role(name: &'static str, model: &'static str, incremental: bool) -> Role {
    Role {
        name,
        model,
        incremental,
    }
}

pub const FF_CNN: Role = role("ff-CNN", "ff-cnn", false);
pub const FF_SA_CNN: Role = role("ff+sa-CNN", "ff-sa-cnn", false);
pub const RF_CNN: Role = role("rf-CNN", "rf-cnn", false);
pub const RF_SA_CNN: Role = role("rf+sa-CNN", "rf-sa-cnn", false);
pub const RF_SA_STAR_INCR: Role = role("rf+sa-CNN* (Incr.)", "rf-sa-cnn-star", true);
pub const RF_SA_STAR_SIMUL: Role = role("rf+sa-CNN* (Simul.)", "rf-sa-cnn-star", false);
pub const FF_SA_STAR_FC2_INCR: Role = role("ff+sa-CNN* (Incr. FC2)", "ff-sa-cnn-star", true);
pub const FF_SA_STAR_SIMUL: Role = role("ff+sa-CNN* (Simul.)", "ff-sa-cnn-star", false);
pub const FF_SA_STAR_FC1_INCR: Role = role("ff+sa-CNN* (Incr. FC1)", "ff-sa-cnn-star-fc1", true);
pub const FF_SA_STAR_FC1_SIMUL: Role = role("ff+sa-CNN* FC1 (Simul.)", "ff-sa-cnn-star-fc1", false);

/// Rows of the paper's Table 1 (the four main models).
pub const TABLE1: [Role; 4] = [FF_CNN, FF_SA_CNN, RF_CNN, RF_SA_CNN];

/// Rows of the paper's Table 2 (the incremental chain and its simultaneous counterparts).
pub const TABLE2: [Role; 7] = [
    RF_CNN,
    RF_SA_STAR_INCR,
    RF_SA_STAR_SIMUL,
    FF_SA_STAR_FC2_INCR,
    FF_SA_STAR_SIMUL,
    FF_SA_STAR_FC1_INCR,
    FF_SA_STAR_FC1_SIMUL,
];

/// An architecture id in canonical spelling: lower case, `_` and `+` as `-`, `*` as `-star`
/// (so `rf+sa-CNN*`, `rf_sa_cnn_star` and `rf-sa-cnn-star` agree).
pub fn canonical_id(model: &str) -> String {
    let spelled = model
        .trim()
        .to_lowercase()
        .replace(['_', '+'], "-")
        .replace('*', "-star");
    let parts: Vec<&str> = spelled.split('-').filter(|p| !p.is_empty()).collect();
    parts.join("-")
}

impl Role {
    pub fn matches(&self, model: &ModelInfo) -> bool {
        canonical_id(&model.model) == self.model && model.incremental == self.incremental
    }
}

/// The largest training fraction among an evaluation's models (100% data, normally).
pub fn full_fraction(evaluation: &Evaluation) -> Option<f64> {
    evaluation
        .models
        .iter()
        .map(|m| m.model.fraction)
        .reduce(f64::max)
}

/// The models of an evaluation playing `role`, at the evaluation's largest training fraction,
/// in stage order.
pub fn find<'a>(evaluation: &'a Evaluation, role: &Role) -> Vec<&'a ModelEvaluation> {
    let Some(full) = full_fraction(evaluation) else {
        return Vec::new();
    };
    evaluation
        .models
        .iter()
        .filter(|m| m.model.fraction == full && role.matches(&m.model))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonicalised() {
        assert_eq!(canonical_id("rf+sa-CNN*"), "rf-sa-cnn-star");
        assert_eq!(canonical_id("RF_SA_CNN_STAR"), "rf-sa-cnn-star");
        assert_eq!(canonical_id(" ff-sa-cnn-star-fc1 "), "ff-sa-cnn-star-fc1");
    }

    #[test]
    fn roles_distinguish_incremental_from_simultaneous() {
        let info = |model: &str, incremental: bool| ModelInfo {
            stage: "s".into(),
            model: model.into(),
            label: model.into(),
            trainable_params: None,
            fraction: 1.0,
            incremental,
            init: None,
            frozen: Vec::new(),
            convergence: None,
            recipe: None,
        };
        assert!(RF_SA_STAR_INCR.matches(&info("rf-sa-cnn-star", true)));
        assert!(!RF_SA_STAR_SIMUL.matches(&info("rf-sa-cnn-star", true)));
        assert!(RF_CNN.matches(&info("rf_cnn", false)));
        assert!(!RF_CNN.matches(&info("rf-sa-cnn", false)));
    }
}
