//! The import report: what was read from where (file, array, shape, dtype), what was skipped
//! and why, which split was used and where it came from, and per-neuron statistics of the
//! responses as read (before test rows with repeats are replaced by the repeats' means). It
//! becomes the import stage's metrics, which `sapipe show` prints one per line, and its log.
//!
//! Names in the metrics are relative to the source (`images.npy`, `rec.npz, array images`), so
//! the same recordings give the same metrics wherever the project lives.

use std::fmt;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::neuro::data::raw::RawDataset;
use crate::neuro::stats::mean_var;

/// One array as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayRead {
    pub array: String,
    /// The file, relative to the source folder, or the archive's file name.
    pub file: String,
    pub in_archive: bool,
    pub shape: Vec<usize>,
    /// NumPy's dtype string (`|u1`, `<f4`, `<U5`, ...).
    pub dtype: String,
}

impl fmt::Display for ArrayRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.in_archive {
            write!(f, "{}, array {}", self.file, self.array)?;
        } else {
            f.write_str(&self.file)?;
        }
        write!(f, ": shape {:?}, dtype {}", self.shape, self.dtype)
    }
}

/// Why a file (or archive entry) was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Named in the stage's `ignore` list.
    Ignored,
    /// A hidden file of a folder (its name starts with '.').
    Hidden,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// As the user knows it: a folder's file name, an archive's array name.
    pub name: String,
    pub why: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.why {
            SkipReason::Ignored => "ignore",
            SkipReason::Hidden => "hidden",
        };
        write!(f, "{} ({why})", self.name)
    }
}

/// Where the split came from.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitSource {
    /// A `split` array of labels: strings, or integers 0/1/2.
    Labels { file: String, integers: bool },
    /// An `is_test` boolean array.
    TestMask { file: String },
    /// `train`, `validation`, `test` index arrays (those given).
    IndexArrays { files: Vec<String> },
    /// A folder's `split.json`.
    Json,
    /// No split given: test images drawn with the seed.
    Seeded { test_fraction: f64, seed: u64 },
}

impl fmt::Display for SplitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitSource::Labels {
                file,
                integers: false,
            } => write!(f, "{file} (labels)"),
            SplitSource::Labels {
                file,
                integers: true,
            } => write!(f, "{file} (labels 0 = train, 1 = validation, 2 = test)"),
            SplitSource::TestMask { file } => {
                write!(f, "{file} (is_test: true = test, false = train)")
            }
            SplitSource::IndexArrays { files } => write!(
                f,
                "train/validation/test index arrays ({})",
                files.join(", ")
            ),
            SplitSource::Json => f.write_str("split.json"),
            SplitSource::Seeded {
                test_fraction,
                seed,
            } => write!(f, "random test_fraction {test_fraction} with seed {seed}"),
        }
    }
}

/// Statistics of one neuron's responses as read; NaN (a missing entry, or a test row whose
/// repeats stand in for it) is counted, not included. `missing` counts the entries missing
/// from the imported dataset: NaN once test rows hold their repeats' means (which training
/// masks out and evaluation skips). `sd` is the population s.d. (NumPy's `std`).
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronStats {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
    pub nan: usize,
    pub missing: usize,
}

/// Per-neuron statistics of `values` ([images, k], row-major).
pub fn neuron_stats(values: &[f32], k: usize) -> Vec<NeuronStats> {
    (0..k)
        .map(|n| {
            let column: Vec<f64> = values
                .iter()
                .skip(n)
                .step_by(k.max(1))
                .map(|&v| f64::from(v))
                .collect();
            let finite: Vec<f64> = column.iter().copied().filter(|v| !v.is_nan()).collect();
            let (mean, var) = mean_var(&finite);
            NeuronStats {
                mean,
                sd: var.sqrt(),
                min: finite.iter().copied().fold(f64::INFINITY, f64::min),
                max: finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                nan: column.len() - finite.len(),
                missing: 0,
            }
        })
        .collect()
}

/// NaN entries per neuron of `values` ([images, k], row-major).
pub fn missing_per_neuron(values: &[f32], k: usize) -> Vec<usize> {
    let mut counts = vec![0; k];
    for (i, v) in values.iter().enumerate() {
        counts[i % k.max(1)] += usize::from(v.is_nan());
    }
    counts
}

