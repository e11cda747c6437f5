//! `verify`: re-hashes every object and manifest, and checks that every record's outputs are
//! present. With `repair`, corrupt objects and the records that rely on them are removed, so
//! the next run recomputes them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{Store, StoreError};
use crate::key::ContentDigest;
use crate::spec::OutputType;

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
        let mut bad = BTreeSet::new();
        for (path, name) in self.sharded_files("objects", "")? {
            report.objects += 1;
            let actual = ContentDigest::of_file(&path).map_err(StoreError::io(&path))?;
            if actual.hex() != name {
                report.problems.push(format!(
                    "{}: content does not match its digest (found {})",
                    path.display(),
                    actual.short()
                ));
                bad.insert(name);
            }
        }
        for (path, name) in self.sharded_files("trees", ".json")? {
            report.trees += 1;
            let bytes = std::fs::read(&path).map_err(StoreError::io(&path))?;
            if ContentDigest::of_bytes(&bytes).hex() != name {
                report.problems.push(format!(
                    "{}: manifest does not match its digest",
                    path.display()
                ));
                bad.insert(name);
            }
        }
        for record in self.records()? {
            report.records += 1;
            for (output, o) in &record.outputs {
                let missing = match o.ty {
                    OutputType::File => {
                        !self.object_path(&o.digest).is_file() || bad.contains(o.digest.hex())
                    }
                    OutputType::Dir => match self.read_manifest(&o.digest) {
                        Ok(m) => {
                            bad.contains(o.digest.hex())
                                || m.files.values().any(|b| {
                                    bad.contains(b.hex()) || !self.object_path(b).is_file()
                                })
                        }
                        Err(_) => true,
                    },
                };
                if missing {
                    report.problems.push(format!(
                        "record of stage '{}' ({}): output '{output}' is missing or corrupt",
                        record.stage,
                        record.key.short()
                    ));
                    if repair {
                        self.remove_record(&record.key)?;
                        report.repaired.push(format!(
                            "removed the record of '{}' ({}); it will rerun",
                            record.stage,
                            record.key.short()
                        ));
                    }
                }
            }
        }
        if repair {
            for name in &bad {
                let d = ContentDigest::parse(name).expect("names come from digests");
                for p in [
                    self.object_path(&d),
                    self.tree_path(&d),
                    self.root.join("views").join(name),
                ] {
                    if p.is_dir() {
                        let _ = std::fs::remove_dir_all(&p);
                    } else if p.exists() {
                        std::fs::remove_file(&p).map_err(StoreError::io(&p))?;
                        report
                            .repaired
                            .push(format!("removed corrupt {}", p.display()));
                    }
                }
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
                source: std::io::Error::other(e.to_string()),
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

    pub(super) fn remove_record(&self, key: &crate::key::StageKey) -> Result<(), StoreError> {
        let hex = key.hex();
        let path = self
            .root
            .join("records")
            .join(&hex[..2])
            .join(format!("{}.json", &hex[2..]));
        std::fs::remove_file(&path).map_err(StoreError::io(&path))
    }
}
