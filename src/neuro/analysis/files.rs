//! The files of a decomposition directory, each with one type, one writer and one reader: the
//! `decompose` stage writes them, the report reads them.
//!
//! - `summary.json`: [`DecompositionSummary`] (population means per train stage);
//! - `per_neuron.json`: [`PerNeuronFile`] (one entry per neuron per train stage);
//! - per train stage: the `.npy` arrays named by [`ArrayFile`] and the PNG figures named by
//!   [`DecompositionFigure`].
//!
//! JSON objects are written with their keys in sorted order (the order `serde_json`'s map
//! writes): the fields of every type here are declared alphabetically, which the tests check,
//! so the bytes are those the committed lock files record. Non-finite numbers are written as
//! `null` and read back as NaN.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use super::summary::{NeuronSummary, PopulationSummary};
use crate::jsonfile::{self, JsonFileError};

/// Why a decomposition file could not be written or read; names the file.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a decompose stage's {what}: {source}")]
    Parse {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// The analysed split's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitName {
    Test,
    Val,
}

impl SplitName {
    pub const ALL: [SplitName; 2] = [SplitName::Test, SplitName::Val];

    pub fn name(self) -> &'static str {
        match self {
            SplitName::Test => "test",
            SplitName::Val => "val",
        }
    }
}

impl crate::neuro::choice::Choice for SplitName {
    const ALL: &'static [Self] = &SplitName::ALL;

    fn id(self) -> &'static str {
        self.name()
    }
}

crate::neuro::choice::choice_serde!(SplitName);

/// `summary.json`: what the report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecompositionSummary {
    /// Images analysed.
    pub images: usize,
    /// Per train stage.
    pub models: BTreeMap<String, ModelSummary>,
    pub split: SplitName,
    /// Images per neuron over which attention is averaged.
    pub top_k: usize,
    /// Whether the split carries the simulated ground truth.
    pub truth: bool,
}

/// One train stage's entry in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fcl: Option<PopulationSummary>,
    pub label: String,
    pub model: String,
}

/// Attention highlighting's population summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionSummary {
    /// The centre hypercolumn's attention to itself, averaged over neurons.
    pub centre_self_weight: Option<f64>,
    /// The largest distance of the mean attention map from uniform, relative to the uniform
    /// weight ([`crate::neuro::analysis::summary::deviation_from_uniform`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub largest_deviation_from_uniform: Option<f64>,
    /// The weight of uniform attention, 1 / (positions attended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uniform: Option<f64>,
}

impl AttentionSummary {
    /// Within this relative distance of uniform everywhere, a mean attention map is reported
    /// as indistinguishable from uniform attention.
    pub const UNIFORM_TOLERANCE: f64 = 0.10;

    /// Whether every position of the mean map is within [`Self::UNIFORM_TOLERANCE`] of
    /// uniform (`None` when the deviation was not recorded).
    pub fn looks_uniform(&self) -> Option<bool> {
        self.largest_deviation_from_uniform
            .map(|d| d < Self::UNIFORM_TOLERANCE)
    }
}

/// `per_neuron.json`: per train stage.
pub type PerNeuronFile = BTreeMap<String, ModelNeurons>;

/// One train stage's entry in `per_neuron.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelNeurons {
    /// Per neuron: the centre hypercolumn's attention to itself (SA models).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nan_if_null::vec"
    )]
    pub attention_centre_self_weight: Option<Vec<f64>>,
    /// Per neuron (FCL models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fcl: Option<Vec<NeuronSummary>>,
    pub label: String,
}

pub const SUMMARY_FILE: &str = "summary.json";
pub const PER_NEURON_FILE: &str = "per_neuron.json";

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), FilesError> {
    jsonfile::write(path, value).map_err(|e| files_error(e, "decomposition file"))
}

fn read_json<T: for<'de> Deserialize<'de>>(
    path: &Path,
    what: &'static str,
) -> Result<T, FilesError> {
    jsonfile::read(path).map_err(|e| files_error(e, what))
}

fn files_error(e: JsonFileError, what: &'static str) -> FilesError {
    match e {
        JsonFileError::Io { path, cause } => FilesError::Io {
            path,
            source: cause,
        },
        JsonFileError::Json { path, cause } => FilesError::Parse {
            path,
            what,
            source: cause,
        },
    }
}

impl DecompositionSummary {
    /// Writes `summary.json` into the decomposition directory `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), FilesError> {
        write_json(&dir.join(SUMMARY_FILE), self)
    }

    /// Reads a `summary.json` file.
    pub fn read(path: &Path) -> Result<Self, FilesError> {
        read_json(path, SUMMARY_FILE)
    }
}

