//! A directory remote: a folder on a filesystem several machines mount (NFS, a lab share).
//! Writes go to a temporary name beside the target (`.tmp-HOST-PID-…`, never a valid entry
//! name), are flushed to disk, then renamed into place: rename within one directory is atomic
//! on local filesystems and NFS alike, so a reader sees an entry whole or not at all, and two
//! machines writing the same content-addressed entry at once leave one whole copy. No file
//! locks are used (they do not work reliably across NFS clients).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Backend, RemoteError, transfer};

pub struct DirectoryRemote {
    root: PathBuf,
}

impl DirectoryRemote {
    /// Opens the remote at `root`, creating the folder if needed.
    pub fn open(root: &Path) -> Result<Self, RemoteError> {
        std::fs::create_dir_all(root).map_err(|cause| RemoteError::Io {
            remote: root.display().to_string(),
            path: String::new(),
            cause,
        })?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn io(&self, path: &str) -> impl FnOnce(std::io::Error) -> RemoteError + '_ {
        let path = path.to_string();
        move |cause| RemoteError::Io {
            remote: self.root.display().to_string(),
            path,
            cause,
        }
    }

    fn full(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }
}

/// This host's name as it appears in temporary names.
fn host() -> String {
    crate::exec::host_name().replace(['/', '.'], "_")
}

/// Removes the temporary files in `dir` that a push of this host left when it was killed
/// (`.tmp-HOST-PID-…` with PID gone), once per folder and process (issue 30, case 11). Other
/// hosts' are left alone: their processes cannot be checked from here.
fn clean_dead_temps(dir: &Path) {
    static CLEANED: std::sync::Mutex<std::collections::BTreeSet<PathBuf>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let first = CLEANED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(dir.to_owned());
    if !first {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".tmp-{}-", host());
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let dead = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split('-').next()?.parse::<i32>().ok())
            .is_some_and(|pid| !crate::store::scratch::process_exists(pid));
        if dead && std::fs::remove_file(e.path()).is_ok() {
            tracing::info!(
                "removed {}, left by a push that is gone",
                e.path().display()
            );
        }
    }
}

/// A name for a temporary file beside `target` that no other writer on any host picks.
fn temp_beside(target: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let host = host();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(
        ".tmp-{host}-{}-{}-{nanos}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

impl Backend for DirectoryRemote {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn stat(&self, path: &str) -> Result<Option<u64>, RemoteError> {
        match std::fs::metadata(self.full(path)) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(path)(e)),
        }
    }

    fn read_to(
        &self,
        path: &str,
        to: &mut dyn Write,
        moved: &dyn Fn(u64),
    ) -> Result<bool, RemoteError> {
        let mut file = match std::fs::File::open(self.full(path)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.io(path)(e)),
        };
        transfer::copy(&mut file, to, moved).map_err(self.io(path))?;
        Ok(true)
    }

    fn write_from(&self, path: &str, from: &Path, moved: &dyn Fn(u64)) -> Result<(), RemoteError> {
        let target = self.full(path);
        let dir = target.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(self.io(path))?;
        clean_dead_temps(dir);
        let temp = temp_beside(&target);
        let result = (|| {
            let mut src = std::fs::File::open(from)?;
            let mut out = std::fs::File::create(&temp)?;
            transfer::copy(&mut src, &mut out, moved)?;
            out.sync_all()?;
            drop(out);
            std::fs::rename(&temp, &target)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result.map_err(self.io(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_written_is_read_back_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let remote = DirectoryRemote::open(&d.path().join("remote")).unwrap();
        let src = d.path().join("src");
        std::fs::write(&src, b"hello").unwrap();
        assert_eq!(remote.stat("objects/ab/cd").unwrap(), None);
        remote.write_from("objects/ab/cd", &src, &|_| {}).unwrap();
        assert_eq!(remote.stat("objects/ab/cd").unwrap(), Some(5));
        let mut out = Vec::new();
        assert!(remote.read_to("objects/ab/cd", &mut out, &|_| {}).unwrap());
        assert_eq!(out, b"hello");
        let names: Vec<_> = std::fs::read_dir(d.path().join("remote/objects/ab"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("cd")]);
        assert!(!remote.read_to("objects/ab/ef", &mut out, &|_| {}).unwrap());
    }

    /// Issue 30, case 11: `.tmp-*` files of a killed push stayed on a directory remote.
    #[test]
    fn case11_a_push_removes_the_temporary_files_of_dead_pushes_of_its_host() {
        let d = tempfile::tempdir().unwrap();
        let remote = DirectoryRemote::open(d.path()).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let shard = d.path().join("objects/ab");
        std::fs::create_dir_all(&shard).unwrap();
        let dead_temp = shard.join(format!(".tmp-{}-{dead}-0-1-cd", host()));
        let live_temp = shard.join(format!(".tmp-{}-{}-0-1-ef", host(), std::process::id()));
        let other_host = shard.join(format!(".tmp-elsewhere-{dead}-0-1-cd"));
        for f in [&dead_temp, &live_temp, &other_host] {
            std::fs::write(f, b"half").unwrap();
        }
        let src = d.path().join("src");
        std::fs::write(&src, b"hello").unwrap();
        remote.write_from("objects/ab/cd", &src, &|_| {}).unwrap();
        assert!(!dead_temp.exists());
        assert!(live_temp.exists() && other_host.exists());
    }

    #[test]
    fn a_failed_write_names_the_remote_and_the_entry() {
        let d = tempfile::tempdir().unwrap();
        let remote = DirectoryRemote::open(d.path()).unwrap();
        let e = remote
            .write_from("objects/ab/cd", &d.path().join("missing"), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("objects/ab/cd"), "{e}");
        assert!(
            std::fs::read_dir(d.path().join("objects/ab"))
                .unwrap()
                .next()
                .is_none()
        );
    }
}
