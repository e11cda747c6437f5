//! Stage records (what a completed stage key produced, with metrics, timings, host and device)
//! and heads (the key last completed for a pipeline's stage, which `explain` diffs against).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::fsutil::{read_json, remove_if_present, write_atomic, write_json_atomic};
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
    /// The parameters the run that produced it set with `--set` (absent when none did).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, serde_json::Value>,
}

#[cfg(test)]
impl StageRecord {
    /// A record of `key_record` (stage `s` of pipeline `p`) without outputs, metrics or
    /// environment: tests fill in what they need.
    pub(crate) fn fixture(key_record: KeyRecord) -> Self {
        Self {
            key: key_record.key(),
            pipeline: "p".into(),
            stage: "s".into(),
            key_record,
            outputs: BTreeMap::new(),
            metrics: Metrics::new(),
            started: String::new(),
            finished: String::new(),
            duration_s: 0.0,
            host: "h".into(),
            device: "cpu".into(),
            sapipe_version: "t".into(),
            environment: None,
            overrides: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Head {
    key: StageKey,
}

impl Store {
    /// The file holding the record of `key` (present or not).
    pub fn record_file(&self, key: &StageKey) -> PathBuf {
        self.record_path(key)
    }

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
    /// outputs are in the store, so its presence means "complete". A record file that does not
    /// parse is reported by path, quarantined and taken as absent (its stage reruns).
    pub fn record(&self, key: &StageKey) -> Result<Option<StageRecord>, StoreError> {
        let path = self.record_path(key);
        match read_json::<StageRecord>(&path) {
            Ok(Some(r)) if r.key == *key => Ok(Some(r)),
            Ok(Some(r)) => {
                self.quarantine_record(
                    &path,
                    &format!("it is the record of key {}", r.key.short()),
                )?;
                Ok(None)
            }
            Ok(None) => Ok(None),
            Err(StoreError::Corrupt { message, .. }) => {
                self.quarantine_record(&path, &message)?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn quarantine_record(&self, path: &std::path::Path, why: &str) -> Result<(), StoreError> {
        tracing::warn!(
            "{}: corrupt stage record ({why}); taken as absent, its stage will rerun",
            path.display()
        );
        self.quarantine(path)
    }

    pub fn has_record(&self, key: &StageKey) -> bool {
        self.record(key).ok().flatten().is_some()
    }

    pub fn write_record(&self, record: &StageRecord) -> Result<(), StoreError> {
        write_json_atomic(&self.record_path(&record.key), record)
    }

    /// Removes the record of `key`, if there is one: its stage reruns.
    pub fn forget_record(&self, key: &StageKey) -> Result<(), StoreError> {
        remove_if_present(&self.record_path(key))
    }

    /// Every readable record in the cache, and the record files that are not (path, why).
    pub fn scan_records(&self) -> (Vec<StageRecord>, Vec<(PathBuf, String)>) {
        let dir = self.root.join("records");
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for entry in walkdir::WalkDir::new(&dir)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
        {
            if !(entry.file_type().is_file()
                && entry.path().extension().is_some_and(|e| e == "json"))
            {
                continue;
            }
            let path = entry.path().to_owned();
            match read_json::<StageRecord>(&path) {
                Ok(Some(r)) if self.record_path(&r.key) == path => good.push(r),
                Ok(Some(r)) => {
                    bad.push((path, format!("it is the record of key {}", r.key.short())))
                }
                Ok(None) => {}
                Err(e) => bad.push((path, e.to_string())),
            }
        }
        (good, bad)
    }

    /// Every record in the cache; corrupt record files are reported and quarantined.
    pub fn records(&self) -> Result<Vec<StageRecord>, StoreError> {
        let (good, bad) = self.scan_records();
        for (path, why) in bad {
            self.quarantine_record(&path, &why)?;
        }
        Ok(good)
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