/// What an import read and decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    /// The folder or archive, as the stage received it.
    pub source: PathBuf,
    pub arrays: Vec<ArrayRead>,
    pub skipped: Vec<Skipped>,
    pub split: SplitSource,
    pub neurons: Vec<NeuronStats>,
}

/// `x` to 4 significant digits (short to print; the statistics are a summary).
fn short(x: f64) -> Value {
    let rounded: f64 = format!("{x:.3e}").parse().unwrap_or(x);
    crate::neuro::data::summary::json_number(Some(rounded))
}

impl ImportReport {
    /// The report as metrics: `array_<name>` (file, shape and dtype of each array read),
    /// `skipped` (if anything was), `split_source`, and `neuron_<i>_responses` ({mean, sd, min,
    /// max, nan, missing}; `i` zero-padded so that they sort in order).
    pub fn metrics(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for a in &self.arrays {
            m.insert(format!("array_{}", a.array), json!(a.to_string()));
        }
        if !self.skipped.is_empty() {
            let s: Vec<String> = self.skipped.iter().map(Skipped::to_string).collect();
            m.insert("skipped".into(), json!(s.join(", ")));
        }
        m.insert("split_source".into(), json!(self.split.to_string()));
        let width = self.neurons.len().saturating_sub(1).to_string().len();
        for (i, s) in self.neurons.iter().enumerate() {
            m.insert(
                format!("neuron_{i:0width$}_responses"),
                json!({
                    "mean": short(s.mean),
                    "sd": short(s.sd),
                    "min": short(s.min),
                    "max": short(s.max),
                    "nan": s.nan,
                    "missing": s.missing,
                }),
            );
        }
        m
    }

    /// The report as log lines, with the dataset's sizes.
    pub fn log_lines(&self, raw: &RawDataset) -> Vec<String> {
        let meta = &raw.meta;
        let mut lines = vec![format!(
            "imported {} images ({} x {}) x {} neurons from {}",
            meta.images,
            meta.height,
            meta.width,
            meta.neurons,
            self.source.display()
        )];
        lines.extend(self.arrays.iter().map(|a| format!("read {a}")));
        lines.extend(self.skipped.iter().map(|s| format!("skipped {s}")));
        let split = &raw.split;
        let validation = split.validation.as_ref().map_or_else(
            || "validation left to preprocess".to_owned(),
            |v| format!("{} validation", v.len()),
        );
        lines.push(format!(
            "split from {}: {} train, {validation}, {} test",
            self.split,
            split.train.len(),
            split.test.len()
        ));
        lines.push(
            "responses as read, per neuron (NaN counted, not included; s.d. of the population; \
             missing: NaN left once test rows hold their repeats' means, masked in training):"
                .into(),
        );
        lines.push(format!(
            "{:>8} {:>10} {:>10} {:>10} {:>10} {:>6} {:>8}",
            "neuron", "mean", "s.d.", "min", "max", "NaN", "missing"
        ));
        for (i, s) in self.neurons.iter().enumerate() {
            lines.push(format!(
                "{i:>8} {:>10} {:>10} {:>10} {:>10} {:>6} {:>8}",
                digits(s.mean),
                digits(s.sd),
                digits(s.min),
                digits(s.max),
                s.nan,
                s.missing
            ));
        }
        lines
    }
}

