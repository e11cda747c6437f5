//! Importing the user's own recordings (data.md §3) into the raw dataset format
//! ([`crate::neuro::data::raw`]).
//!
//! The source is a folder of `.npy` files, one `.npz` archive, one MATLAB `.mat` file (v5/v7
//! or v7.3, [`matlab`]) or one HDF5 `.h5` file ([`hdf5`], cargo feature `hdf5`) holding these
//! arrays (under these names, or those the `names` mapping gives; [`variables`] says how
//! MATLAB's column-major arrays, vectors and 1-based indices are read):
//!
//! ```text
//! images        [N, H, W], [N, H, W, 1] or [N, 1, H, W]; uint8 (divided by 255), float32
//!               or float64; finite
//! responses     [N, neurons] single trials, float32 or float64; finite or NaN: NaN marks a
//!               missing entry (the neuron was not recorded for that image), which training
//!               masks out of its loss and evaluation skips; rows of test images are replaced
//!               by the NaN-mean of their repeats when test_repeats is given
//! test_repeats  [R, N_test, neurons], float32 or float64, optional; NaN marks a missing
//!               trial, and an (image, neuron) whose every trial is NaN is a missing entry
//!               (NaN in responses); row i belongs to the image split.test[i], so an explicit
//!               split is required
//! split, is_test, train, validation, test (or split.json in a folder)
//!               optional, one convention at most: the explicit split (see [`split`])
//! ```
//!
//! Every other file (or archive entry) is an error that lists what was found and what is
//! accepted, unless the stage's `ignore` list names it; hidden files of a folder (`.DS_Store`)
//! are skipped and reported ([`inventory`]). Without an explicit split, `test_fraction` of the
//! images (chosen with the seed) are test images and validation is left to `preprocess`. Every
//! malformed input is rejected with a message naming the file, the array, and what was
//! expected and found. What was read, skipped and decided is the [`ImportReport`].

pub mod arrays;
pub mod hdf5;
pub mod inventory;
pub mod matlab;
mod npz;
pub mod report;
pub mod split;
pub mod variables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrays::{Container, Kind, Loaded};
pub use report::{ImportReport, SplitSource};
use split::{explicit_split, seeded_split};

use super::raw::{FORMAT, RawDataset, RawMeta, Split};
use crate::neuro::array::ArrayF32;

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
    /// A `names` mapping that names no array the importer reads, or nothing in the source.
    #[error("{location}: {message}")]
    Names { location: String, message: String },
    #[error("{location}: cannot read: {message}")]
    Read { location: String, message: String },
    /// Files (or archive entries) that are neither accepted nor ignored.
    #[error("{location}: {}", inventory::unknown_message(*.layout, .unknown, .found, .accepted))]
    Unknown {
        location: String,
        layout: inventory::Layout,
        unknown: Vec<String>,
        found: Vec<String>,
        accepted: Vec<String>,
    },
    /// An `ignore` entry that names no file (or array).
    #[error("{location}: {}", inventory::unmatched_message(*.layout, .entry, .found))]
    IgnoreUnmatched {
        location: String,
        layout: inventory::Layout,
        entry: String,
        found: Vec<String>,
    },
    #[error(
        "{location}: `ignore` entry '{entry}' would skip the required array {array} (images and responses are required)"
    )]
    IgnoreRequired {
        location: String,
        entry: String,
        array: String,
    },
}

/// How to import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportConfig {
    /// Fraction of images held out for testing when no split is given.
    pub test_fraction: f64,
    pub seed: u64,
}

/// A checked import: the raw dataset, and the report of how it was made.
#[derive(Debug, Clone)]
pub struct Imported {
    pub raw: RawDataset,
    pub report: ImportReport,
}

/// Reads and checks everything under `source` (nothing ignored) and returns the raw dataset.
pub fn import(source: &Path, cfg: &ImportConfig) -> Result<RawDataset, ImportError> {
    import_reported(source, cfg, &[]).map(|i| i.raw)
}

