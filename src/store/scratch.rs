//! Leftovers of dead runs (issue 30, case 11): a run killed mid-stage leaves its scratch
//! folders in `tmp/` (until `gc`, before). Scratch folders are named with their owner, the
//! process id and host (`LABEL-PID~HOST~RANDOM`), and a run, under the shared cache lock,
//! removes those of its own host whose process is gone. Never another live run's: its
//! process exists; a folder of another host, or named otherwise, is left to `gc`.

use std::path::PathBuf;

use super::Store;

/// `PID~HOST~`: the part of a scratch folder's name that says whose it is.
pub(super) fn owner_tag() -> String {
    format!("{}~{}~", std::process::id(), host())
}

/// The host, as it may appear in a file name.
fn host() -> String {
    crate::reproducibility::host_name().replace(['/', '~'], "_")
}

/// The process id in a scratch folder's name when it belongs to a process of this host.
fn owner(name: &str, host: &str) -> Option<i32> {
    let mut parts = name.rsplitn(3, '~');
    let _random = parts.next()?;
    let their_host = parts.next()?;
    let pid = parts.next()?.rsplit('-').next()?.parse().ok()?;
    (their_host == host).then_some(pid)
}

/// Whether process `pid` of this host exists (a zombie counts: its parent still holds it).
pub fn process_exists(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 checks for the process; nothing is sent.
    pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || errno_is_eperm())
}

fn errno_is_eperm() -> bool {
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl Store {
    /// Removes the scratch folders of dead processes of this host; returns what it removed.
    /// Call it holding the cache lock (shared: gc is not running).
    pub fn clean_dead(&self) -> Vec<PathBuf> {
        let host = host();
        let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = owner(&name, &host) else {
                continue;
            };
            if process_exists(pid) {
                continue;
            }
            let path = e.path();
            // Read-only outputs of a killed stage must not stop their own removal.
            make_writable(&path);
            if std::fs::remove_dir_all(&path).is_ok() {
                tracing::info!("removed {}, left by a run that is gone", path.display());
                removed.push(path);
            }
        }
        removed
    }
}

fn make_writable(dir: &std::path::Path) {
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_dir()
            && let Ok(m) = e.metadata()
        {
            let mut p = m.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            p.set_readonly(false);
            let _ = std::fs::set_permissions(e.path(), p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 30, case 11: `tmp/` entries of killed runs stayed until `gc`.
    #[test]
    fn case11_scratch_folders_of_dead_runs_are_removed_and_live_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let mine = s.scratch_dir("st@a,b-1").unwrap();
        let name = mine.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(owner(&name, &host()), Some(std::process::id() as i32));
        // A dead process of this host: a child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let tmp = d.path().join("tmp");
        let dead_dir = tmp.join(format!("gen-{dead}~{}~abc123", host()));
        std::fs::create_dir_all(dead_dir.join("out")).unwrap();
        std::fs::write(dead_dir.join("out/x"), b"x").unwrap();
        let other_host = tmp.join(format!("gen-{dead}~elsewhere~abc123"));
        let old_style = tmp.join("gen-Xy12ab");
        std::fs::create_dir_all(&other_host).unwrap();
        std::fs::create_dir_all(&old_style).unwrap();
        assert_eq!(s.clean_dead(), vec![dead_dir.clone()]);
        assert!(!dead_dir.exists());
        assert!(mine.is_dir() && other_host.is_dir() && old_style.is_dir());
    }
}
