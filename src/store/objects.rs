//! Content-addressed objects: file blobs under `objects/`, directory manifests under `trees/`,
//! and hard-linked views of directories under `views/` (what stages read as input folders).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fsutil::write_atomic;
use super::integrity::Depth;
use super::{Store, StoreError};
use crate::key::ContentDigest;
use crate::spec::OutputType;

/// A directory artifact: relative path (with `/`) -> blob digest. Read back only with plain
/// relative paths (see [`check_relative`]): a manifest from a tampered cache or a remote cannot
/// make a view or a publish write outside its folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawManifest")]
pub struct Manifest {
    pub files: BTreeMap<String, ContentDigest>,
}

#[derive(Deserialize)]
struct RawManifest {
    files: BTreeMap<String, ContentDigest>,
}

impl TryFrom<RawManifest> for Manifest {
    type Error = String;

    fn try_from(raw: RawManifest) -> Result<Self, String> {
        raw.files.keys().try_for_each(|rel| check_relative(rel))?;
        Ok(Self { files: raw.files })
    }
}

/// A manifest's file name: `/`-separated, relative, every part a plain name (no empty part,
/// `.`, `..`, backslash or NUL).
pub fn check_relative(rel: &str) -> Result<(), String> {
    let plain = |part: &str| !(part.is_empty() || part == "." || part == "..");
    if rel.split('/').all(plain) && !rel.contains(['\\', '\0']) {
        Ok(())
    } else {
        Err(format!(
            "invalid file name {rel:?} in a folder manifest: expected a relative path of plain \
             names"
        ))
    }
}

impl Manifest {
    /// The manifest of a directory as it is on disk, without storing anything (for `path`
    /// parameters, whose content enters keys).
    /// Symbolic links are followed (a linked file enters the digest as what it points to);
    /// devices, FIFOs and sockets are refused before anything is read (reading one could
    /// block forever).
    pub fn of_dir(dir: &Path) -> std::io::Result<Self> {
        let mut files = BTreeMap::new();
        for entry in walkdir::WalkDir::new(dir)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| std::io::Error::other(e.to_string()))?;
            if let Some(kind) = super::fsutil::irregular_kind(entry.file_type()) {
                return Err(not_regular(entry.path(), kind));
            }
            if entry.file_type().is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(dir)
                    .expect("walkdir stays under its root");
                files.insert(
                    rel.to_string_lossy().replace('\\', "/"),
                    ContentDigest::of_file(entry.path())?,
                );
            }
        }
        Ok(Self { files })
    }

    /// The content digest of a file, or of a directory's manifest (symbolic links followed);
    /// anything else (a device, a FIFO, a socket) is refused before it is opened.
    pub fn digest_path(path: &Path) -> std::io::Result<ContentDigest> {
        let ty = std::fs::metadata(path)?.file_type();
        if let Some(kind) = super::fsutil::irregular_kind(ty) {
            return Err(not_regular(path, kind));
        }
        if ty.is_dir() {
            Ok(ContentDigest::of_bytes(&Self::of_dir(path)?.canonical()))
        } else {
            ContentDigest::of_file(path)
        }
    }

    /// The manifest's canonical bytes (its digest is the directory's digest).
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest serialises")
    }
}

fn not_regular(path: &Path, kind: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "{} is {kind}, not a regular file or folder",
        path.display()
    ))
}

/// `base/ab/cdef…SUFFIX`: built only from a validated digest, so always inside `base`.
pub(super) fn sharded((shard, rest): (&str, &str), base: &Path, suffix: &str) -> PathBuf {
    base.join(shard).join(format!("{rest}{suffix}"))
}

impl Store {
    pub fn object_path(&self, d: &ContentDigest) -> PathBuf {
        sharded(d.shard(), &self.root.join("objects"), "")
    }

    pub fn tree_path(&self, d: &ContentDigest) -> PathBuf {
        sharded(d.shard(), &self.root.join("trees"), ".json")
    }

    pub(super) fn view_path(&self, d: &ContentDigest) -> PathBuf {
        self.root.join("views").join(d.hex())
    }

    /// Moves a produced file into the store (or drops it if an intact blob of that name
    /// exists; a damaged one is quarantined and replaced) and returns its digest and size.
    pub fn put_file(&self, path: &Path) -> Result<(ContentDigest, u64), StoreError> {
        let io = StoreError::io(path);
        // Never stored, nor made read-only, through a link: only the file itself.
        let ty = std::fs::symlink_metadata(path)
            .map_err(StoreError::io(path))?
            .file_type();
        if let Some(kind) = super::fsutil::irregular_kind(ty).or(ty.is_dir().then_some("a folder"))
        {
            return Err(StoreError::Io {
                path: path.to_owned(),
                cause: not_regular(path, kind),
            });
        }
        let digest = ContentDigest::of_file(path).map_err(io)?;
        let size = std::fs::metadata(path).map_err(StoreError::io(path))?.len();
        let target = self.object_path(&digest);
        let intact = target.exists() && {
            let check = self.check_blob(&digest, Some(size), Depth::Digest);
            if let Err(damage) = &check {
                self.condemn(None, damage)?;
            }
            check.is_ok()
        };
        if intact {
            std::fs::remove_file(path).map_err(StoreError::io(path))?;
        } else {
            self.place_blob(path, &target)?;
        }
        Ok((digest, size))
    }

