//! `sapipe init [DIR]`: creates a project (the files of `template/`: the `sapipe.toml`
//! marker, a commented starter pipeline on the embedded simulated data, an example command
//! stage, a `.gitignore` for the cache and results, a short README). It never overwrites: if
//! any of its files exists, it writes nothing and names them.

use std::path::{Path, PathBuf};

use crate::spec::project::MARKER;

/// The files of a new project: path relative to its root, and content.
pub const FILES: &[(&str, &str)] = &[
    (MARKER, include_str!("template/sapipe.toml")),
    (".gitignore", include_str!("template/gitignore")),
    ("README.md", include_str!("template/README.md")),
    (
        "pipelines/example.yaml",
        include_str!("template/pipelines/example.yaml"),
    ),
    (
        "stages/summary.yaml",
        include_str!("template/stages/summary.yaml"),
    ),
];

/// The starter pipeline, relative to the project root.
pub const STARTER: &str = "pipelines/example.yaml";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(
        "{} already exist{}; `sapipe init` never overwrites, so nothing was written (init another \
         folder, e.g. `sapipe init analysis`, or move {} aside)",
        list(.0), if .0.len() == 1 { "s" } else { "" }, if .0.len() == 1 { "it" } else { "them" }
    )]
    Exists(Vec<PathBuf>),
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

/// What `init` created.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Created {
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
    /// The project this one sits inside, if any (its pipelines will now find this one).
    pub inside: Option<PathBuf>,
}

/// Creates a project at `dir` (made if missing).
pub fn init(dir: &Path) -> Result<Created, InitError> {
    let root = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let existing: Vec<PathBuf> = FILES
        .iter()
        .map(|(rel, _)| root.join(rel))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    let inside = root.parent().and_then(crate::spec::project::find_root);
    let mut files = Vec::new();
    for (rel, text) in FILES {
        let path = root.join(rel);
        let io = |source| InitError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        // create_new: a file that appeared since the check above is not overwritten either.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(io)?;
        tracing::debug!(file = %path.display(), "created");
        files.push(path);
    }
    Ok(Created {
        root,
        files,
        inside,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_every_file_then_refuses_to_overwrite_any() {
        let t = tempfile::tempdir().unwrap();
        let lab = t.path().join("lab");
        let created = init(&lab).unwrap();
        assert_eq!(created.files.len(), FILES.len());
        for (rel, text) in FILES {
            assert_eq!(std::fs::read_to_string(lab.join(rel)).unwrap(), *text);
        }
        std::fs::write(lab.join("README.md"), "ours").unwrap();
        let err = init(&lab).unwrap_err().to_string();
        assert!(
            err.contains("README.md") && err.contains("nothing was written"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(lab.join("README.md")).unwrap(),
            "ours"
        );
    }

    #[test]
    fn one_existing_file_blocks_all_and_nothing_is_written() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(".gitignore"), "mine\n").unwrap();
        let err = init(t.path()).unwrap_err();
        assert!(
            matches!(&err, InitError::Exists(p) if p.len() == 1),
            "{err}"
        );
        assert!(!t.path().join(MARKER).exists());
        assert!(!t.path().join("pipelines").exists());
    }

    #[test]
    fn the_starter_pipeline_and_stage_resolve() {
        let t = tempfile::tempdir().unwrap();
        init(t.path()).unwrap();
        let p = crate::spec::load(&t.path().join(STARTER), &crate::stages::registry()).unwrap();
        assert_eq!(p.root, t.path());
        let summary = p.stage("summary").unwrap();
        assert!(matches!(
            summary.definition.source,
            crate::spec::DefinitionSource::Project {
                same_as_builtin: None,
                ..
            }
        ));
        let train = p.stage("rf_cnn").unwrap();
        assert_eq!(
            train.definition.source,
            crate::spec::DefinitionSource::Builtin
        );
    }
}
