//! `verify`: re-hashes every object and manifest, checks every record's outputs (present, with
//! their recorded sizes) and reads every record file. A record is invalid when an output is
//! damaged, or when it was computed from an invalid record's outputs (transitively: a result
//! computed from bad bytes is bad too). With `repair`, damaged files are quarantined and the
//! invalid records removed, so the next run recomputes exactly those.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::integrity::Depth;
use super::objects::Manifest;
use super::{StageRecord, Store, StoreError};
use crate::key::{ContentDigest, InputKey};

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub objects: usize,
    pub trees: usize,
    pub records: usize,
    /// One line per problem, naming the file.
    pub problems: Vec<String>,
    pub repaired: Vec<String>,
}

impl Store {
    pub fn verify(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        // Hex names of damaged blobs and manifests, and of manifests linking a damaged blob.
        let mut tainted = BTreeSet::new();
        let mut damaged_files = Vec::new();
        let mut damage = |path: PathBuf, name: String, why: String, report: &mut VerifyReport| {
            report.problems.push(format!("{}: {why}", path.display()));
            tainted.insert(name);
            damaged_files.push(path);
        };
        for (path, name) in self.sharded_files("objects", "")? {
            report.objects += 1;
            match ContentDigest::of_file(&path) {
                Ok(actual) if actual.hex() == name => {}
                Ok(actual) => damage(
                    path,
                    name,
                    format!(
                        "content does not match its digest (found {})",
                        actual.short()
                    ),
                    &mut report,
                ),
                Err(e) => damage(path, name, format!("unreadable ({e})"), &mut report),
            }
        }
        let mut manifests = BTreeMap::new();
        for (path, name) in self.sharded_files("trees", ".json")? {
            report.trees += 1;
            let bytes = std::fs::read(&path).unwrap_or_default();
            let parsed = serde_json::from_slice::<Manifest>(&bytes);
            match parsed {
                Ok(m) if ContentDigest::of_bytes(&bytes).hex() == name => {
                    manifests.insert(name, m);
                }
                _ => damage(
                    path,
                    name,
                    "manifest does not match its digest".into(),
                    &mut report,
                ),
            }
        }
        for (name, m) in &manifests {
            if m.files.values().any(|b| tainted.contains(b.hex())) {
                tainted.insert(name.clone());
            }
        }
        let (records, corrupt) = self.scan_records();
        report.records = records.len() + corrupt.len();
        for (path, why) in corrupt {
            report
                .problems
                .push(format!("{}: corrupt stage record ({why})", path.display()));
            if repair {
                self.quarantine(&path)?;
                report
                    .repaired
                    .push(format!("quarantined {}", path.display()));
            }
        }
        for (record, why) in invalid_records(self, &records, tainted) {
            report.problems.push(format!(
                "record of stage '{}' ({}): {why}",
                record.stage,
                record.key.short()
            ));
            if repair {
                self.forget_record(&record.key)?;
                report.repaired.push(format!(
                    "removed the record of '{}' ({}); it will rerun",
                    record.stage,
                    record.key.short()
                ));
            }
        }
        if repair {
            for path in damaged_files {
                self.quarantine(&path)?;
                report
                    .repaired
                    .push(format!("quarantined {}", path.display()));
            }
        }
        Ok(report)
    }

    /// Files of a sharded folder as (path, full hex name).
    pub(super) fn sharded_files(
        &self,
        folder: &str,
        suffix: &str,
    ) -> Result<Vec<(PathBuf, String)>, StoreError> {
        let dir = self.root.join(folder);
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&dir)
            .min_depth(2)
            .max_depth(2)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| StoreError::Io {
                path: dir.clone(),
                cause: std::io::Error::other(e.to_string()),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let shard = entry
                .path()
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let file = entry.file_name().to_str().unwrap_or_default();
            let Some(rest) = file.strip_suffix(suffix) else {
                continue;
            };
            out.push((entry.path().to_owned(), format!("{shard}{rest}")));
        }
        Ok(out)
    }
}

/// The records to invalidate, with why: a damaged or missing output, or (to a fixed point) an
/// input that is the output of an invalid record or a damaged file.
fn invalid_records<'a>(
    store: &Store,
    records: &'a [StageRecord],
    mut tainted: BTreeSet<String>,
) -> Vec<(&'a StageRecord, String)> {
    let mut invalid: Vec<Option<String>> = records
        .iter()
        .map(|r| {
            r.outputs.iter().find_map(|(name, o)| {
                if tainted.contains(o.digest.hex()) {
                    return Some(format!("output '{name}' is missing or corrupt"));
                }
                store
                    .check_artifact(&o.digest, o.ty, Some(o.bytes), Depth::Size)
                    .err()
                    .map(|d| format!("output '{name}' is missing or corrupt ({d})"))
            })
        })
        .collect();
    loop {
        for (r, why) in records.iter().zip(&invalid) {
            if why.is_some() {
                tainted.extend(r.outputs.values().map(|o| o.digest.hex().to_string()));
            }
        }
        let mut changed = false;
        for (r, why) in records.iter().zip(invalid.iter_mut()) {
            if why.is_some() {
                continue;
            }
            let from_bad = r.key_record.inputs.iter().find(|(_, k)| match k {
                InputKey::One(d) => tainted.contains(d.hex()),
                InputKey::Many(m) => m.values().any(|d| tainted.contains(d.hex())),
            });
            if let Some((input, _)) = from_bad {
                *why = Some(format!("computed from damaged data (input '{input}')"));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    records
        .iter()
        .zip(invalid)
        .filter_map(|(r, why)| Some((r, why?)))
        .collect()
}