/// Writes `per_neuron.json` into the decomposition directory `dir`.
pub fn write_per_neuron(file: &PerNeuronFile, dir: &Path) -> Result<(), FilesError> {
    write_json(&dir.join(PER_NEURON_FILE), file)
}

/// Reads a `per_neuron.json` file.
pub fn read_per_neuron(path: &Path) -> Result<PerNeuronFile, FilesError> {
    read_json(path, PER_NEURON_FILE)
}

/// A train stage's name as a file-name part: ASCII letters, digits and `-` kept, others `_`.
pub fn file_part(stage: &str) -> String {
    stage
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `.npy` arrays of one train stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayFile {
    /// `[n, neurons]` centre contributions.
    Centre,
    /// `[n, neurons]` surround contributions.
    Surround,
    /// `[neurons, G, G]` mean signed contribution per position.
    FclMaps,
    /// `[neurons, G, G]` the centre hypercolumn's attention row over each neuron's top-k images.
    Attention,
}

impl ArrayFile {
    fn prefix(self) -> &'static str {
        match self {
            ArrayFile::Centre => "centre_",
            ArrayFile::Surround => "surround_",
            ArrayFile::FclMaps => "fcl_maps_",
            ArrayFile::Attention => "attention_",
        }
    }

    /// The file name for train stage `stage`.
    pub fn file_name(self, stage: &str) -> String {
        format!("{}{}.npy", self.prefix(), file_part(stage))
    }
}

/// The PNG figures of a decomposition directory, one of each per analysed model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecompositionFigure {
    FclMap,
    Attention,
    CentreVsSurround,
}

impl DecompositionFigure {
    /// In the order the report looks for them.
    pub const ALL: [DecompositionFigure; 3] = [
        DecompositionFigure::FclMap,
        DecompositionFigure::Attention,
        DecompositionFigure::CentreVsSurround,
    ];

    fn prefix(self) -> &'static str {
        match self {
            DecompositionFigure::FclMap => "fcl_map_",
            DecompositionFigure::Attention => "attention_",
            DecompositionFigure::CentreVsSurround => "centre_vs_surround_",
        }
    }

    /// The file name for train stage `stage`: `<prefix><stage>.png`.
    pub fn file_name(self, stage: &str) -> String {
        format!("{}{}.png", self.prefix(), file_part(stage))
    }

    /// What the figure shows.
    pub fn caption(self) -> &'static str {
        match self {
            DecompositionFigure::FclMap => {
                "mean FCL contribution of each hypercolumn (signed, averaged over images and \
                 neurons; the framed cell is the centre)"
            }
            DecompositionFigure::Attention => {
                "attention of the centre hypercolumn, averaged over each neuron's top-k images \
                 and over neurons"
            }
            DecompositionFigure::CentreVsSurround => {
                "centre vs surround strength per neuron (sd of each contribution over images; \
                 below the diagonal: centre-dominated)"
            }
        }
    }

    /// The title drawn on the figure of the model labelled `label`.
    pub fn title(self, label: &str, top_k: usize) -> String {
        match self {
            DecompositionFigure::FclMap => format!("{label}: mean FCL contribution"),
            DecompositionFigure::Attention => format!("{label}: centre attention, top {top_k}"),
            DecompositionFigure::CentreVsSurround => format!("{label}: centre vs surround"),
        }
    }

    /// The figure and the train stage's file-name part of a file name (`None` for other files).
    pub fn parse(file: &str) -> Option<(DecompositionFigure, &str)> {
        let stem = file.strip_suffix(".png")?;
        Self::ALL
            .into_iter()
            .find_map(|f| Some((f, stem.strip_prefix(f.prefix())?)))
    }
}

/// `null` read back as NaN (the writer writes non-finite numbers as `null`).
mod nan_if_null {
    use super::*;

    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
        let values: Option<Vec<Option<f64>>> = Option::deserialize(d)?;
        Ok(values.map(|v| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect()))
    }
}

