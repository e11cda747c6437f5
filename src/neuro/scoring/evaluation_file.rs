//! The evaluation results file: the [`Evaluation`] an `evaluate` stage writes as JSON and
//! `sapipe results`, `sapipe show` and the `report` stage read, with its schema check, in one
//! place below all of them. The stage output that holds it is named `metrics` ([`OUTPUT`]) in
//! `stages/evaluate.yaml`: an output's name is part of every evaluate stage's key, so renaming
//! it would change every lock file. In code it is the evaluation results, never "metrics",
//! which are the numbers the engine records with every stage (`kind::Metrics`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::evaluation::{Evaluation, SCHEMA};
use crate::jsonfile;

/// The `evaluate` stage's output that holds the evaluation results.
pub const OUTPUT: &str = "metrics";

/// Why the evaluation results could not be written or read (the file and what is wrong).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct EvaluationFileError {
    pub path: PathBuf,
    pub message: String,
}

impl From<jsonfile::JsonFileError> for EvaluationFileError {
    fn from(e: jsonfile::JsonFileError) -> Self {
        let (path, message) = e.into_parts();
        Self { path, message }
    }
}

/// Writes `evaluation` to `path` (pretty-printed JSON).
pub fn write(path: &Path, evaluation: &Evaluation) -> Result<(), EvaluationFileError> {
    Ok(jsonfile::write(path, evaluation)?)
}

/// Reads the evaluation results at `path`, refusing another schema than this sapipe's.
pub fn read(path: &Path) -> Result<Evaluation, EvaluationFileError> {
    let invalid = |message: String| EvaluationFileError {
        path: path.to_owned(),
        message,
    };
    let value: Value = jsonfile::read(path)?;
    let schema = value.get("schema").and_then(Value::as_u64);
    if schema != Some(SCHEMA as u64) {
        return Err(invalid(format!(
            "metrics schema {schema:?}, this sapipe reads schema {SCHEMA}: rerun the evaluate stage"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| invalid(format!("not an evaluate stage's metrics: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_another_schema_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        std::fs::write(&path, r#"{"schema": 1}"#).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(
            e.contains("metrics.json") && e.contains("rerun the evaluate stage"),
            "{e}"
        );
        std::fs::write(&path, format!(r#"{{"schema": {SCHEMA}}}"#)).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("not an evaluate stage's metrics"), "{e}");
    }
}
