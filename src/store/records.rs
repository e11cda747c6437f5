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
    /// Binds the outputs to the key ([`StageRecord::seal_of`]): a record whose outputs were
    /// edited after it was written (one naming another real object of the same size, issue
    /// 30, case 3) does not match it. Absent in records written before it existed, which are
    /// taken as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<ContentDigest>,
}

impl StageRecord {
    /// The blake3 digest of the key and every output's name, digest, type and size. It guards
    /// against damage and careless edits, not against a writer who recomputes it: only
    /// recomputing the stage can tell that bytes are what its command would write.
    pub fn seal_of(&self) -> ContentDigest {
        let mut text = format!("sapipe record seal 1\n{}\n", self.key.hex());
        for (name, o) in &self.outputs {
            let ty = match o.ty {
                OutputType::File => "file",
                OutputType::Dir => "dir",
            };
            text.push_str(&format!("{name}\t{}\t{ty}\t{}\n", o.digest.hex(), o.bytes));
        }
        ContentDigest::of_bytes(text.as_bytes())
    }

    /// This record with its seal set.
    pub fn sealed(mut self) -> Self {
        self.seal = Some(self.seal_of());
        self
    }

    /// What is wrong with a record read back as the record of `key`: it names another key,
    /// or its outputs do not match its seal.
    pub fn fault(&self, key: &StageKey) -> Option<String> {
        if self.key != *key {
            return Some(format!("it is the record of key {}", self.key.short()));
        }
        match &self.seal {
            Some(seal) if *seal != self.seal_of() => Some(
                "its outputs do not match its seal: they were edited after it was written \
                 (an output may name another object than its stage produced)"
                    .into(),
            ),
            _ => None,
        }
    }
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
            seal: None,
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
        super::objects::sharded(key.shard(), &self.root.join("records"), ".json")
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
            Ok(Some(r)) => match r.fault(key) {
                None => Ok(Some(r)),
                Some(why) => {
                    self.quarantine_record(&path, &why)?;
                    Ok(None)
                }
            },
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
                Ok(Some(r)) => {
                    let at = self.record_path(&r.key);
                    let fault = if at == path {
                        r.fault(&r.key)
                    } else {
                        Some(format!("it is the record of key {}", r.key.short()))
                    };
                    match fault {
                        None => good.push(r),
                        Some(why) => bad.push((path, why)),
                    }
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

    /// The key last completed for a pipeline's stage. A head file that does not hold a valid
    /// key is reported by path, quarantined and taken as absent.
    pub fn head(&self, pipeline: &str, stage: &str) -> Option<StageKey> {
        self.read_head(&self.head_path(pipeline, stage))
    }

    /// Reads a head file; a corrupt one is quarantined (the head file itself, nothing it names).
    pub(super) fn read_head(&self, path: &std::path::Path) -> Option<StageKey> {
        match read_json::<Head>(path) {
            Ok(head) => head.map(|h| h.key),
            Err(StoreError::Corrupt { message, .. }) => {
                tracing::warn!(
                    "{}: corrupt head ({message}); taken as absent",
                    path.display()
                );
                if let Err(e) = self.quarantine(path) {
                    tracing::warn!("{e}");
                }
                None
            }
            Err(_) => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::fixtures::fixture;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("cache")).unwrap();
        (d, s)
    }

    fn quarantined(s: &Store) -> Vec<String> {
        std::fs::read_dir(s.root().join("quarantine"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }

    /// Issue 30, case 1: a record whose output digest is `xx/<absolute path>` named that file:
    /// now the record is corrupt, quarantined itself, and absent; the file is left alone.
    #[test]
    fn case1_a_record_whose_digest_names_an_outside_file_is_quarantined_not_followed() {
        let (d, s) = store();
        let outside = d.path().join("precious.txt");
        std::fs::write(&outside, "precious").unwrap();
        let record = StageRecord::fixture(fixture());
        let mut v = serde_json::to_value(&record).unwrap();
        v["outputs"] = serde_json::json!({"checkpoint": {
            "digest": format!("xx{}", outside.display()), "type": "file", "bytes": 8}});
        let path = s.record_file(&record.key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(s.record(&record.key).unwrap(), None);
        assert!(!path.exists());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        assert!(quarantined(&s)[0].contains("precious.txt"));
        // And in a scan (verify, gc, results): reported by path, with why.
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let (good, bad) = s.scan_records();
        assert!(good.is_empty());
        assert_eq!(bad[0].0, path);
        assert!(bad[0].1.contains("invalid content digest"), "{}", bad[0].1);
    }

    /// Issue 30, case 2: a record keyed `a` or a head `{"key":"a"}` panicked every command.
    #[test]
    fn case2_short_keys_in_records_and_heads_are_quarantined_and_absent() {
        let (_d, s) = store();
        let record = StageRecord::fixture(fixture());
        let mut v = serde_json::to_value(&record).unwrap();
        v["key"] = serde_json::json!("a");
        let path = s.record_file(&record.key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(s.record(&record.key).unwrap(), None);
        assert!(!path.exists());

        let head = s.root().join("heads/p/s.json");
        std::fs::create_dir_all(head.parent().unwrap()).unwrap();
        std::fs::write(&head, r#"{"key":"a"}"#).unwrap();
        assert_eq!(s.head("p", "s"), None);
        assert!(!head.exists(), "the corrupt head is quarantined");
        std::fs::write(&head, r#"{"key":"a"}"#).unwrap();
        assert!(s.head_keys().is_empty());
        s.set_head("p", "s", &record.key).unwrap();
        assert_eq!(s.head("p", "s"), Some(record.key.clone()));
        assert_eq!(s.head_keys(), [record.key]);
    }

    /// Issue 30, case 1: quarantine only ever moves files inside the cache.
    #[test]
    fn case1_quarantine_never_moves_a_file_outside_the_cache() {
        let (d, s) = store();
        let outside = d.path().join("precious.txt");
        std::fs::write(&outside, "precious").unwrap();
        s.quarantine(&outside).unwrap();
        s.quarantine(&s.root().join("objects/../../precious.txt"))
            .unwrap();
        assert!(outside.is_file());
        assert!(quarantined(&s).is_empty());
    }
}
