//! Crash-safe file operations used by the store: atomic writes (temp file, fsync, rename) and
//! the JSON files (records, jobs) written that way.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

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
    let bytes = serde_json::to_vec_pretty(value).expect("store files serialise");
    write_atomic(path, &bytes).map_err(StoreError::io(path))
}

/// Reads a JSON file the store wrote: `None` when there is none, `Corrupt` when it does not
/// parse as a `T`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: path.to_owned(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io {
            path: path.to_owned(),
            cause: e,
        }),
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