    /// Adopts a file already hashed to `digest` (a verified download) as that blob; an intact
    /// blob of that name is kept and the file dropped.
    pub fn adopt_blob(&self, path: &Path, digest: &ContentDigest) -> Result<(), StoreError> {
        let target = self.object_path(digest);
        if self.check_blob(digest, None, Depth::Digest).is_ok() {
            return std::fs::remove_file(path).map_err(StoreError::io(path));
        }
        self.place_blob(path, &target)
    }

    /// Writes a manifest whose bytes were checked against `digest`.
    pub fn write_tree(&self, digest: &ContentDigest, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.tree_path(digest);
        write_atomic(&path, bytes).map_err(StoreError::io(&path))
    }

    /// Moves a file into place as a read-only blob (renamed, or copied across filesystems).
    fn place_blob(&self, path: &Path, target: &Path) -> Result<(), StoreError> {
        let parent = target.parent().expect("sharded paths have a parent");
        std::fs::create_dir_all(parent).map_err(StoreError::io(parent))?;
        let mut perms = std::fs::metadata(path)
            .map_err(StoreError::io(path))?
            .permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(path, perms).map_err(StoreError::io(path))?;
        if std::fs::rename(path, target).is_err() {
            std::fs::copy(path, target).map_err(StoreError::io(target))?;
        }
        Ok(())
    }

    /// Stores every file under `dir` and its manifest; returns the manifest's digest and the
    /// total size of the files.
    pub fn put_dir(&self, dir: &Path) -> Result<(ContentDigest, u64), StoreError> {
        let mut files = BTreeMap::new();
        let mut total = 0;
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let entry = entry.map_err(|e| StoreError::Io {
                path: dir.to_owned(),
                cause: std::io::Error::other(e.to_string()),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(dir)
                .expect("walkdir stays under its root");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let (d, size) = self.put_file(entry.path())?;
            total += size;
            files.insert(rel, d);
        }
        let manifest = Manifest { files };
        let bytes = manifest.canonical();
        let digest = ContentDigest::of_bytes(&bytes);
        let path = self.tree_path(&digest);
        let intact = std::fs::read(&path).is_ok_and(|b| b == bytes);
        if !intact {
            write_atomic(&path, &bytes).map_err(StoreError::io(&path))?;
        }
        Ok((digest, total))
    }

    pub fn read_manifest(&self, d: &ContentDigest) -> Result<Manifest, StoreError> {
        let path = self.tree_path(d);
        let bytes = std::fs::read(&path).map_err(StoreError::io(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path,
            message: e.to_string(),
        })
    }

    /// A path where the artifact can be read: the blob itself, or a hard-linked view of the
    /// directory (built once, atomically).
    pub fn artifact_path(&self, d: &ContentDigest, ty: OutputType) -> Result<PathBuf, StoreError> {
        match ty {
            OutputType::File => {
                let p = self.object_path(d);
                if p.is_file() {
                    Ok(p)
                } else {
                    Err(StoreError::Missing {
                        what: format!("object {d}"),
                    })
                }
            }
            OutputType::Dir => self.view(d),
        }
    }

    fn view(&self, d: &ContentDigest) -> Result<PathBuf, StoreError> {
        let view = self.view_path(d);
        if view.is_dir() {
            return Ok(view);
        }
        let missing = |what: String| StoreError::Missing { what };
        if !self.tree_path(d).is_file() {
            return Err(missing(format!("manifest {d}")));
        }
        let manifest = self.read_manifest(d)?;
        if let Some(blob) = manifest
            .files
            .values()
            .find(|b| !self.object_path(b).is_file())
        {
            return Err(missing(format!("object {blob} of folder {d}")));
        }
        let tmp = self.scratch_dir(&format!("view-{}", d.short()))?;
        for (rel, blob) in &manifest.files {
            let target = tmp.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(StoreError::io(parent))?;
            }
            let src = self.object_path(blob);
            if std::fs::hard_link(&src, &target).is_err() {
                std::fs::copy(&src, &target).map_err(StoreError::io(&src))?;
            }
        }
        std::fs::create_dir_all(view.parent().expect("views/ has a parent"))
            .map_err(StoreError::io(&view))?;
        if std::fs::rename(&tmp, &view).is_err() && !view.is_dir() {
            return Err(StoreError::Missing {
                what: format!("view of {d}"),
            });
        }
        let _ = std::fs::remove_dir_all(&tmp);
        Ok(view)
    }

