//! The raw dataset: what `synthetic-v1` and `import` write and `preprocess` reads. A directory
//! of `.npy` files (open them with `numpy.load`) plus JSON:
//!
//! ```text
//! images.npy                    f32 [N, H, W]        stimuli at their original resolution
//! responses.npy                 f32 [N, neurons]     single trials; for test images the
//!                                                    NaN-mean of their repeats
//! split.json                    {"train": [i...], "validation": [i...] or null, "test": [i...]}
//!                               image indices; the three lists are disjoint
//! test_repeats.npy              f32 [R, N_test, neurons], NaN = missing trial, rows in the
//!                               order of split.test                                (optional)
//! truth_noise_free.npy          f32 [N, neurons]  noise-free response        (simulated only,
//! truth_centre.npy              f32 [N, neurons]  centre-only response        all three or
//! truth_surround_factor.npy     f32 [N, neurons]  surround factor             none)
//! neurons.json                  the simulated neurons' parameters                  (optional)
//! meta.json                     RawMeta
//! ```
//!
//! Images are luminances (synthetic: [0, 1]; imported uint8 images are divided by 255).
//! Responses are finite or NaN: NaN marks a missing entry (a neuron not recorded for an
//! image; training masks it, evaluation skips it) or, in test_repeats, a missing trial.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::jsonfile::{self, JsonFileError};
use crate::neuro::array::{ArrayError, ArrayF32};
use crate::neuro::data::truth::{Truth, TruthError};

