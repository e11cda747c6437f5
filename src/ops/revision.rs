//! Reads a file as it was committed at a git revision (`git show REV:./FILE`), for `diff
//! --rev`. Git is run in the file's folder; its failures become typed errors naming the
//! revision and the file.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error("cannot run git in {dir}: {message} (--rev needs git and a repository)")]
    Git { dir: PathBuf, message: String },
    #[error(
        "--rev {rev}: not a revision of the git repository at {dir} (valid: a commit, branch or \
         tag, e.g. HEAD or HEAD~1)"
    )]
    Unknown { rev: String, dir: PathBuf },
    #[error(
        "{path} is not in revision {rev}: commit the lock file there, or compare with another \
         --rev"
    )]
    Absent { path: PathBuf, rev: String },
}

/// The text of `file` at revision `rev` of the repository holding it.
pub fn read_at(file: &Path, rev: &str) -> Result<String, RevisionError> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .map_err(|e| RevisionError::Git {
                dir: dir.to_owned(),
                message: e.to_string(),
            })
    };
    let inside = git(&["rev-parse", "--is-inside-work-tree"])?;
    if !inside.status.success() {
        return Err(RevisionError::Git {
            dir: dir.to_owned(),
            message: String::from_utf8_lossy(&inside.stderr).trim().to_string(),
        });
    }
    // `--end-of-options` keeps a revision that starts with '-' from being read as an option.
    let commit = format!("{rev}^{{commit}}");
    let known = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &commit,
    ])?;
    if !known.status.success() {
        return Err(RevisionError::Unknown {
            rev: rev.to_string(),
            dir: dir.to_owned(),
        });
    }
    let shown = git(&["show", &format!("{rev}:./{name}")])?;
    if !shown.status.success() {
        return Err(RevisionError::Absent {
            path: file.to_owned(),
            rev: rev.to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&shown.stdout).into_owned())
}
