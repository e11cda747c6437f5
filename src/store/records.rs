//! Stage records (what a completed stage key produced, with metrics, timings, host and device)
//! and heads (the key last completed for a pipeline's stage, which `explain` diffs against).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::fsutil::{read_json, write_atomic, write_json_atomic};
use super::{Store, StoreError};
use crate::key::{ContentDigest, KeyRecord, StageKey};
use crate::kind::Metrics;
use crate::spec::OutputType;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub digest: ContentDigest,
    #[serde(rename = "type")]
    pub ty: OutputType,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub key: StageKey,
    pub pipeline: String,
    pub stage: String,
    pub key_record: KeyRecord,
    pub outputs: BTreeMap<String, OutputRecord>,
    pub metrics: Metrics,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: String,
    pub duration_s: f64,
    pub host: String,
    pub device: String,
    pub sapipe_version: String,
    /// The compute environment that produced it (absent in records written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<crate::reproducibility::Environment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Head {
    key: StageKey,
}

impl Store {
    fn record_path(&self, key: &StageKey) -> PathBuf {
        let hex = key.hex();
        self.root
            .join("records")
            .join(&hex[..2])
            .join(format!("{}.json", &hex[2..]))
    }

    fn head_path(&self, pipeline: &str, stage: &str) -> PathBuf {
        self.root
            .join("heads")
            .join(pipeline)
            .join(format!("{stage}.json"))
    }

    /// The record of a completed key, if any. A record is only ever written after all its
    /// outputs are in the store, so its presence means "complete".
    pub fn record(&self, key: &StageKey) -> Result<Option<StageRecord>, StoreError> {
        read_json(&self.record_path(key))
    }

    pub fn has_record(&self, key: &StageKey) -> bool {
        self.record_path(key).is_file()
    }

    pub fn write_record(&self, record: &StageRecord) -> Result<(), StoreError> {
        write_json_atomic(&self.record_path(&record.key), record)
    }

    /// Every record in the cache.
    pub fn records(&self) -> Result<Vec<StageRecord>, StoreError> {
        let dir = self.root.join("records");
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&dir)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
        {
            if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "json")
            {
                out.extend(read_json::<StageRecord>(entry.path())?);
            }
        }
        Ok(out)
    }

    pub fn head(&self, pipeline: &str, stage: &str) -> Option<StageKey> {
        let bytes = std::fs::read(self.head_path(pipeline, stage)).ok()?;
        serde_json::from_slice::<Head>(&bytes).ok().map(|h| h.key)
    }

    /// Points the head of a pipeline's stage at `key` (no write when it already does).
    pub fn set_head(&self, pipeline: &str, stage: &str, key: &StageKey) -> Result<(), StoreError> {
        if self.head(pipeline, stage).as_ref() == Some(key) {
            return Ok(());
        }
        let path = self.head_path(pipeline, stage);
        let bytes = serde_json::to_vec(&Head { key: key.clone() }).expect("heads serialise");
        write_atomic(&path, &bytes).map_err(StoreError::io(&path))
    }
}
