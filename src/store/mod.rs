//! The content-addressed cache: objects and directory manifests (`objects`), stage records and
//! heads (`records`), locks (`locks`), integrity checks (`verify`) and garbage collection
//! (`gc`), and checking what is read back (`integrity`). The on-disk layout is described in `cache/README.md`; only this module knows it.

pub mod fsutil;
pub mod gc;
pub mod integrity;
pub mod jobs;
pub mod locks;
pub mod objects;
pub mod records;
pub mod scratch;
pub mod verify;

use std::path::{Path, PathBuf};

pub use records::{OutputRecord, StageRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        // Shown in the message, so not also the error's source (anyhow would print it twice;
        // thiserror takes a field named `source` as the source).
        cause: std::io::Error,
    },
    #[error("{path}: corrupt cache entry: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("missing from the cache: {what} (run `sapipe verify`)")]
    Missing { what: String },
    #[error("{0}")]
    Busy(String),
}

impl StoreError {
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |cause| StoreError::Io {
            path: path.to_owned(),
            cause,
        }
    }
}

/// An open cache directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

const LAYOUT: [&str; 9] = [
    "objects",
    "trees",
    "views",
    "records",
    "heads",
    "logs",
    "locks",
    "tmp",
    "quarantine",
];

impl Store {
    /// Opens (creating if needed) the cache at `root`.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        for d in LAYOUT {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(StoreError::io(&p))?;
        }
        let root = root.canonicalize().map_err(StoreError::io(root))?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh, empty scratch directory under `tmp/` (never taken as complete), named
    /// `LABEL-PID~HOST~RANDOM` so that a later run can tell whose it is ([`Self::clean_dead`]).
    pub fn scratch_dir(&self, label: &str) -> Result<PathBuf, StoreError> {
        let base = self.root.join("tmp");
        let dir = tempfile::Builder::new()
            .prefix(&format!("{label}-{}", scratch::owner_tag()))
            .tempdir_in(&base)
            .map_err(StoreError::io(&base))?
            .keep();
        Ok(dir)
    }

    pub fn log_path(&self, key: &crate::key::StageKey) -> PathBuf {
        self.root.join("logs").join(format!("{}.log", key.hex()))
    }
}