/// `x` with 4 significant digits, in plain notation between 0.001 and 100000.
fn digits(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if a.is_finite() && (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ImportReport {
        ImportReport {
            source: PathBuf::from("/data/rec"),
            arrays: vec![
                ArrayRead {
                    array: "images".into(),
                    file: "images.npy".into(),
                    in_archive: false,
                    shape: vec![4, 2, 2],
                    dtype: "|u1".into(),
                },
                ArrayRead {
                    array: "split".into(),
                    file: "rec.npz".into(),
                    in_archive: true,
                    shape: vec![4],
                    dtype: "<U5".into(),
                },
            ],
            skipped: vec![Skipped {
                name: "notes.txt".into(),
                why: SkipReason::Ignored,
            }],
            split: SplitSource::Labels {
                file: "split.npy".into(),
                integers: false,
            },
            neurons: neuron_stats(&[1.0, f32::NAN, 3.0, 2.0, 2.0, 4.0, 0.0, 0.0], 2),
        }
    }

    #[test]
    fn statistics_leave_nan_out_and_count_it() {
        let s = neuron_stats(&[1.0, f32::NAN, 3.0, 2.0, 2.0, 4.0, 0.0, 0.0], 2);
        assert_eq!(
            s[0],
            NeuronStats {
                mean: 1.5,
                sd: 1.25f64.sqrt(),
                min: 0.0,
                max: 3.0,
                nan: 0,
                missing: 0
            }
        );
        assert_eq!(
            (s[1].mean, s[1].min, s[1].max, s[1].nan),
            (2.0, 0.0, 4.0, 1)
        );
        assert_eq!(
            missing_per_neuron(&[1.0, f32::NAN, f32::NAN, 2.0, 0.0, f32::NAN], 2),
            vec![1, 2]
        );
    }

    #[test]
    fn metrics_say_what_was_read_from_where_and_sort_readably() {
        let m = report().metrics();
        let keys: Vec<&String> = m.keys().collect();
        assert_eq!(
            keys,
            [
                "array_images",
                "array_split",
                "neuron_0_responses",
                "neuron_1_responses",
                "skipped",
                "split_source"
            ]
        );
        assert_eq!(m["array_images"], "images.npy: shape [4, 2, 2], dtype |u1");
        assert_eq!(
            m["array_split"],
            "rec.npz, array split: shape [4], dtype <U5"
        );
        assert_eq!(m["skipped"], "notes.txt (ignore)");
        assert_eq!(m["split_source"], "split.npy (labels)");
        assert_eq!(
            m["neuron_0_responses"],
            json!({"mean": 1.5, "sd": 1.118, "min": 0.0, "max": 3.0, "nan": 0, "missing": 0})
        );
        let many = ImportReport {
            neurons: neuron_stats(&[0.0; 11], 11),
            ..report()
        };
        assert!(many.metrics().contains_key("neuron_07_responses"));
    }

    #[test]
    fn split_sources_read_as_the_user_gave_them() {
        let seeded = SplitSource::Seeded {
            test_fraction: 0.1,
            seed: 3,
        };
        assert_eq!(seeded.to_string(), "random test_fraction 0.1 with seed 3");
        let idx = SplitSource::IndexArrays {
            files: vec!["train.npy".into(), "test.npy".into()],
        };
        assert_eq!(
            idx.to_string(),
            "train/validation/test index arrays (train.npy, test.npy)"
        );
        let ints = SplitSource::Labels {
            file: "split.npy".into(),
            integers: true,
        };
        assert_eq!(
            ints.to_string(),
            "split.npy (labels 0 = train, 1 = validation, 2 = test)"
        );
    }

    #[test]
    fn the_log_has_a_line_per_array_and_per_neuron() {
        let mut raw = crate::neuro::data::fixtures::tiny(4, 2, 2, 2);
        raw.test_repeats = None;
        let lines = report().log_lines(&raw);
        assert_eq!(
            lines[0],
            "imported 4 images (2 x 2) x 2 neurons from /data/rec"
        );
        assert_eq!(lines[1], "read images.npy: shape [4, 2, 2], dtype |u1");
        assert_eq!(lines[3], "skipped notes.txt (ignore)");
        assert_eq!(
            lines[4],
            "split from split.npy (labels): 2 train, validation left to preprocess, 2 test"
        );
        assert_eq!(lines.len(), 9);
        assert_eq!(
            lines[7],
            "       0      1.500      1.118          0      3.000      0        0"
        );
    }

    #[test]
    fn log_numbers_have_four_significant_digits() {
        assert_eq!(digits(0.0), "0");
        assert_eq!(digits(1234.5678), "1235");
        assert_eq!(digits(-0.012346), "-0.01235");
        assert_eq!(digits(123456.0), "1.235e5");
        assert_eq!(digits(0.0001234), "1.234e-4");
        assert_eq!(digits(f64::INFINITY), "inf");
    }
}
