//! Importing the user's own recordings (data.md §3) into the raw dataset format
//! ([`crate::neuro::data::raw`]).
//!
//! The source is a folder of `.npy` files or one `.npz` archive holding these arrays:
//!
//! ```text
//! images        [N, H, W], [N, H, W, 1] or [N, 1, H, W]; uint8 (divided by 255), float32
//!               or float64; finite
//! responses     [N, neurons] single trials, float32 or float64; finite, except that rows of
//!               test images may be NaN when test_repeats is given (they are replaced by the
//!               NaN-mean of the repeats)
//! test_repeats  [R, N_test, neurons], float32 or float64, optional; NaN marks a missing
//!               trial, each (image, neuron) needs at least one trial; row i belongs to the
//!               image split.test[i], so an explicit split is required
//! train, validation, test
//!               1-D integer image indices, optional (the explicit split); a folder may give
//!               split.json ({"train": [...], "validation": [...] or null, "test": [...]})
//!               instead
//! ```
//!
//! Without an explicit split, `test_fraction` of the images (chosen with the seed) are test
//! images and validation is left to `preprocess`. Every malformed input is rejected with a
//! message naming the file, the array, and what was expected and found.

pub mod arrays;

use std::path::{Path, PathBuf};

use arrays::{Container, Kind, Loaded, Values};

use super::raw::{FORMAT, RawDataset, RawMeta, Split};
use crate::neuro::array::ArrayF32;
use crate::neuro::random::sequential::Stream;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {message}")]
    Source { path: PathBuf, message: String },
    #[error("{location}: not found (arrays present: {})", if .found.is_empty() { "none".to_string() } else { .found.join(", ") })]
    Missing {
        location: String,
        found: Vec<String>,
    },
    #[error("{location}: dtype {found} is not supported; expected {expected}")]
    Dtype {
        location: String,
        expected: String,
        found: String,
    },
    #[error("{location}: expected shape {expected}, found {found:?}")]
    Shape {
        location: String,
        expected: String,
        found: Vec<usize>,
    },
    #[error("{location}: {message}")]
    Values { location: String, message: String },
    #[error("{location}: {message}")]
    Split { location: String, message: String },
    #[error("{location}: cannot read: {message}")]
    Read { location: String, message: String },
}

/// How to import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportConfig {
    /// Fraction of images held out for testing when no split is given.
    pub test_fraction: f64,
    pub seed: u64,
}

/// Reads and checks everything under `source` and returns the raw dataset.
pub fn import(source: &Path, cfg: &ImportConfig) -> Result<RawDataset, ImportError> {
    let mut c = Container::open(source)?;
    let images = c.require("images", &[Kind::U8, Kind::F32, Kind::F64])?;
    let (n, h, w) = image_dims(&images)?;
    let pixels = images.to_f32(true);
    if let Some(i) = pixels.iter().position(|v| !v.is_finite()) {
        return Err(ImportError::Values {
            location: images.location.clone(),
            message: format!(
                "non-finite pixel in image {} (images must be finite)",
                i / (h * w)
            ),
        });
    }
    let responses = c.require("responses", &[Kind::F32, Kind::F64])?;
    if responses.shape.len() != 2 || responses.shape[0] != n {
        return Err(ImportError::Shape {
            location: responses.location.clone(),
            expected: format!("[N={n}, neurons] (N from images)"),
            found: responses.shape.clone(),
        });
    }
    let k = responses.shape[1];
    if k == 0 {
        return Err(ImportError::Shape {
            location: responses.location.clone(),
            expected: format!("[N={n}, neurons] with at least one neuron"),
            found: responses.shape.clone(),
        });
    }
    let repeats = c.read("test_repeats", &[Kind::F32, Kind::F64])?;
    let split = match explicit_split(&mut c, n)? {
        Some(s) => s,
        None if repeats.is_some() => {
            return Err(ImportError::Split {
                location: c.location("test_repeats"),
                message: "test repeats need an explicit split naming their test images: add \
                          test (and train) index arrays, or split.json in a folder"
                    .into(),
            });
        }
        None => seeded_split(n, cfg, &responses.location)?,
    };
    let mut values = responses.to_f32(false);
    let repeats = match repeats {
        Some(r) => Some(check_repeats(&r, &split, k, &mut values)?),
        None => None,
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        let what = if values[i].is_nan() {
            "NaN"
        } else {
            "an infinite value"
        };
        return Err(ImportError::Values {
            location: responses.location.clone(),
            message: format!(
                "{what} at image {}, neuron {}; NaN is allowed only in test_repeats (a missing \
                 trial) and in responses rows of test images that have repeats",
                i / k.max(1),
                i % k.max(1)
            ),
        });
    }
    let r_count = repeats.as_ref().map(|r: &ArrayF32| r.shape[0]);
    let seeded = !has_explicit_split(&c);
    Ok(RawDataset {
        images: ArrayF32::new(vec![n, h, w], pixels),
        responses: ArrayF32::new(vec![n, k], values),
        split,
        test_repeats: repeats,
        truth: None,
        neurons: None,
        meta: RawMeta {
            format: FORMAT,
            source: "import".into(),
            images: n,
            height: h,
            width: w,
            neurons: k,
            repeats: r_count,
            seed: seeded.then_some(cfg.seed),
        },
    })
}

