//! The built-in stage definitions: sapipe's own `stages/*.yaml`, embedded in the binary at
//! build time (see build.rs), so `uses: train` works in any project. A project's own
//! `stages/NAME.yaml` overrides the built-in of the same name.

/// Name and YAML text of every built-in definition, sorted by name.
pub const DEFINITIONS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_stages.rs"));

/// The YAML text of the built-in definition `name`.
pub fn text(name: &str) -> Option<&'static str> {
    DEFINITIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// Names of the built-in definitions, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    DEFINITIONS.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::spec::definition::{Definition, DefinitionSource};

    #[test]
    fn every_file_of_stages_is_embedded_byte_for_byte() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("stages");
        let on_disk = crate::spec::pipeline::available_definitions(&dir);
        assert_eq!(names().collect::<Vec<_>>(), on_disk);
        for (name, text) in DEFINITIONS {
            let file = std::fs::read_to_string(dir.join(format!("{name}.yaml"))).unwrap();
            assert_eq!(*text, file, "{name}");
        }
    }

    #[test]
    fn embedded_and_project_file_resolve_to_the_same_definition() {
        // Keys are computed from the resolved definition: equal apart from where it came
        // from means equal keys, whichever of the two a pipeline uses.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let kinds = crate::stages::registry();
        for name in names() {
            let file = root.join("stages").join(format!("{name}.yaml"));
            let from_file = Definition::load(&file, root, &kinds).unwrap();
            let embedded = Definition::builtin(name, root, &kinds).unwrap().unwrap();
            assert_eq!(embedded.source, DefinitionSource::Builtin);
            assert!(matches!(
                from_file.source,
                DefinitionSource::Project {
                    same_as_builtin: Some(true),
                    ..
                }
            ));
            let strip = |mut d: Definition| {
                d.file = Default::default();
                d.source = DefinitionSource::Builtin;
                d
            };
            assert_eq!(strip(from_file), strip(embedded), "{name}");
        }
    }
}
