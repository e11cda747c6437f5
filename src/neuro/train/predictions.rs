//! The predictions a train stage writes for scoring: a directory of `test.npy` and `val.npy`
//! (f32 `[images, neurons]`) and `info.json`, the [`PredictionInfo`] of the model behind them.
//! [`write`] is the one writer, [`read`] the one reader (the `evaluate` stage's); a command
//! stage of a user's own may write the same directory, with only `model` required in
//! `info.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::params::TrainParams;
use super::{BiasRefit, ReadoutBias};
use crate::neuro::array::{ArrayError, ArrayF32};

/// `init` of an incremental step: the upstream train stage whose checkpoint it started from
/// and the blocks it copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitProvenance {
    pub from: String,
    pub blocks: Vec<String>,
}

/// How a model was trained, in the terms the paper's protocol fixes (models.md §4), so that a
/// report can say where a run departs from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The most epochs a neuron trained.
    pub epochs: usize,
    /// Early stopping's patience; absent: every neuron trained all `epochs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// How the readout's output bias started.
    pub readout_bias: ReadoutBias,
    /// What happened to the output bias once training ended; absent in files written before
    /// the refit existed (`none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refit_bias: Option<BiasRefit>,
    /// Training images (after any training fraction).
    pub train_images: usize,
}

impl Recipe {
    /// The recipe of a model trained with `params` on `train_images` images.
    pub fn of(params: &TrainParams, train_images: usize) -> Self {
        Recipe {
            epochs: params.epochs,
            patience: params.patience,
            batch_size: params.batch_size,
            lr: params.lr,
            readout_bias: params.readout_bias,
            refit_bias: Some(params.refit_bias),
            train_images,
        }
    }
}

/// What a model is, as its train stage says (`info.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionInfo {
    /// Architecture id, e.g. `rf-sa-cnn-star`.
    pub model: String,
    /// Display label, e.g. `rf+sa-CNN* (Incr.)`; the model's display name if absent.
    #[serde(default)]
    pub label: Option<String>,
    /// The stage that trained it.
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub trainable_params: Option<u64>,
    /// Fraction of the training set the model saw; the dataset's if absent.
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Trained incrementally: from blocks of an upstream checkpoint (`init`), rather than
    /// all at once. Written explicitly by `train`; false if a hand-written file omits it.
    #[serde(default)]
    pub incremental: bool,
    /// The upstream checkpoint and blocks an incremental step started from.
    #[serde(default)]
    pub init: Option<InitProvenance>,
    /// Blocks held frozen while training.
    #[serde(default)]
    pub frozen: Vec<String>,
    #[serde(default)]
    pub epochs: Option<usize>,
    /// Model selection (`per-neuron` best epoch or `final`).
    #[serde(default)]
    pub selection: Option<String>,
    /// Each neuron's selected epoch (1-based).
    #[serde(default)]
    pub best_epoch: Vec<usize>,
    /// Each neuron's validation CORR at that epoch; null where undefined.
    #[serde(default)]
    pub best_val_corr: Vec<Option<f64>>,
    /// Epochs each neuron trained (fewer than `epochs` where early stopping ended it); absent
    /// in files written before early stopping, where every neuron trained all `epochs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epochs_trained: Vec<usize>,
    /// Per neuron: was validation CORR still improving at the last epoch?
    #[serde(default)]
    pub improving_at_end: Vec<bool>,
    /// How it was trained; absent in hand-written files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<Recipe>,
}

/// The split a predictions file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictedSplit {
    Test,
    Validation,
}

impl PredictedSplit {
    pub fn file_name(self) -> &'static str {
        match self {
            PredictedSplit::Test => "test.npy",
            PredictedSplit::Validation => "val.npy",
        }
    }
}

/// Why a predictions directory does not read or write.
#[derive(Debug, thiserror::Error)]
pub enum PredictionsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: {message} (fields: model, label, stage, trainable_params, fraction, incremental, init {{from, blocks}}, frozen, epochs, selection, best_epoch, best_val_corr, improving_at_end; only model is required)"
    )]
    Info { path: PathBuf, message: String },
    #[error(transparent)]
    Array(#[from] ArrayError),
}

