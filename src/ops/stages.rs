//! `sapipe stages`: the stage definitions a project can use, built-in ones and its own
//! `stages/*.yaml` (which override a built-in of the same name), and one definition in full.

use std::path::Path;

use serde::Serialize;

use crate::kind::KindRegistry;
use crate::spec::pipeline::available_definitions;
use crate::spec::{Definition, DefinitionSource, SpecError};

/// One available definition.
#[derive(Debug, Clone, Serialize)]
pub struct Available {
    pub name: String,
    #[serde(flatten)]
    pub source: DefinitionSource,
    pub kind: String,
    pub description: String,
    /// Why a project file cannot be used (it does not parse or check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Every definition usable from the project at `root` (built-ins only without a project),
/// sorted by name; a project file replaces the built-in of its name.
pub fn list(root: Option<&Path>, kinds: &KindRegistry) -> Vec<Available> {
    let mut out: Vec<Available> = Vec::new();
    let project_names = root
        .map(|r| available_definitions(&r.join("stages")))
        .unwrap_or_default();
    for name in crate::spec::builtin::names() {
        if project_names.iter().any(|n| n == name) {
            continue;
        }
        let here = root.unwrap_or(Path::new("."));
        out.push(entry(
            name,
            Definition::builtin(name, here, kinds)
                .and_then(|d| d.ok_or_else(|| SpecError::new(Path::new(name), "not built in"))),
        ));
    }
    if let Some(root) = root {
        for name in &project_names {
            let file = root.join("stages").join(format!("{name}.yaml"));
            let mut e = entry(name, Definition::load(&file, root, kinds));
            if e.problem.is_some() {
                e.source = DefinitionSource::Project {
                    file: file.strip_prefix(root).unwrap_or(&file).to_owned(),
                    same_as_builtin: crate::spec::builtin::text(name).map(|_| false),
                };
            }
            out.push(e);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn entry(name: &str, def: Result<Definition, SpecError>) -> Available {
    match def {
        Ok(d) => Available {
            name: name.to_string(),
            source: d.source,
            kind: d.kind,
            description: d.description,
            problem: None,
        },
        Err(e) => Available {
            name: name.to_string(),
            source: DefinitionSource::Builtin,
            kind: String::new(),
            description: String::new(),
            problem: Some(e.to_string()),
        },
    }
}

/// The definition `name` as the project at `root` would use it.
pub fn find(
    root: Option<&Path>,
    name: &str,
    kinds: &KindRegistry,
) -> Result<Definition, SpecError> {
    let here = root.unwrap_or(Path::new("."));
    let file = here.join("stages").join(format!("{name}.yaml"));
    if root.is_some() && crate::spec::pipeline::valid_name(name) && file.is_file() {
        return Definition::load(&file, here, kinds);
    }
    if let Some(d) = Definition::builtin(name, here, kinds)? {
        return Ok(d);
    }
    let known: Vec<String> = list(root, kinds).into_iter().map(|a| a.name).collect();
    Err(SpecError::new(
        &here.join("stages"),
        format!(
            "no stage definition '{name}' ({}); `sapipe stages` lists them",
            crate::spec::error::suggest(name, known.iter().map(String::as_str))
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_project_every_builtin_is_listed_as_such() {
        let all = list(None, &crate::stages::registry());
        let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
        assert!(
            names.contains(&"train") && names.contains(&"synthetic-v1"),
            "{names:?}"
        );
        assert!(
            all.iter()
                .all(|a| a.source == DefinitionSource::Builtin && a.problem.is_none())
        );
    }

    #[test]
    fn a_project_file_replaces_the_builtin_and_a_broken_one_is_reported() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("stages")).unwrap();
        let prep = crate::spec::builtin::text("preprocess").unwrap();
        std::fs::write(
            t.path().join("stages/preprocess.yaml"),
            prep.replace("default: 50,", "default: 40,"),
        )
        .unwrap();
        std::fs::write(
            t.path().join("stages/broken.yaml"),
            "name: broken\nkind: nope\n",
        )
        .unwrap();
        let all = list(Some(t.path()), &crate::stages::registry());
        let prep = all.iter().find(|a| a.name == "preprocess").unwrap();
        assert!(prep.source.overrides_builtin(), "{:?}", prep.source);
        assert_eq!(all.iter().filter(|a| a.name == "preprocess").count(), 1);
        let broken = all.iter().find(|a| a.name == "broken").unwrap();
        assert!(
            broken.problem.as_deref().unwrap().contains("nope"),
            "{broken:?}"
        );
        let d = find(Some(t.path()), "preprocess", &crate::stages::registry()).unwrap();
        assert_eq!(d.params["size"].default, Some(serde_json::json!(40)));
        let e = find(Some(t.path()), "preproces", &crate::stages::registry()).unwrap_err();
        assert!(e.to_string().contains("preprocess"), "{e}");
    }
}