/// Reads a number written by these writers: `null` stands for a non-finite one.
pub(crate) fn f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::analysis::fixtures::{neuron, per_neuron, summary};
    use crate::neuro::choice::Choice;

    /// The writer's bytes are those of a `serde_json` map (sorted keys), as the `decompose`
    /// stage wrote them when it built its files with `json!`: the lock files stay valid.
    #[test]
    fn files_are_written_with_sorted_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, p) = (summary(), per_neuron());
        let attention = s
            .models
            .get_mut("ff_sa")
            .unwrap()
            .attention
            .as_mut()
            .unwrap();
        attention.centre_self_weight = Some(f64::NAN);
        s.write(dir.path()).unwrap();
        write_per_neuron(&p, dir.path()).unwrap();
        for (file, value) in [
            (SUMMARY_FILE, serde_json::to_value(&s).unwrap()),
            (PER_NEURON_FILE, serde_json::to_value(&p).unwrap()),
        ] {
            let written = std::fs::read_to_string(dir.path().join(file)).unwrap();
            assert_eq!(written, serde_json::to_string_pretty(&value).unwrap());
        }
        let written = std::fs::read_to_string(dir.path().join(SUMMARY_FILE)).unwrap();
        assert!(
            written.contains("\"centre_self_weight\": null"),
            "{written}"
        );
        assert!(written.contains("\"split\": \"test\""), "{written}");
    }

    /// `testdata/` holds the files of the `decompose` stage in `pipelines/incremental.lock`
    /// (output digest d0337b21…): read and written again, they have the same lines, but for
    /// the last digit of some numbers (`serde_json`'s default float parser may be one ulp off;
    /// the writer's own bytes are pinned by `files_are_written_with_sorted_keys`).
    #[test]
    fn the_locked_files_are_rewritten_line_for_line() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/neuro/analysis/testdata");
        let dir = tempfile::tempdir().unwrap();
        DecompositionSummary::read(&data.join(SUMMARY_FILE))
            .unwrap()
            .write(dir.path())
            .unwrap();
        let per_neuron = read_per_neuron(&data.join(PER_NEURON_FILE)).unwrap();
        write_per_neuron(&per_neuron, dir.path()).unwrap();
        let number = |line: &str| -> Option<(String, f64)> {
            let (head, value) = line.trim_end_matches(',').rsplit_once(' ')?;
            Some((head.to_owned(), value.parse().ok()?))
        };
        for file in [SUMMARY_FILE, PER_NEURON_FILE] {
            let locked = std::fs::read_to_string(data.join(file)).unwrap();
            let written = std::fs::read_to_string(dir.path().join(file)).unwrap();
            assert_eq!(locked.lines().count(), written.lines().count(), "{file}");
            for (a, b) in locked.lines().zip(written.lines()) {
                let same = a == b
                    || a.ends_with(',') == b.ends_with(',')
                        && number(a).zip(number(b)).is_some_and(|((ha, x), (hb, y))| {
                            ha == hb && (x - y).abs() <= 4.0 * f64::EPSILON * x.abs()
                        });
                assert!(same, "{file}: {a:?} became {b:?}");
            }
        }
    }

    #[test]
    fn readers_read_what_writers_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let s = summary();
        s.write(dir.path()).unwrap();
        let back = DecompositionSummary::read(&dir.path().join(SUMMARY_FILE)).unwrap();
        assert_eq!(back, s);
        write_per_neuron(&per_neuron(), dir.path()).unwrap();
        let back = read_per_neuron(&dir.path().join(PER_NEURON_FILE)).unwrap();
        let weights = back["ff"].attention_centre_self_weight.as_ref().unwrap();
        assert_eq!(weights[0], 0.25);
        assert!(weights[1].is_nan());
        let neurons = back["ff"].fcl.as_ref().unwrap();
        assert_eq!(neurons[0], neuron(0.5));
        assert!(neurons[1].centre_mean.is_nan());
    }

    #[test]
    fn a_file_that_does_not_parse_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SUMMARY_FILE);
        std::fs::write(&path, r#"{"model": "ff_sa"}"#).unwrap();
        let err = DecompositionSummary::read(&path).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string())
                && err.contains("not a decompose stage's summary.json")
                && err.contains("missing field"),
            "{err}"
        );
        let err = read_per_neuron(&dir.path().join("absent.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("absent.json"), "{err}");
    }

    #[test]
    fn figure_names_and_captions_come_from_one_place() {
        let f = DecompositionFigure::CentreVsSurround;
        assert_eq!(f.file_name("ff sa"), "centre_vs_surround_ff_sa.png");
        let (parsed, stage) = DecompositionFigure::parse("centre_vs_surround_ff_sa.png").unwrap();
        assert_eq!((parsed, stage), (f, "ff_sa"));
        assert!(parsed.caption().starts_with("centre vs surround"));
        for figure in DecompositionFigure::ALL {
            let name = figure.file_name("x");
            assert_eq!(DecompositionFigure::parse(&name), Some((figure, "x")));
        }
        assert_eq!(
            DecompositionFigure::Attention.title("rf+sa-CNN", 10),
            "rf+sa-CNN: centre attention, top 10"
        );
        assert!(DecompositionFigure::parse("summary.json").is_none());
        assert!(DecompositionFigure::parse("other.png").is_none());
        assert_eq!(ArrayFile::FclMaps.file_name("a/b"), "fcl_maps_a_b.npy");
        assert_eq!(SplitName::from_id("val"), Some(SplitName::Val));
        assert_eq!(SplitName::from_id("train"), None);
    }
}
