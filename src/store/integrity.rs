//! Never trusting bytes read back: an artifact's size is checked whenever its record is taken
//! as done, and its blake3 digest whenever a stage consumes it or it is published. A damaged
//! file is moved to `quarantine/` (never served again, kept for inspection) and the record
//! that relied on it is removed, so its stage reruns.

use std::path::{Path, PathBuf};

use super::objects::Manifest;
use super::{OutputRecord, StageRecord, Store, StoreError};
use crate::key::{ContentDigest, StageKey};
use crate::spec::OutputType;

/// How hard to look at an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Present, with the recorded byte count (cheap: metadata only).
    Size,
    /// Present, and every byte hashes to its name.
    Digest,
}

/// What is wrong with an artifact: the damaged files (to quarantine) and why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub files: Vec<PathBuf>,
    pub why: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

fn damaged(path: &Path, why: impl std::fmt::Display) -> Damage {
    Damage {
        files: vec![path.to_owned()],
        why: format!("{}: {why}", path.display()),
    }
}

impl Store {
    /// Checks a blob: present, `bytes` long when given, and (with `Depth::Digest`) hashing to
    /// its name.
    pub fn check_blob(
        &self,
        d: &ContentDigest,
        bytes: Option<u64>,
        depth: Depth,
    ) -> Result<u64, Damage> {
        let path = self.object_path(d);
        let size = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return Err(damaged(&path, "not a file")),
            Err(e) => return Err(damaged(&path, format!("missing ({e})"))),
        };
        if let Some(expected) = bytes
            && expected != size
        {
            return Err(damaged(
                &path,
                format!("{size} bytes where {expected} were stored"),
            ));
        }
        if depth == Depth::Digest {
            match ContentDigest::of_file(&path) {
                Ok(actual) if actual == *d => {}
                Ok(actual) => {
                    return Err(damaged(
                        &path,
                        format!(
                            "content does not match its digest (found {})",
                            actual.short()
                        ),
                    ));
                }
                Err(e) => return Err(damaged(&path, format!("unreadable ({e})"))),
            }
        }
        Ok(size)
    }

    /// Checks an artifact (a blob, or a manifest and its blobs) against its digest and, when
    /// known, its total size.
    pub fn check_artifact(
        &self,
        d: &ContentDigest,
        ty: OutputType,
        bytes: Option<u64>,
        depth: Depth,
    ) -> Result<(), Damage> {
        match ty {
            OutputType::File => self.check_blob(d, bytes, depth).map(|_| ()),
            OutputType::Dir => {
                let path = self.tree_path(d);
                let text =
                    std::fs::read(&path).map_err(|e| damaged(&path, format!("missing ({e})")))?;
                if ContentDigest::of_bytes(&text) != *d {
                    return Err(damaged(&path, "manifest does not match its digest"));
                }
                let manifest: Manifest = serde_json::from_slice(&text)
                    .map_err(|e| damaged(&path, format!("unreadable manifest ({e})")))?;
                let mut total = 0;
                for blob in manifest.files.values() {
                    total += self.check_blob(blob, None, depth)?;
                }
                match bytes {
                    Some(expected) if expected != total && depth == Depth::Size => {
                        // Which file changed size is only known by hashing them all.
                        self.check_artifact(d, ty, None, Depth::Digest)?;
                        Err(damaged(
                            &path,
                            format!("its files hold {total} bytes where {expected} were stored"),
                        ))
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// Checks an artifact a stage reads: a blob by its digest; a directory by its blobs'
    /// digests or, when its view (the folder stages read) exists, by the view's own digest,
    /// which also catches files added to or replaced in it. A view that does not match is
    /// dropped (it is rebuilt from the blobs on demand): `Ok(true)` says so, the blobs being
    /// intact.
    pub fn check_input(&self, d: &ContentDigest, ty: OutputType) -> Result<bool, Damage> {
        let view = self.view_path(d);
        if ty == OutputType::Dir && view.is_dir() {
            if Manifest::digest_path(&view).is_ok_and(|actual| actual == *d) {
                return self
                    .check_artifact(d, ty, None, Depth::Size)
                    .map(|()| false);
            }
            self.drop_views_holding(d.hex());
            return self
                .check_artifact(d, ty, None, Depth::Digest)
                .map(|()| true);
        }
        self.check_artifact(d, ty, None, Depth::Digest)
            .map(|()| false)
    }

    /// Checks every output of a record; the first damage found.
    pub fn check_record(&self, r: &StageRecord, depth: Depth) -> Result<(), Damage> {
        r.outputs.values().try_for_each(|o: &OutputRecord| {
            self.check_artifact(&o.digest, o.ty, Some(o.bytes), depth)
        })
    }

    /// Moves a damaged file aside into `quarantine/` (a missing one is fine: another process
    /// got there first), and drops the views of directories that hold a hard link to it
    /// (they are rebuilt from intact blobs on demand).
    /// Only files inside the cache are ever moved: anything else is left alone and reported.
    pub fn quarantine(&self, path: &Path) -> Result<(), StoreError> {
        let Ok(rel) = path.strip_prefix(&self.root).map(Path::to_owned) else {
            tracing::warn!(
                "{}: not inside the cache {}; left where it is",
                path.display(),
                self.root.display()
            );
            return Ok(());
        };
        if rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            tracing::warn!(
                "{}: not a plain path inside the cache; left where it is",
                path.display()
            );
            return Ok(());
        }
        if path.exists() {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let name = rel.to_string_lossy().replace(['/', '\\'], "-");
            let to = self.root.join("quarantine").join(format!("{stamp}-{name}"));
            match std::fs::rename(path, &to) {
                Ok(()) => tracing::warn!("quarantined {} as {}", path.display(), to.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Io {
                        path: path.to_owned(),
                        cause: e,
                    });
                }
            }
        }
        // objects/ab/cdef… or trees/ab/cdef….json -> the digest's hex.
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        match parts.as_slice() {
            [folder, shard, file] if folder == "objects" || folder == "trees" => {
                let hex = format!("{shard}{}", file.trim_end_matches(".json"));
                self.drop_views_holding(&hex);
            }
            _ => {}
        }
        Ok(())
    }

    /// Quarantines the damaged files and removes the record of `key` (if any): the stage that
    /// produced the artifact reruns.
    pub fn condemn(&self, key: Option<&StageKey>, damage: &Damage) -> Result<(), StoreError> {
        for f in &damage.files {
            self.quarantine(f)?;
        }
        match key {
            Some(k) => self.forget_record(k),
            None => Ok(()),
        }
    }

    /// Drops every view that is of the tree `hex` or links its blob `hex`.
    fn drop_views_holding(&self, hex: &str) {
        let Ok(entries) = std::fs::read_dir(self.root.join("views")) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let holds = name == hex
                || ContentDigest::parse(&name)
                    .and_then(|d| self.read_manifest(&d).ok())
                    .is_none_or(|m| m.files.values().any(|b| b.hex() == hex));
            if !holds {
                continue;
            }
            // Renamed first, so no reader ever sees a half-removed view.
            let gone = self
                .root
                .join("tmp")
                .join(format!("dropped-view-{name}-{}", std::process::id()));
            if std::fs::rename(e.path(), &gone).is_ok() {
                let _ = std::fs::remove_dir_all(&gone);
            }
        }
    }
}