#[derive(Debug, thiserror::Error)]
pub enum RawError {
    #[error(transparent)]
    Array(#[from] ArrayError),
    #[error(transparent)]
    Truth(#[from] TruthError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Which images are used for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Option<Vec<usize>>,
    pub test: Vec<usize>,
}

impl Split {
    /// Checks indices are below `images`, unique, and the lists disjoint; train and test
    /// non-empty. Returns a message naming the list and the index.
    pub fn check(&self, images: usize) -> Result<(), String> {
        let mut owner: Vec<Option<&str>> = vec![None; images];
        let lists = [
            ("train", Some(&self.train)),
            ("validation", self.validation.as_ref()),
            ("test", Some(&self.test)),
        ];
        for (name, list) in lists {
            for &i in list.map(|l| l.as_slice()).unwrap_or(&[]) {
                if i >= images {
                    return Err(format!(
                        "{name} lists image {i}, but there are only {images} images"
                    ));
                }
                match owner[i] {
                    Some(other) if other == name => {
                        return Err(format!("image {i} is listed twice in {name}"));
                    }
                    Some(other) => {
                        return Err(format!("image {i} is listed in both {other} and {name}"));
                    }
                    None => {}
                }
                owner[i] = Some(name);
            }
        }
        if self.train.is_empty() {
            return Err("the train list is empty".into());
        }
        if self.test.is_empty() {
            return Err("the test list is empty".into());
        }
        Ok(())
    }
}

/// Facts about a raw dataset that are not arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawMeta {
    /// Version of this format.
    pub format: u32,
    /// "synthetic-v1" or "import".
    pub source: String,
    pub images: usize,
    pub height: usize,
    pub width: usize,
    pub neurons: usize,
    /// Repeats per test image in test_repeats.npy (absent without repeats).
    pub repeats: Option<usize>,
    /// The generator's or importer's seed, where one was used.
    pub seed: Option<u64>,
}

pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct RawDataset {
    pub images: ArrayF32,
    pub responses: ArrayF32,
    pub split: Split,
    pub test_repeats: Option<ArrayF32>,
    pub truth: Option<Truth>,
    /// Contents of neurons.json (simulated data).
    pub neurons: Option<serde_json::Value>,
    pub meta: RawMeta,
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), RawError> {
    Ok(jsonfile::write(path, value)?)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RawError> {
    Ok(jsonfile::read(path)?)
}

impl From<JsonFileError> for RawError {
    fn from(e: JsonFileError) -> Self {
        match e {
            JsonFileError::Io { path, cause } => ArrayError::Io {
                path,
                source: cause,
            }
            .into(),
            JsonFileError::Json { path, cause } => RawError::Invalid {
                path,
                message: cause.to_string(),
            },
        }
    }
}

impl RawDataset {
    /// Writes every file into `dir` (which must exist), after checking consistency.
    pub fn write(&self, dir: &Path) -> Result<(), RawError> {
        self.check(dir)?;
        self.images.write_npy(&dir.join("images.npy"))?;
        self.responses.write_npy(&dir.join("responses.npy"))?;
        write_json(&dir.join("split.json"), &self.split)?;
        if let Some(r) = &self.test_repeats {
            r.write_npy(&dir.join("test_repeats.npy"))?;
        }
        if let Some(t) = &self.truth {
            t.write(dir, "")?;
        }
        if let Some(n) = &self.neurons {
            write_json(&dir.join("neurons.json"), n)?;
        }
        write_json(&dir.join("meta.json"), &self.meta)
    }

    pub fn read(dir: &Path) -> Result<Self, RawError> {
        let optional = |name: &str| -> Result<Option<ArrayF32>, RawError> {
            let p = dir.join(name);
            Ok(if p.exists() {
                Some(ArrayF32::read_npy(&p)?)
            } else {
                None
            })
        };
        let truth = Truth::read(dir, "")?;
        let neurons_path = dir.join("neurons.json");
        let ds = RawDataset {
            images: ArrayF32::read_npy(&dir.join("images.npy"))?,
            responses: ArrayF32::read_npy(&dir.join("responses.npy"))?,
            split: read_json(&dir.join("split.json"))?,
            test_repeats: optional("test_repeats.npy")?,
            truth,
            neurons: if neurons_path.exists() {
                Some(read_json(&neurons_path)?)
            } else {
                None
            },
            meta: read_json(&dir.join("meta.json"))?,
        };
        ds.check(dir)?;
        Ok(ds)
    }

    /// Checks that the arrays agree with each other, with the split and with `meta`.
    pub fn check(&self, dir: &Path) -> Result<(), RawError> {
        let bad = |message: String| RawError::Invalid {
            path: dir.to_owned(),
            message,
        };
        let m = &self.meta;
        if m.format != FORMAT {
            return Err(bad(format!(
                "meta.json: format {} is not supported (expected {FORMAT})",
                m.format
            )));
        }
        let (n, k) = (m.images, m.neurons);
        if self.images.shape != [n, m.height, m.width] {
            return Err(bad(format!(
                "images.npy: expected shape [{n}, {}, {}] (from meta.json), found {:?}",
                m.height, m.width, self.images.shape
            )));
        }
        if self.responses.shape != [n, k] {
            return Err(bad(format!(
                "responses.npy: expected shape [{n}, {k}], found {:?}",
                self.responses.shape
            )));
        }
        self.split
            .check(n)
            .map_err(|e| bad(format!("split.json: {e}")))?;
        if let Some(r) = &self.test_repeats {
            let expected = [m.repeats.unwrap_or(0), self.split.test.len(), k];
            if r.shape != expected {
                return Err(bad(format!(
                    "test_repeats.npy: expected shape {expected:?}, found {:?}",
                    r.shape
                )));
            }
        } else if m.repeats.is_some() {
            return Err(bad(
                "meta.json names repeats but test_repeats.npy is missing".into(),
            ));
        }
        if let Some(t) = &self.truth {
            for (name, a) in t.named("") {
                if a.shape != [n, k] {
                    return Err(bad(format!(
                        "{name}: expected shape [{n}, {k}], found {:?}",
                        a.shape
                    )));
                }
            }
        }
        if let Some(i) = self.responses.data.iter().position(|v| v.is_infinite()) {
            return Err(bad(format!(
                "responses.npy: infinite value at image {}, neuron {} (responses are finite, or \
                 NaN for a missing entry)",
                i / k.max(1),
                i % k.max(1)
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::data::fixtures::tiny;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let ds = tiny(6, 4, 3, 2);
        ds.write(dir.path()).unwrap();
        assert_eq!(RawDataset::read(dir.path()).unwrap(), ds);
    }

    #[test]
    fn inconsistent_datasets_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut ds = tiny(6, 4, 3, 2);
        ds.split.test.push(0);
        let e = ds.write(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("split.json: image 0 is listed in both train and test"),
            "{e}"
        );
        let mut ds = tiny(6, 4, 3, 2);
        ds.responses.data[3] = f32::NAN;
        ds.responses.data[4] = f32::INFINITY;
        let e = ds.write(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("responses.npy: infinite value at image 1, neuron 1"),
            "{e}"
        );
        let mut ds = tiny(6, 4, 3, 2);
        ds.test_repeats = Some(ArrayF32::zeros(vec![2, 3, 3]));
        let e = ds.write(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("test_repeats.npy: expected shape [2, 2, 3]"),
            "{e}"
        );
    }
}