/// Reads and checks everything under `source` except what `ignore` names (file or array names,
/// with or without extension; each must name something), and returns the raw dataset with
/// its report.
pub fn import_reported(
    source: &Path,
    cfg: &ImportConfig,
    ignore: &[String],
) -> Result<Imported, ImportError> {
    import_named(source, cfg, ignore, &BTreeMap::new())
}

/// [`import_reported`] with the `names` mapping: the importer's array name to the source's
/// own, for each array the source names differently (`{images: stim}`).
pub fn import_named(
    source: &Path,
    cfg: &ImportConfig,
    ignore: &[String],
    names: &BTreeMap<String, String>,
) -> Result<Imported, ImportError> {
    let mut c = Container::open_named(source, ignore, names)?;
    let images = c.require("images", &[Kind::U8, Kind::F32, Kind::F64])?;
    let (n, h, w) = image_dims(&images)?;
    let pixels = images.to_f32(true);
    if let Some(i) = pixels.iter().position(|v| !v.is_finite()) {
        return Err(ImportError::Values {
            location: images.location.clone(),
            message: format!(
                "{} pixel in image {} (row {}, column {}); images must be finite (NaN marks \
                 missing responses, never missing pixels)",
                pixels[i],
                i / (h * w),
                (i % (h * w)) / w,
                i % w
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
    let (split, split_source) = match explicit_split(&mut c, n)? {
        Some(s) => s,
        None if repeats.is_some() => {
            return Err(ImportError::Split {
                location: c.location("test_repeats"),
                message: "test repeats need an explicit split naming their test images: add a \
                          split array of labels, an is_test mask, test (and train) index \
                          arrays, or split.json in a folder"
                    .into(),
            });
        }
        None => (
            seeded_split(n, cfg, &responses.location)?,
            SplitSource::Seeded {
                test_fraction: cfg.test_fraction,
                seed: cfg.seed,
            },
        ),
    };
    let mut values = responses.to_f32(false);
    let mut neurons = report::neuron_stats(&values, k);
    let repeats = match repeats {
        Some(r) => Some(check_repeats(&r, &split, k, &mut values)?),
        None => None,
    };
    if let Some(i) = values.iter().position(|v| v.is_infinite()) {
        return Err(ImportError::Values {
            location: responses.location.clone(),
            message: format!(
                "{} at image {}, neuron {}; responses must be finite, or NaN for a missing entry",
                values[i],
                i / k.max(1),
                i % k.max(1)
            ),
        });
    }
    for (stats, missing) in neurons
        .iter_mut()
        .zip(report::missing_per_neuron(&values, k))
    {
        stats.missing = missing;
    }
    let r_count = repeats.as_ref().map(|r: &ArrayF32| r.shape[0]);
    let seeded = matches!(split_source, SplitSource::Seeded { .. });
    let report = ImportReport {
        source: source.to_owned(),
        arrays: c.reads().to_vec(),
        skipped: c.skipped().to_vec(),
        split: split_source,
        neurons,
    };
    let raw = RawDataset {
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
    };
    Ok(Imported { raw, report })
}

/// (N, H, W) of an image array in any of the accepted layouts.
pub(crate) fn image_dims(images: &Loaded) -> Result<(usize, usize, usize), ImportError> {
    match images.shape[..] {
        [n, h, w] | [n, h, w, 1] | [n, 1, h, w] if n > 0 && h > 0 && w > 0 => Ok((n, h, w)),
        _ => Err(ImportError::Shape {
            location: images.location.clone(),
            expected: "[N, H, W], [N, H, W, 1] or [N, 1, H, W] with N, H, W > 0".into(),
            found: images.shape.clone(),
        }),
    }
}

/// Checks test repeats against the split and writes their NaN-means into the test rows of
/// `responses` (NaN, a missing entry, where every trial is NaN).
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
            responses[image * k + n] = match trials.len() {
                0 => f32::NAN,
                m => (trials.iter().sum::<f64>() / m as f64) as f32,
            };
        }
    }
    Ok(ArrayF32::new(r.shape.clone(), data))
}

#[cfg(test)]
mod npz_tests;
#[cfg(test)]
mod split_tests;
#[cfg(test)]
mod tests;
