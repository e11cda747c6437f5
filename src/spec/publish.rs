//! Where `publish:` may write (issue 30): a path inside the project, relative and without
//! `..` (checked at load), never over the project's own definitions (`stages/`), pipelines and
//! lock files (`pipelines/`, the pipeline file), configuration (`sapipe.toml`, `.sapipe/`),
//! cache (`cache/`, or wherever the cache is) or repository (`.git/`), nor over a folder that
//! holds one of them; and never through a symbolic link (checked again when publishing, since
//! links can appear after the pipeline was loaded).

use std::path::{Component, Path, PathBuf};

/// Project entries no publish target may be, hold or lie inside, relative to the root.
const RESERVED: [&str; 6] = [
    "stages",
    "pipelines",
    "cache",
    "sapipe.toml",
    ".sapipe",
    ".git",
];

/// Why `target` (as written, relative to `root`) may not be published to, if it may not:
/// it leaves the project, or it is, holds or lies inside a reserved entry or `pipeline_file`.
pub fn refuse_target(root: &Path, pipeline_file: &Path, target: &str) -> Option<String> {
    let normal: Option<Vec<&std::ffi::OsStr>> = Path::new(target)
        .components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let parts = match normal {
        Some(parts) if !parts.is_empty() => parts,
        _ => {
            return Some(format!(
                "'{target}' is not inside the project: publish targets are paths relative to \
                 the project root, without '..' (copy results elsewhere from there)"
            ));
        }
    };
    let rel: PathBuf = parts.iter().collect();
    let own = pipeline_file.strip_prefix(root).ok().map(Path::to_owned);
    let lock = own.as_ref().map(|f| f.with_extension("lock"));
    let clash = RESERVED
        .iter()
        .map(PathBuf::from)
        .chain(own)
        .chain(lock)
        .find(|r| rel.starts_with(r) || r.starts_with(&rel))?;
    Some(format!(
        "'{target}' would overwrite the project's own '{}': publish targets may not be, hold \
         or lie inside {}, the pipeline file or its lock file; publish under a folder such as results/",
        clash.display(),
        RESERVED.join(", ")
    ))
}

/// Checks, just before publishing, that no part of `target` from `root` down (the target
/// included) is a symbolic link and that it is not inside `cache`: the bytes go exactly where
/// the pipeline says, inside the project.
pub fn check_on_disk(root: &Path, cache: &Path, target: &Path) -> Result<(), String> {
    let rel = target.strip_prefix(root).map_err(|_| {
        format!(
            "{} is not inside the project {}",
            target.display(),
            root.display()
        )
    })?;
    if target.starts_with(cache) {
        return Err(format!(
            "{} is inside the cache {}",
            target.display(),
            cache.display()
        ));
    }
    let mut at = root.to_owned();
    for part in rel.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link: publish never writes through one (remove it, or \
                     publish elsewhere)",
                    at.display()
                ));
            }
            Ok(_) => {}
            Err(_) => break, // not there yet: created as a plain folder or file
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 30, case 8: publish may overwrite stages/*.yaml, the pipeline file, sapipe.toml
    /// and cache/.
    #[test]
    fn case8_publish_targets_over_the_projects_own_files_are_refused() {
        let root = Path::new("/p");
        let file = Path::new("/p/mine.yaml");
        for bad in [
            "stages/gen.yaml",
            "./pipelines/demo.lock",
            "sapipe.toml",
            "cache",
            "cache/objects/ab/cd",
            ".sapipe/config.yaml",
            "mine.yaml",
            "mine.lock",
            ".",
            "..",
            "/etc/passwd",
            "results/../stages/x.yaml",
        ] {
            assert!(refuse_target(root, file, bad).is_some(), "{bad}");
        }
        let e = refuse_target(root, file, "stages/gen.yaml").unwrap();
        assert!(e.contains("'stages'") && e.contains("results/"), "{e}");
        for good in [
            "results/all.txt",
            "out",
            "./results/x/y.png",
            "stages-copy/x",
        ] {
            assert_eq!(refuse_target(root, file, good), None, "{good}");
        }
    }

    /// Issue 30, case 8: publish followed a symlinked parent folder out of the project.
    #[cfg(unix)]
    #[test]
    fn case8_publish_never_writes_through_a_symbolic_link() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("p");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join("results")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("results/linked")).unwrap();
        let cache = root.join("cache");
        let e = check_on_disk(&root, &cache, &root.join("results/linked/x.txt")).unwrap_err();
        assert!(e.contains("results/linked is a symbolic link"), "{e}");
        std::os::unix::fs::symlink("/etc/hostname", root.join("results/f")).unwrap();
        assert!(check_on_disk(&root, &cache, &root.join("results/f")).is_err());
        assert!(check_on_disk(&root, &cache, &root.join("results/new/x.txt")).is_ok());
        assert!(check_on_disk(&root, &root.join("results"), &root.join("results/x")).is_err());
    }
}
