//! Which remote a command uses: `--remote`, else `SAPIPE_REMOTE`, else the project's
//! `.sapipe/config.yaml` (its `default`, or its only remote). Each of these is either the name
//! of a remote declared in that file or a location: `s3://bucket/prefix`, or a plain path (a
//! directory remote; relative paths are relative to the current directory, or in the file, to
//! the project root).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::RemoteError;

/// The project file that declares remotes, relative to the project root.
pub const CONFIG_FILE: &str = ".sapipe/config.yaml";

/// A resolved remote: where it is, and where it was declared (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSpec {
    Directory { path: PathBuf, origin: String },
    S3 { url: String, origin: String },
}

impl RemoteSpec {
    /// The remote as the user gave it.
    pub fn location(&self) -> String {
        match self {
            RemoteSpec::Directory { path, .. } => path.display().to_string(),
            RemoteSpec::S3 { url, .. } => url.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    remotes: BTreeMap<String, String>,
    #[serde(default)]
    default: Option<String>,
}

fn read_config(root: &Path) -> Result<Option<ConfigFile>, RemoteError> {
    let path = root.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RemoteError::Config(format!(
                "{}: cannot read it: {e}",
                path.display()
            )));
        }
    };
    serde_yaml::from_str(&text).map(Some).map_err(|e| {
        RemoteError::Config(format!(
            "{}: {e} (expected `remotes: {{NAME: PATH or s3://bucket/prefix}}` and optionally \
             `default: NAME`)",
            path.display()
        ))
    })
}

/// A location as written: `s3://…` or a path (made absolute against `base`).
fn location(text: &str, base: &Path, origin: String) -> Result<RemoteSpec, RemoteError> {
    if let Some(rest) = text.strip_prefix("s3://") {
        if rest.split('/').next().unwrap_or_default().is_empty() {
            return Err(RemoteError::Config(format!(
                "{origin}: `{text}` names no bucket (expected s3://bucket/prefix)"
            )));
        }
        return Ok(RemoteSpec::S3 {
            url: text.to_string(),
            origin,
        });
    }
    if text.contains("://") {
        return Err(RemoteError::Config(format!(
            "{origin}: `{text}`: unknown kind of remote (valid: a directory path, or \
             s3://bucket/prefix)"
        )));
    }
    if text.trim().is_empty() {
        return Err(RemoteError::Config(format!(
            "{origin}: the remote is empty"
        )));
    }
    Ok(RemoteSpec::Directory {
        path: base.join(text),
        origin,
    })
}

/// Resolves the remote to use; `explicit` is `--remote`.
pub fn resolve(explicit: Option<&str>, project_root: &Path) -> Result<RemoteSpec, RemoteError> {
    let env = std::env::var("SAPIPE_REMOTE")
        .ok()
        .filter(|s| !s.is_empty());
    resolve_with(explicit, env.as_deref(), project_root)
}

fn resolve_with(
    explicit: Option<&str>,
    env: Option<&str>,
    root: &Path,
) -> Result<RemoteSpec, RemoteError> {
    let config = read_config(root)?.unwrap_or_default();
    let file = root.join(CONFIG_FILE);
    let declared = |name: &str| {
        config.remotes.get(name).map(|loc| {
            let origin = format!("{} (remote '{name}')", file.display());
            location(loc, root, origin)
        })
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| root.to_owned());
    for (given, origin) in [(explicit, "--remote"), (env, "SAPIPE_REMOTE")] {
        if let Some(text) = given {
            return declared(text)
                .unwrap_or_else(|| location(text, &cwd, format!("{origin} {text}")));
        }
    }
    let names: Vec<&String> = config.remotes.keys().collect();
    match (&config.default, names.as_slice()) {
        (Some(name), _) => declared(name).unwrap_or_else(|| {
            Err(RemoteError::Config(format!(
                "{}: default: {name} is not among the declared remotes ({})",
                file.display(),
                join(&names)
            )))
        }),
        (None, [only]) => declared(only).expect("a declared name"),
        (None, []) => Err(RemoteError::Config(format!(
            "no remote: give --remote PATH|s3://bucket/prefix, set SAPIPE_REMOTE, or declare \
             `remotes:` in {}",
            file.display()
        ))),
        (None, _) => Err(RemoteError::Config(format!(
            "{}: several remotes ({}) and no `default:`; choose one with --remote NAME",
            file.display(),
            join(&names)
        ))),
    }
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(config: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".sapipe")).unwrap();
        std::fs::write(d.path().join(CONFIG_FILE), config).unwrap();
        d
    }

    #[test]
    fn a_declared_name_resolves_against_the_project_root() {
        let d = project("remotes:\n  lab: shared/cache\n  s3: s3://bucket/pre\ndefault: lab\n");
        let r = resolve_with(None, None, d.path()).unwrap();
        assert_eq!(
            r,
            RemoteSpec::Directory {
                path: d.path().join("shared/cache"),
                origin: format!("{} (remote 'lab')", d.path().join(CONFIG_FILE).display()),
            }
        );
        let s = resolve_with(Some("s3"), None, d.path()).unwrap();
        assert!(matches!(s, RemoteSpec::S3 { url, .. } if url == "s3://bucket/pre"));
    }

    #[test]
    fn the_flag_beats_the_variable_which_beats_the_file() {
        let d = project("remotes:\n  lab: /a\n");
        let r = resolve_with(Some("/b"), Some("/c"), d.path()).unwrap();
        assert_eq!(r.location(), "/b");
        let r = resolve_with(None, Some("/c"), d.path()).unwrap();
        assert_eq!(r.location(), "/c");
        let r = resolve_with(None, None, d.path()).unwrap();
        assert_eq!(r.location(), "/a");
    }

    #[test]
    fn mistakes_name_the_file_and_what_is_valid() {
        let d = project("remotes:\n  a: /a\n  b: /b\n");
        let e = resolve_with(None, None, d.path()).unwrap_err().to_string();
        assert!(
            e.contains("several remotes (a, b)") && e.contains("--remote NAME"),
            "{e}"
        );
        let d = project("remote: {}\n");
        let e = resolve_with(None, None, d.path()).unwrap_err().to_string();
        assert!(e.contains("config.yaml") && e.contains("remotes:"), "{e}");
        let d = project("remotes:\n  a: http://x/y\n");
        let e = resolve_with(Some("a"), None, d.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("remote 'a'") && e.contains("s3://bucket/prefix"),
            "{e}"
        );
        let e = resolve_with(None, Some("s3://"), d.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SAPIPE_REMOTE") && e.contains("no bucket"),
            "{e}"
        );
        let empty = tempfile::tempdir().unwrap();
        let e = resolve_with(None, None, empty.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no remote") && e.contains("SAPIPE_REMOTE"),
            "{e}"
        );
    }
}
