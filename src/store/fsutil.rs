//! Crash-safe file operations used by the store: atomic writes (temp file, fsync, rename) and
//! the JSON files (records, jobs) written that way; what kind of file a path is, for refusing
//! symlinks, devices and FIFOs where a regular file or folder is expected.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use crate::jsonfile::{self, JsonFileError};

/// Writes `bytes` to `path` atomically: readers see the old file or the complete new one,
/// never a partial write, even if the process is killed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes `value` as pretty-printed JSON to `path`, atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let bytes = jsonfile::to_pretty(path, value)?;
    write_atomic(path, &bytes).map_err(StoreError::io(path))
}

/// Reads a JSON file the store wrote: `None` when there is none, `Corrupt` when it does not
/// parse as a `T`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    Ok(jsonfile::read_if_present(path)?)
}

impl From<JsonFileError> for StoreError {
    fn from(e: JsonFileError) -> Self {
        match e {
            JsonFileError::Io { path, cause } => StoreError::Io { path, cause },
            JsonFileError::Json { path, cause } => StoreError::Corrupt {
                path,
                message: cause.to_string(),
            },
        }
    }
}

/// Removes a file; one that is not there is fine.
pub fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io {
            path: path.to_owned(),
            cause: e,
        }),
        _ => Ok(()),
    }
}

/// What a file that is not a regular file or folder is, in words (`None` for those two).
pub fn irregular_kind(ty: std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    use std::os::unix::fs::FileTypeExt;
    if ty.is_file() || ty.is_dir() {
        return None;
    }
    if ty.is_symlink() {
        return Some("a symbolic link");
    }
    #[cfg(unix)]
    {
        if ty.is_fifo() {
            return Some("a FIFO");
        }
        if ty.is_socket() {
            return Some("a socket");
        }
        if ty.is_char_device() || ty.is_block_device() {
            return Some("a device");
        }
    }
    Some("a special file")
}

/// The first entry at or under `path` (not following symbolic links) that is not a regular
/// file or folder, with what it is: stage outputs must be regular files or folders of them.
pub fn first_irregular(path: &Path) -> Option<(std::path::PathBuf, &'static str)> {
    // WalkDir follows a symbolic link at its root: look at the root itself first.
    let top = std::fs::symlink_metadata(path).ok()?.file_type();
    if let Some(kind) = irregular_kind(top) {
        return Some((path.to_owned(), kind));
    }
    walkdir::WalkDir::new(path)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .find_map(|e| irregular_kind(e.file_type()).map(|k| (e.path().to_owned(), k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_and_fifos_are_named_regular_files_are_not() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("out");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a"), b"x").unwrap();
        assert_eq!(first_irregular(&dir), None);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", dir.join("sub/link")).unwrap();
            let (p, what) = first_irregular(&dir).unwrap();
            assert_eq!((p, what), (dir.join("sub/link"), "a symbolic link"));
            assert_eq!(
                first_irregular(&dir.join("sub/link")).map(|x| x.1),
                Some("a symbolic link")
            );
            let dev = std::fs::symlink_metadata("/dev/null").unwrap().file_type();
            assert_eq!(irregular_kind(dev), Some("a device"));
        }
    }
}
