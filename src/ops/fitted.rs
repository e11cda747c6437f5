//! A train stage's fitted model as the files a user of it needs, found from the pipeline's
//! `show` entries (`ops::show`): the checkpoint, the prepared dataset it was trained on, the
//! raw dataset that one was prepared from, and the image transform to replay on new images
//! ([`Preprocessing`]: the raw size from the raw dataset, the crop from the preprocess stage's
//! parameters, size and normalisation from the prepared dataset). `sapipe predict` runs it;
//! `sapipe show --json` names it for notebooks.

use std::path::{Path, PathBuf};

use super::show::ShowEntry;
use crate::exec::plan::State;
use crate::jsonfile;
use crate::neuro::data::dataset::PreparedMeta;
use crate::neuro::data::raw::RawMeta;
use crate::neuro::data::transform::{Geometry, Preprocessing};

#[derive(Debug, thiserror::Error)]
pub enum FittedError {
    #[error("no stage '{stage}' in this pipeline (stages: {known})")]
    UnknownStage { stage: String, known: String },
    #[error(
        "stage '{stage}' is not up to date ({why}): run `sapipe run PIPELINE --stage {stage}` first"
    )]
    NotUpToDate { stage: String, why: String },
    #[error(
        "stage '{stage}' (uses: {definition}) has no checkpoint output: give a stage that uses `train`"
    )]
    NoCheckpoint { stage: String, definition: String },
    #[error("stage '{stage}': {message}")]
    Chain { stage: String, message: String },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

/// Everything needed to run a train stage's model on new images.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub stage: String,
    pub checkpoint: PathBuf,
    /// The prepared dataset's directory and the preprocess stage that wrote it.
    pub prepared: PathBuf,
    pub preprocess_stage: String,
    /// The raw dataset's directory (the preprocess stage's `data` input).
    pub raw: PathBuf,
    pub preprocessing: Preprocessing,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, FittedError> {
    jsonfile::read(path).map_err(|e| {
        let (path, message) = e.into_parts();
        FittedError::File { path, message }
    })
}

/// The path bound to `input` of `entry`, from exactly one upstream stage.
fn bound<'a>(entry: &'a ShowEntry, input: &str) -> Result<(&'a str, &'a Path), FittedError> {
    let chain = |message: String| FittedError::Chain {
        stage: entry.stage.clone(),
        message,
    };
    match entry.inputs.get(input).map(Vec::as_slice) {
        Some([one]) => match &one.path {
            Some(p) => Ok((&one.stage, p)),
            None => Err(chain(format!(
                "input '{input}' (from '{}') has no result yet",
                one.stage
            ))),
        },
        Some(many) => Err(chain(format!(
            "input '{input}' is bound to {} outputs; expected one",
            many.len()
        ))),
        None => Err(chain(format!("has no input '{input}'"))),
    }
}

/// The fitted model of train stage `stage`, from `entries` (every stage's, as `show` lists
/// them); the stage must be up to date.
pub fn fitted(entries: &[ShowEntry], stage: &str) -> Result<Fitted, FittedError> {
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e.stage == name)
            .ok_or_else(|| FittedError::UnknownStage {
                stage: name.to_owned(),
                known: entries
                    .iter()
                    .map(|e| e.stage.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    };
    let entry = find(stage)?;
    if entry.stale || !entry.missing.is_empty() {
        let why = match entry.state {
            _ if !entry.stale => {
                format!(
                    "outputs missing from the cache: {}",
                    entry.missing.join(", ")
                )
            }
            State::WillRun => "it would run".into(),
            State::MayRun => "a stage it needs would run first".into(),
            State::UpToDate => "it has no current result".into(),
        };
        return Err(FittedError::NotUpToDate {
            stage: stage.to_owned(),
            why,
        });
    }
    let checkpoint = entry
        .files
        .get("checkpoint")
        .ok_or_else(|| FittedError::NoCheckpoint {
            stage: stage.to_owned(),
            definition: entry.definition.clone(),
        })?
        .clone();
    let (prep_stage, prepared) = bound(entry, "prepared")?;
    let prep = find(prep_stage)?;
    let (_, raw) = bound(prep, "data")?;
    let crop = prep
        .record
        .as_ref()
        .and_then(|r| r.key_record.params.get("crop"))
        .and_then(|v| v.as_u64())
        .ok_or_else(|| FittedError::Chain {
            stage: prep_stage.to_owned(),
            message: "its record has no integer parameter 'crop' (not a preprocess stage?)".into(),
        })?;
    let raw_meta: RawMeta = read_json(&raw.join("meta.json"))?;
    let prep_meta: PreparedMeta = read_json(&prepared.join("meta.json"))?;
    let geometry = Geometry::new(
        raw_meta.height,
        raw_meta.width,
        crop as usize,
        prep_meta.size,
    )
    .map_err(|e| FittedError::Chain {
        stage: prep_stage.to_owned(),
        message: e.0,
    })?;
    Ok(Fitted {
        stage: stage.to_owned(),
        checkpoint,
        prepared: prepared.to_owned(),
        preprocess_stage: prep_stage.to_owned(),
        raw: raw.to_owned(),
        preprocessing: Preprocessing {
            geometry,
            norm_mean: prep_meta.norm_mean,
            norm_std: prep_meta.norm_std,
        },
    })
}
