//! The files of a probe directory, each with one type, one writer and one reader: the `probe`
//! stage writes them, the report reads them.
//!
//! - `summary.json`: [`ProbeSummary`] (the protocol, the truth's and every model's per-neuron
//!   tuning, population medians and agreement with the truth);
//! - `per_neuron.csv`: one row per (source, neuron), source `truth` or a train stage;
//! - [`FIGURE_FILE`]: orientation tuning curves of a few neurons, models vs truth.
//!
//! Struct fields are declared alphabetically, so the JSON's keys are sorted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Protocol;
use super::stimuli::Canvas;
use super::tuning::{Agreement, NeuronProbe, ProbeResult};

pub const SUMMARY_FILE: &str = "summary.json";
pub const PER_NEURON_FILE: &str = "per_neuron.csv";
pub const FIGURE_FILE: &str = "orientation_tuning.png";
/// What [`FIGURE_FILE`] shows.
pub const FIGURE_CAPTION: &str = "orientation tuning of the first neurons at each one's \
     preferred frequency, response above the blank normalised to its peak: the simulated \
     truth (black) and each model";

#[derive(Debug, thiserror::Error)]
pub enum ProbeFilesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a probe stage's summary.json: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSummary {
    pub canvas: Canvas,
    /// Per train stage.
    pub models: BTreeMap<String, ModelProbe>,
    pub protocol: Protocol,
    /// Side of the model input.
    pub size: usize,
    pub stimuli: usize,
    /// The simulator's noise-free neurons on the same stimuli (simulated data only).
    pub truth: Option<ProbeResult>,
}

/// One train stage's probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelProbe {
    /// Against the truth, when there is one.
    pub agreement: Option<Agreement>,
    pub label: String,
    pub model: String,
    pub result: ProbeResult,
}

impl ProbeSummary {
    /// Writes `summary.json` and `per_neuron.csv` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), ProbeFilesError> {
        let text = serde_json::to_string_pretty(self).expect("probe summaries serialise");
        write(&dir.join(SUMMARY_FILE), &text)?;
        write(&dir.join(PER_NEURON_FILE), &self.csv())
    }

    /// Reads a `summary.json` file.
    pub fn read(path: &Path) -> Result<Self, ProbeFilesError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProbeFilesError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ProbeFilesError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// `per_neuron.csv`: the truth's rows first, then each model's.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "source,neuron,preferred_orientation_deg,preferred_frequency,osi,ssi_parallel,\
             ssi_orthogonal,centre_response,orientation_error_deg\n",
        );
        let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        let mut rows = |source: &str, neurons: &[NeuronProbe], errors: Option<&Agreement>| {
            for (i, n) in neurons.iter().enumerate() {
                let error = errors.and_then(|a| a.orientation_error_deg.get(i).copied()?);
                let _ = writeln!(
                    out,
                    "{source},{},{},{},{},{},{},{},{}",
                    n.neuron,
                    cell(n.preferred_orientation_deg),
                    n.preferred_frequency,
                    cell(n.osi),
                    cell(n.ssi_parallel),
                    cell(n.ssi_orthogonal),
                    n.centre_response,
                    cell(error)
                );
            }
        };
        if let Some(t) = &self.truth {
            rows("truth", &t.neurons, None);
        }
        for (stage, m) in &self.models {
            rows(stage, &m.result.neurons, m.agreement.as_ref());
        }
        out
    }
}

fn write(path: &Path, text: &str) -> Result<(), ProbeFilesError> {
    std::fs::write(path, text).map_err(|source| ProbeFilesError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::neuro::analysis::probe::tuning::PopulationProbe;

    fn neuron(n: usize, pref: f64, ssi: f64) -> NeuronProbe {
        NeuronProbe {
            centre_response: 1.0,
            neuron: n,
            orientation_tuning: vec![0.1, 1.0, 0.3, 0.0],
            osi: Some(0.5),
            preferred_frequency: 6.0,
            preferred_orientation_deg: Some(pref),
            ssi_orthogonal: Some(ssi / 2.0),
            ssi_parallel: Some(ssi),
        }
    }

    fn result(neurons: Vec<NeuronProbe>) -> ProbeResult {
        ProbeResult {
            population: PopulationProbe {
                median_osi: Some(0.5),
                median_ssi_orthogonal: Some(0.2),
                median_ssi_parallel: Some(0.4),
                neurons: neurons.len(),
                responsive: neurons.len(),
            },
            neurons,
        }
    }

    /// A summary of 2 neurons with truth and one model.
    pub fn summary() -> ProbeSummary {
        let truth = result(vec![neuron(0, 40.0, 0.4), neuron(1, 100.0, 0.6)]);
        let model = result(vec![neuron(0, 50.0, 0.3), neuron(1, 95.0, 0.5)]);
        let agreement = crate::neuro::analysis::probe::tuning::agreement(&model, &truth);
        ProbeSummary {
            canvas: Canvas::new(8, 8, 8, 0.5, 0.2, 1.0).unwrap(),
            models: BTreeMap::from([(
                "ff_sa".to_owned(),
                ModelProbe {
                    agreement: Some(agreement),
                    label: "ff+sa-CNN*".into(),
                    model: "ff-sa-cnn-star".into(),
                    result: model,
                },
            )]),
            protocol: Protocol::default(),
            size: 4,
            stimuli: 1153,
            truth: Some(truth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_round_trips_with_sorted_keys_and_csv_rows() {
        let dir = tempfile::tempdir().unwrap();
        let s = fixtures::summary();
        s.write(dir.path()).unwrap();
        let back = ProbeSummary::read(&dir.path().join(SUMMARY_FILE)).unwrap();
        assert_eq!(back, s);
        let text = std::fs::read_to_string(dir.path().join(SUMMARY_FILE)).unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.trim().split('"').nth(1).unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        let csv = std::fs::read_to_string(dir.path().join(PER_NEURON_FILE)).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[1], "truth,0,40,6,0.5,0.4,0.2,1,");
        assert_eq!(lines[3], "ff_sa,0,50,6,0.5,0.3,0.15,1,10");
        let e = ProbeSummary::read(&dir.path().join(PER_NEURON_FILE))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a probe stage's summary.json"), "{e}");
    }
}
