//! Ground truth of a simulated population: per image and neuron, the noise-free response, the
//! centre-only response and the surround factor. Raw datasets keep it for every image
//! (`truth_*.npy`), prepared datasets for the test split (`test_truth_*.npy`); both read and
//! write the three files here, all present or all absent.

use std::path::{Path, PathBuf};

use crate::neuro::array::{ArrayError, ArrayF32};

/// The three ground-truth arrays, each `[images, neurons]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub noise_free: ArrayF32,
    pub centre: ArrayF32,
    pub surround_factor: ArrayF32,
}

#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error(transparent)]
    Array(#[from] ArrayError),
    #[error("{dir}: the truth files {files:?} must be all present or all absent")]
    Partial { dir: PathBuf, files: [String; 3] },
}

/// The file names of the three arrays, each name prefixed with `prefix` (e.g. `"test_"`).
pub fn truth_files(prefix: &str) -> [String; 3] {
    ["noise_free", "centre", "surround_factor"].map(|a| format!("{prefix}truth_{a}.npy"))
}

impl Truth {
    /// The arrays with their file names under `prefix`, in file order.
    pub fn named(&self, prefix: &str) -> [(String, &ArrayF32); 3] {
        let [a, b, c] = truth_files(prefix);
        [
            (a, &self.noise_free),
            (b, &self.centre),
            (c, &self.surround_factor),
        ]
    }

    /// Writes the three files into `dir`.
    pub fn write(&self, dir: &Path, prefix: &str) -> Result<(), ArrayError> {
        for (name, a) in self.named(prefix) {
            a.write_npy(&dir.join(name))?;
        }
        Ok(())
    }

    /// Reads the three files from `dir`: `None` when none exists.
    pub fn read(dir: &Path, prefix: &str) -> Result<Option<Self>, TruthError> {
        let files = truth_files(prefix);
        let mut arrays = Vec::with_capacity(3);
        for name in &files {
            let path = dir.join(name);
            if path.exists() {
                arrays.push(ArrayF32::read_npy(&path)?);
            }
        }
        match <[ArrayF32; 3]>::try_from(arrays) {
            Ok([noise_free, centre, surround_factor]) => Ok(Some(Truth {
                noise_free,
                centre,
                surround_factor,
            })),
            Err(found) if found.is_empty() => Ok(None),
            Err(_) => Err(TruthError::Partial {
                dir: dir.to_owned(),
                files,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth() -> Truth {
        let a = |v: f32| ArrayF32::new(vec![2, 1], vec![v, v + 1.0]);
        Truth {
            noise_free: a(1.0),
            centre: a(2.0),
            surround_factor: a(3.0),
        }
    }

    #[test]
    fn the_three_files_round_trip_and_must_come_together() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Truth::read(dir.path(), "test_").unwrap(), None);
        truth().write(dir.path(), "test_").unwrap();
        assert!(dir.path().join("test_truth_centre.npy").is_file());
        assert_eq!(Truth::read(dir.path(), "test_").unwrap(), Some(truth()));
        assert_eq!(Truth::read(dir.path(), "").unwrap(), None);
        std::fs::remove_file(dir.path().join("test_truth_centre.npy")).unwrap();
        let err = Truth::read(dir.path(), "test_").unwrap_err().to_string();
        assert!(
            err.contains("all present or all absent") && err.contains("test_truth_centre.npy"),
            "{err}"
        );
    }
}