/// (N, H, W) of an image array in any of the accepted layouts.
fn image_dims(images: &Loaded) -> Result<(usize, usize, usize), ImportError> {
    match images.shape[..] {
        [n, h, w] | [n, h, w, 1] | [n, 1, h, w] if n > 0 && h > 0 && w > 0 => Ok((n, h, w)),
        _ => Err(ImportError::Shape {
            location: images.location.clone(),
            expected: "[N, H, W], [N, H, W, 1] or [N, 1, H, W] with N, H, W > 0".into(),
            found: images.shape.clone(),
        }),
    }
}

fn has_explicit_split(c: &Container) -> bool {
    c.side_file("split.json").is_some()
        || ["train", "validation", "test"]
            .iter()
            .any(|a| c.names().iter().any(|n| n == a))
}

/// The split given by the user (split.json or index arrays), checked against `n` images.
fn explicit_split(c: &mut Container, n: usize) -> Result<Option<Split>, ImportError> {
    let json = c.side_file("split.json");
    let arrays_given = ["train", "validation", "test"]
        .iter()
        .any(|a| c.names().iter().any(|x| x == a));
    let (split, location) = match (json, arrays_given) {
        (Some(path), true) => {
            return Err(ImportError::Split {
                location: path.display().to_string(),
                message: "both split.json and train/validation/test arrays are given; keep one"
                    .into(),
            });
        }
        (Some(path), false) => {
            let location = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| ImportError::Read {
                location: location.clone(),
                message: e.to_string(),
            })?;
            let split: Split = serde_json::from_str(&text).map_err(|e| ImportError::Split {
                location: location.clone(),
                message: format!("expected {{\"train\": [...], \"validation\": [...] or null, \"test\": [...]}}: {e}"),
            })?;
            (split, location)
        }
        (None, true) => {
            let train = index_array(c, "train", n)?.unwrap_or_default();
            let validation = index_array(c, "validation", n)?;
            let test = index_array(c, "test", n)?.unwrap_or_default();
            (
                Split {
                    train,
                    validation,
                    test,
                },
                format!("{} (index arrays train, validation, test)", c.source()),
            )
        }
        (None, false) => return Ok(None),
    };
    split
        .check(n)
        .map_err(|message| ImportError::Split { location, message })?;
    Ok(Some(split))
}

fn index_array(c: &mut Container, name: &str, n: usize) -> Result<Option<Vec<usize>>, ImportError> {
    let Some(a) = c.read(name, &[Kind::Int])? else {
        return Ok(None);
    };
    if a.shape.len() != 1 {
        return Err(ImportError::Shape {
            location: a.location.clone(),
            expected: "[count] (a 1-D list of image indices)".into(),
            found: a.shape.clone(),
        });
    }
    let Values::Int(v) = &a.values else {
        return Err(ImportError::Dtype {
            location: a.location.clone(),
            expected: "an integer type".into(),
            found: a.dtype.clone(),
        });
    };
    v.iter()
        .map(|&i| {
            usize::try_from(i)
                .ok()
                .filter(|&u| u < n)
                .ok_or_else(|| ImportError::Split {
                    location: a.location.clone(),
                    message: format!(
                        "index {i} is not an image index (there are {n} images: 0..{n})"
                    ),
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Test images chosen with the seed: `test_fraction` of them, at least one, leaving one to train.
fn seeded_split(n: usize, cfg: &ImportConfig, location: &str) -> Result<Split, ImportError> {
    if n < 2 {
        return Err(ImportError::Split {
            location: location.to_owned(),
            message: format!("{n} image(s): at least 2 are needed to hold out a test set"),
        });
    }
    let n_test = ((cfg.test_fraction * n as f64).round() as usize).clamp(1, n - 1);
    let perm = Stream::new(cfg.seed, "import/test", 0).permutation(n);
    let mut test: Vec<usize> = perm[..n_test].to_vec();
    let mut train: Vec<usize> = perm[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Ok(Split {
        train,
        validation: None,
        test,
    })
}

/// Checks test repeats against the split and writes their NaN-means into the test rows of
/// `responses`.
fn check_repeats(
    r: &Loaded,
    split: &Split,
    k: usize,
    responses: &mut [f32],
) -> Result<ArrayF32, ImportError> {
    let n_test = split.test.len();
    if r.shape.len() != 3 || r.shape[1] != n_test || r.shape[2] != k || r.shape[0] == 0 {
        return Err(ImportError::Shape {
            location: r.location.clone(),
            expected: format!(
                "[repeats, N_test={n_test}, neurons={k}] (N_test from the split, neurons from responses)"
            ),
            found: r.shape.clone(),
        });
    }
    let data = r.to_f32(false);
    if let Some(i) = data.iter().position(|v| v.is_infinite()) {
        return Err(ImportError::Values {
            location: r.location.clone(),
            message: format!(
                "infinite value at repeat {}, test image {}, neuron {} (only NaN marks a missing trial)",
                i / (n_test * k),
                (i / k) % n_test,
                i % k
            ),
        });
    }
    let reps = r.shape[0];
    for (t, &image) in split.test.iter().enumerate() {
        for n in 0..k {
            let trials: Vec<f64> = (0..reps)
                .map(|rep| data[(rep * n_test + t) * k + n] as f64)
                .filter(|v| !v.is_nan())
                .collect();
            if trials.is_empty() {
                return Err(ImportError::Values {
                    location: r.location.clone(),
                    message: format!(
                        "test image {image} (row {t}), neuron {n} has no trial: every repeat is NaN"
                    ),
                });
            }
            responses[image * k + n] = (trials.iter().sum::<f64>() / trials.len() as f64) as f32;
        }
    }
    Ok(ArrayF32::new(r.shape.clone(), data))
}

#[cfg(test)]
mod tests;