/// The info file of a predictions directory.
pub fn info_path(dir: &Path) -> PathBuf {
    dir.join("info.json")
}

/// Writes `info.json`, `test.npy` and `val.npy` into `dir` (which exists).
pub fn write(
    dir: &Path,
    info: &PredictionInfo,
    test: &ArrayF32,
    val: &ArrayF32,
) -> Result<(), PredictionsError> {
    test.write_npy(&dir.join(PredictedSplit::Test.file_name()))?;
    val.write_npy(&dir.join(PredictedSplit::Validation.file_name()))?;
    let path = info_path(dir);
    let text = serde_json::to_string_pretty(info).map_err(|e| PredictionsError::Info {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, text).map_err(|source| PredictionsError::Io { path, source })
}

/// Reads `info.json` of a predictions directory.
pub fn read_info(dir: &Path) -> Result<PredictionInfo, PredictionsError> {
    let path = info_path(dir);
    let text = std::fs::read_to_string(&path).map_err(|source| PredictionsError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| PredictionsError::Info {
        path,
        message: e.to_string(),
    })
}

/// Reads `info.json` and the predictions of `split`.
pub fn read(
    dir: &Path,
    split: PredictedSplit,
) -> Result<(PredictionInfo, ArrayF32), PredictionsError> {
    let info = read_info(dir)?;
    Ok((info, ArrayF32::read_npy(&dir.join(split.file_name()))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PredictionInfo {
        PredictionInfo {
            model: "rf-sa-cnn-star".into(),
            label: Some("rf+sa-CNN* (Incr.)".into()),
            stage: Some("rf_sa_incr".into()),
            trainable_params: Some(1234),
            fraction: None,
            incremental: true,
            init: Some(InitProvenance {
                from: "rf_cnn".into(),
                blocks: vec!["alpha".into()],
            }),
            frozen: vec!["alpha".into()],
            epochs: Some(3),
            selection: Some("per-neuron".into()),
            best_epoch: vec![2, 3],
            best_val_corr: vec![Some(0.5), None],
            improving_at_end: vec![false, true],
            epochs_trained: vec![3, 3],
            recipe: Some(Recipe {
                epochs: 3,
                patience: Some(1),
                batch_size: 16,
                lr: 0.003,
                readout_bias: ReadoutBias::Mean,
                refit_bias: Some(BiasRefit::Train),
                train_images: 1500,
            }),
        }
    }

    #[test]
    fn a_directory_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let test = ArrayF32::new(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let val = ArrayF32::new(vec![1, 2], vec![5.0, 6.0]);
        write(dir.path(), &info(), &test, &val).unwrap();
        assert_eq!(
            read(dir.path(), PredictedSplit::Test).unwrap(),
            (info(), test)
        );
        assert_eq!(read(dir.path(), PredictedSplit::Validation).unwrap().1, val);
    }

    #[test]
    fn a_hand_written_info_needs_only_the_model_and_is_not_incremental() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(info_path(dir.path()), r#"{"model": "ff-cnn"}"#).unwrap();
        let read = read_info(dir.path()).unwrap();
        assert_eq!((read.model.as_str(), read.incremental), ("ff-cnn", false));
    }

    #[test]
    fn unknown_or_missing_fields_name_the_file_and_the_valid_fields() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            info_path(dir.path()),
            r#"{"model": "ff-cnn", "freeze": []}"#,
        )
        .unwrap();
        let err = read_info(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("info.json") && err.contains("unknown field `freeze`"),
            "{err}"
        );
        assert!(err.contains("only model is required"), "{err}");
        std::fs::write(info_path(dir.path()), r#"{"label": "x"}"#).unwrap();
        let err = read_info(dir.path()).unwrap_err().to_string();
        assert!(err.contains("missing field `model`"), "{err}");
    }
}
