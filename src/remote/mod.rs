//! Remote caches: a shared copy of the cache's objects, directory manifests and stage records
//! that several machines push to and pull from (`push`, `pull`, `run --pull/--push`).
//!
//! A remote mirrors the cache's layout (`objects/ab/cdef…`, `trees/ab/cdef….json`,
//! `records/ab/cdef….json`) behind a small [`Backend`] trait: `directory` is a shared
//! filesystem (NFS-safe: temporary names and atomic renames, no locks), `s3` an S3-compatible
//! object store (feature `s3`). Where remotes come from
//! is `config`; moving bytes with progress and the test hook is `transfer`; deciding what to
//! send or fetch, verifying everything fetched and adopting it into the local store is `sync`;
//! `run --pull/--push` is `launcher`.
//!
//! Invariants: a record reaches a remote only after every object and manifest it names, and a
//! local cache only after every byte it names was fetched and hashed to its name and checked
//! against the record. Nothing remote is trusted.

pub mod config;
pub mod directory;
pub mod launcher;
#[cfg(feature = "s3")]
pub mod s3;
pub mod sync;
pub mod transfer;

use std::io::Write;
use std::path::Path;

use crate::key::{ContentDigest, StageKey};
use crate::store::StoreError;

pub use config::{RemoteSpec, resolve};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// A remote that cannot be used as declared (the message names where it was declared).
    #[error("{0}")]
    Config(String),
    #[error("remote {remote}: {path}: {cause}")]
    Io {
        remote: String,
        path: String,
        cause: std::io::Error,
    },
    /// Bytes fetched from a remote are not what their name or the record says: never stored.
    #[error(
        "remote {remote}: key {key}: {what} is not what it claims to be ({why}); it was not stored"
    )]
    Untrusted {
        remote: String,
        key: String,
        what: String,
        why: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a remote keeps its entries: paths relative to its root, with `/`.
pub trait Backend: Send + Sync {
    /// The remote as the user named it (for messages).
    fn describe(&self) -> String;
    /// The size of an entry, or `None` when the remote lacks it.
    fn stat(&self, path: &str) -> Result<Option<u64>, RemoteError>;
    /// Streams an entry into `to`; `false` when the remote lacks it.
    fn read_to(
        &self,
        path: &str,
        to: &mut dyn Write,
        moved: &dyn Fn(u64),
    ) -> Result<bool, RemoteError>;
    /// Stores the local file `from` as `path`, atomically: readers see the entry whole or not
    /// at all, even if this process is killed midway.
    fn write_from(&self, path: &str, from: &Path, moved: &dyn Fn(u64)) -> Result<(), RemoteError>;
}

/// `folder/ab/cdef…SUFFIX`: built only from a validated digest or key.
fn sharded((shard, rest): (&str, &str), folder: &str, suffix: &str) -> String {
    format!("{folder}/{shard}/{rest}{suffix}")
}

/// The remote path of a blob.
pub fn object_path(d: &ContentDigest) -> String {
    sharded(d.shard(), "objects", "")
}

/// The remote path of a directory manifest.
pub fn tree_path(d: &ContentDigest) -> String {
    sharded(d.shard(), "trees", ".json")
}

/// The remote path of a stage record.
pub fn record_path(k: &StageKey) -> String {
    sharded(k.shard(), "records", ".json")
}

/// Opens the backend of a resolved remote.
pub fn open(spec: &RemoteSpec) -> Result<Box<dyn Backend>, RemoteError> {
    match spec {
        RemoteSpec::Directory { path, .. } => Ok(Box::new(directory::DirectoryRemote::open(path)?)),
        #[cfg(feature = "s3")]
        RemoteSpec::S3 { url, origin } => Ok(Box::new(s3::S3Remote::open(url, origin)?)),
        #[cfg(not(feature = "s3"))]
        RemoteSpec::S3 { url, origin } => Err(RemoteError::Config(format!(
            "{origin}: remote {url}: this sapipe was built without S3 support (the `s3` \
             feature); use a directory remote, or build with `--features s3`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_mirror_the_cache_layout() {
        let d = ContentDigest::of_bytes(b"x");
        let p = object_path(&d);
        assert_eq!(p, format!("objects/{}/{}", &d.hex()[..2], &d.hex()[2..]));
        assert!(tree_path(&d).starts_with("trees/") && tree_path(&d).ends_with(".json"));
    }
}