    /// Copies an artifact to a project path (for `publish`), replacing what was there.
    pub fn export(
        &self,
        d: &ContentDigest,
        ty: OutputType,
        target: &Path,
    ) -> Result<(), StoreError> {
        let src = self.artifact_path(d, ty)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(StoreError::io(parent))?;
        }
        match ty {
            OutputType::File => {
                let _ = std::fs::remove_file(target);
                std::fs::copy(&src, target).map_err(StoreError::io(target))?;
                make_writable(target);
            }
            OutputType::Dir => {
                let _ = std::fs::remove_dir_all(target);
                for rel in self.read_manifest(d)?.files.keys() {
                    let to = target.join(rel);
                    std::fs::create_dir_all(to.parent().expect("joined path"))
                        .map_err(StoreError::io(&to))?;
                    std::fs::copy(src.join(rel), &to).map_err(StoreError::io(&to))?;
                    make_writable(&to);
                }
            }
        }
        Ok(())
    }
}

/// Gives a published copy ordinary permissions: writable by its owner only (not 0666).
fn make_writable(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mut perms = meta.permissions();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            perms.set_mode((perms.mode() | 0o200) & 0o755);
        }
        #[cfg(not(unix))]
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        let _ = std::fs::set_permissions(path, perms);
    }
}

impl Store {
    /// Makes an artifact of another store available in this one (hard links where possible).
    pub fn import_from(
        &self,
        other: &Store,
        d: &ContentDigest,
        ty: OutputType,
    ) -> Result<(), StoreError> {
        let link = |src: PathBuf, dst: PathBuf| -> Result<(), StoreError> {
            if dst.exists() {
                return Ok(());
            }
            let parent = dst.parent().expect("sharded paths have a parent");
            std::fs::create_dir_all(parent).map_err(StoreError::io(parent))?;
            if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst).map_err(StoreError::io(&src))?;
            }
            Ok(())
        };
        match ty {
            OutputType::File => link(other.object_path(d), self.object_path(d)),
            OutputType::Dir => {
                link(other.tree_path(d), self.tree_path(d))?;
                for blob in other.read_manifest(d)?.files.values() {
                    link(other.object_path(blob), self.object_path(blob))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 30, case 1: a folder manifest (from a tampered cache or a remote, its digest
    /// matching) whose file names leave the folder would make a view or a publish write
    /// outside it; such a manifest does not read back.
    #[test]
    fn case1_a_manifest_whose_file_names_leave_the_folder_does_not_read_back() {
        let blob = ContentDigest::of_bytes(b"x");
        for rel in [
            "../escape",
            "a/../../b",
            "/etc/passwd",
            "",
            "a//b",
            "./a",
            "a\\b",
        ] {
            let text = serde_json::json!({ "files": { rel: blob } }).to_string();
            let e = serde_json::from_str::<Manifest>(&text).unwrap_err();
            assert!(e.to_string().contains("invalid file name"), "{rel}: {e}");
        }
        let ok = serde_json::json!({ "files": { "sub/a.txt": blob, ".hidden": blob } });
        let m: Manifest = serde_json::from_value(ok).unwrap();
        assert_eq!(m.files.len(), 2);
    }

    /// Issue 30, case 5: a symbolic link is never stored nor made read-only through.
    #[cfg(unix)]
    #[test]
    fn case5_put_file_refuses_a_symbolic_link_and_leaves_its_target_alone() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("cache")).unwrap();
        let target = d.path().join("target");
        std::fs::write(&target, b"t").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = s.put_file(&link).unwrap_err().to_string();
        assert!(e.contains("a symbolic link"), "{e}");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    /// Issue 30, cases 6 and 7: path parameters are hashed through symbolic links (what they
    /// point to enters the key) and refuse devices and FIFOs before reading them.
    #[cfg(unix)]
    #[test]
    fn case6_case7_special_files_are_refused_and_linked_files_hashed_as_their_target() {
        let d = tempfile::tempdir().unwrap();
        let e = Manifest::digest_path(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("is a device"), "{e}");
        let dir = d.path().join("data");
        std::fs::create_dir_all(&dir).unwrap();
        let outside = d.path().join("images.npy");
        std::fs::write(&outside, b"one").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("images.npy")).unwrap();
        let before = Manifest::digest_path(&dir).unwrap();
        std::fs::write(&outside, b"two").unwrap();
        assert_ne!(Manifest::digest_path(&dir).unwrap(), before);
        let fifo = dir.join("pipe");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = Manifest::digest_path(&dir).unwrap_err();
        assert!(e.to_string().contains("is a FIFO"), "{e}");
        let e = Manifest::digest_path(&fifo).unwrap_err();
        assert!(e.to_string().contains("is a FIFO"), "{e}");
    }
}
