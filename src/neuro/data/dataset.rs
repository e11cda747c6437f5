//! The prepared dataset: what `preprocess` writes and `train` / `evaluate` read. A directory of
//! `.npy` files (open them with `numpy.load`) plus `meta.json`:
//!
//! ```text
//! train_images.npy      f32 [n_train, S, S]   normalised with training-set statistics
//! train_responses.npy   f32 [n_train, neurons] single trials; NaN = missing entry (all
//!                       response arrays: masked in training, skipped in evaluation)
//! val_images.npy        f32 [n_val, S, S]      (model selection)
//! val_responses.npy     f32 [n_val, neurons]
//! test_images.npy       f32 [n_test, S, S]     (reporting)
//! test_responses.npy    f32 [n_test, neurons]  mean over repeats
//! test_repeats.npy      f32 [R, n_test, neurons], NaN = missing trial   (optional)
//! test_truth_noise_free.npy, test_truth_centre.npy, test_truth_surround_factor.npy
//!                       f32 [n_test, neurons]  simulated data only     (optional, all or none)
//! meta.json             PreparedMeta
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::neuro::array::{ArrayError, ArrayF32};
use crate::neuro::data::truth::{Truth, TruthError};

/// Prefix of the ground-truth files of a prepared dataset (the test split's truth).
const TRUTH_PREFIX: &str = "test_";

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(transparent)]
    Array(#[from] ArrayError),
    #[error(transparent)]
    Truth(#[from] TruthError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Facts about a prepared dataset that are not arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedMeta {
    pub neurons: usize,
    /// Side length S of the square images.
    pub size: usize,
    /// Where the data came from: "synthetic-v1" or "import".
    pub source: String,
    /// Normalisation applied to every split: (x - mean) / std, from the training split.
    pub norm_mean: f64,
    pub norm_std: f64,
    /// Fraction of the training split kept (nested subsets for data efficiency).
    pub fraction: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PreparedDataset {
    pub train_images: ArrayF32,
    pub train_responses: ArrayF32,
    pub val_images: ArrayF32,
    pub val_responses: ArrayF32,
    pub test_images: ArrayF32,
    pub test_responses: ArrayF32,
    pub test_repeats: Option<ArrayF32>,
    pub truth: Option<Truth>,
    pub meta: PreparedMeta,
}

impl PreparedDataset {
    pub fn write(&self, dir: &Path) -> Result<(), DatasetError> {
        let arrays = [
            ("train_images.npy", &self.train_images),
            ("train_responses.npy", &self.train_responses),
            ("val_images.npy", &self.val_images),
            ("val_responses.npy", &self.val_responses),
            ("test_images.npy", &self.test_images),
            ("test_responses.npy", &self.test_responses),
        ];
        for (name, a) in arrays {
            a.write_npy(&dir.join(name))?;
        }
        if let Some(r) = &self.test_repeats {
            r.write_npy(&dir.join("test_repeats.npy"))?;
        }
        if let Some(t) = &self.truth {
            t.write(dir, TRUTH_PREFIX)?;
        }
        let meta = serde_json::to_string_pretty(&self.meta).expect("meta serialises");
        std::fs::write(dir.join("meta.json"), meta).map_err(|e| ArrayError::Io {
            path: dir.join("meta.json"),
            source: e,
        })?;
        Ok(())
    }

    pub fn read(dir: &Path) -> Result<Self, DatasetError> {
        let read = |name: &str| ArrayF32::read_npy(&dir.join(name));
        let optional = |name: &str| -> Result<Option<ArrayF32>, DatasetError> {
            let p = dir.join(name);
            if p.exists() {
                Ok(Some(ArrayF32::read_npy(&p)?))
            } else {
                Ok(None)
            }
        };
        let meta_path = dir.join("meta.json");
        let meta_text = std::fs::read_to_string(&meta_path).map_err(|e| ArrayError::Io {
            path: meta_path.clone(),
            source: e,
        })?;
        let meta: PreparedMeta =
            serde_json::from_str(&meta_text).map_err(|e| DatasetError::Invalid {
                path: meta_path.clone(),
                message: e.to_string(),
            })?;
        let truth = Truth::read(dir, TRUTH_PREFIX)?;
        let ds = PreparedDataset {
            train_images: read("train_images.npy")?,
            train_responses: read("train_responses.npy")?,
            val_images: read("val_images.npy")?,
            val_responses: read("val_responses.npy")?,
            test_images: read("test_images.npy")?,
            test_responses: read("test_responses.npy")?,
            test_repeats: optional("test_repeats.npy")?,
            truth,
            meta,
        };
        ds.check(dir)?;
        Ok(ds)
    }

    /// Checks that the arrays agree with each other and with `meta`.
    pub fn check(&self, dir: &Path) -> Result<(), DatasetError> {
        let n = self.meta.neurons;
        let s = self.meta.size;
        let splits = [
            ("train", &self.train_images, &self.train_responses),
            ("val", &self.val_images, &self.val_responses),
            ("test", &self.test_images, &self.test_responses),
        ];
        for (split, images, responses) in splits {
            let bad = |message: String| DatasetError::Invalid {
                path: dir.to_owned(),
                message,
            };
            if images.shape.len() != 3 || images.shape[1] != s || images.shape[2] != s {
                return Err(bad(format!(
                    "{split}_images.npy: expected shape [N, {s}, {s}], found {:?}",
                    images.shape
                )));
            }
            if responses.shape != [images.shape[0], n] {
                return Err(bad(format!(
                    "{split}_responses.npy: expected shape [{}, {n}], found {:?}",
                    images.shape[0], responses.shape
                )));
            }
        }
        Ok(())
    }
}
