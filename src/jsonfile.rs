//! JSON files, read and written the one way every module does: pretty-printed, with typed
//! errors that keep the file and the cause apart (each caller words them in its own error
//! type). Below every layer, so the engine (the store's records) and the modelling library
//! (datasets, decompositions) share it; atomic writes are the store's (`store::fsutil`).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a JSON file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JsonFileError {
    // The causes are shown in the message, so not also the error's source (anyhow would print
    // them twice; thiserror takes a field named `source` as the source).
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file is not JSON of the expected shape (or the value does not serialise).
    #[error("{path}: {cause}")]
    Json {
        path: PathBuf,
        cause: serde_json::Error,
    },
}

impl JsonFileError {
    /// The file, and the cause in words (for errors that word the file themselves).
    pub fn into_parts(self) -> (PathBuf, String) {
        match self {
            Self::Io { path, cause } => (path, cause.to_string()),
            Self::Json { path, cause } => (path, cause.to_string()),
        }
    }
}

/// `value` as pretty-printed JSON, as every JSON file is written.
pub fn to_pretty(path: &Path, value: &impl Serialize) -> Result<Vec<u8>, JsonFileError> {
    serde_json::to_vec_pretty(value).map_err(|cause| JsonFileError::Json {
        path: path.to_owned(),
        cause,
    })
}

/// Writes `value` to `path` as pretty-printed JSON.
pub fn write(path: &Path, value: &impl Serialize) -> Result<(), JsonFileError> {
    let bytes = to_pretty(path, value)?;
    std::fs::write(path, bytes).map_err(|cause| JsonFileError::Io {
        path: path.to_owned(),
        cause,
    })
}

/// Reads a `T` from the JSON file at `path`.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, JsonFileError> {
    read_if_present(path)?.ok_or_else(|| JsonFileError::Io {
        path: path.to_owned(),
        cause: std::io::ErrorKind::NotFound.into(),
    })
}

/// Reads a `T` from the JSON file at `path`; `None` when there is no such file.
pub fn read_if_present<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, JsonFileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => {
            return Err(JsonFileError::Io {
                path: path.to_owned(),
                cause,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|cause| JsonFileError::Json {
            path: path.to_owned(),
            cause,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tells_a_missing_file_from_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, &vec![1, 2]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[\n  1,\n  2\n]");
        assert_eq!(read::<Vec<i32>>(&path).unwrap(), vec![1, 2]);
        let missing = dir.path().join("b.json");
        assert!(read_if_present::<Vec<i32>>(&missing).unwrap().is_none());
        assert!(matches!(
            read::<Vec<i32>>(&missing),
            Err(JsonFileError::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound
        ));
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(
            read::<Vec<i32>>(&path),
            Err(JsonFileError::Json { .. })
        ));
    }
}
