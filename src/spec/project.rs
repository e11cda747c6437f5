//! The one rule for a project's root: the nearest folder, starting from the pipeline's own
//! (or the current one), that holds a project marker: a `sapipe.toml` file (which
//! `sapipe init` writes) or a `pipelines/` folder. A folder named `pipelines` is never a
//! root itself. The root holds `stages/` (definitions that override or add to the built-in
//! ones), `cache/` and the paths pipelines name.

use std::path::{Path, PathBuf};

use super::error::SpecError;

/// The marker file `sapipe init` writes at a project's root.
pub const MARKER: &str = "sapipe.toml";

/// The folder of pipelines, which also marks a project's root.
pub const PIPELINES: &str = "pipelines";

/// The nearest folder at or above `start` holding a project marker, never a `pipelines/`.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(start).unwrap_or_else(|_| start.to_owned());
    abs.ancestors()
        .filter(|d| d.file_name().is_none_or(|n| n != PIPELINES))
        .find(|d| d.join(MARKER).is_file() || d.join(PIPELINES).is_dir())
        .map(Path::to_owned)
}

/// The project root of a pipeline file, or an error saying how to make one.
pub fn root_of_pipeline(pipeline_file: &Path) -> Result<PathBuf, SpecError> {
    let abs = std::path::absolute(pipeline_file).unwrap_or_else(|_| pipeline_file.to_owned());
    let start = abs.parent().unwrap_or(Path::new("/"));
    find_root(start).ok_or_else(|| SpecError::new(pipeline_file, not_found(start)))
}

/// What to say when no folder at or above `start` is a project.
pub fn not_found(start: &Path) -> String {
    format!(
        "no sapipe project here: neither {} nor a folder above it holds {MARKER} or {PIPELINES}/; \
         create one with `sapipe init DIR` (or an empty {MARKER} at the project's root) and keep \
         pipelines in its {PIPELINES}/",
        start.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    #[test]
    fn a_pipeline_in_pipelines_belongs_to_the_folder_above() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("lab/pipelines/mine.yaml");
        touch(&file);
        assert_eq!(root_of_pipeline(&file).unwrap(), t.path().join("lab"));
    }

    #[test]
    fn pipelines_is_never_the_root_even_when_it_holds_pipelines() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("lab/pipelines/pipelines/x.yaml");
        touch(&file);
        assert_eq!(root_of_pipeline(&file).unwrap(), t.path().join("lab"));
    }

    #[test]
    fn the_marker_file_makes_the_nearest_root() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("outer/pipelines/a.yaml"));
        touch(&t.path().join("outer/inner/sapipe.toml"));
        let file = t.path().join("outer/inner/analysis/run.yaml");
        touch(&file);
        assert_eq!(
            root_of_pipeline(&file).unwrap(),
            t.path().join("outer/inner")
        );
    }

    #[test]
    fn no_marker_says_how_to_make_a_project() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("loose/run.yaml");
        touch(&file);
        // The temp dir's ancestors (/tmp, /) hold no marker on a sane machine.
        if find_root(t.path()).is_some() {
            return;
        }
        let err = root_of_pipeline(&file).unwrap_err().to_string();
        assert!(
            err.contains("sapipe init DIR") && err.contains("sapipe.toml"),
            "{err}"
        );
    }
}
