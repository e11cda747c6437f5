//! Profiles: named sets of overrides inside a pipeline file, chosen on the command line with
//! `--profile NAME` (for example the paper's full scale next to a demo sized for a laptop).
//!
//! ```yaml
//! profiles:
//!   paper:
//!     doc: "the paper's scale, for a GPU"
//!     device: auto
//!     with:
//!       data: { neurons: 300, train_images: 34000 }
//!       "*": { epochs: 50 }     # every stage whose definition declares `epochs`
//! ```
//!
//! A profile changes parameters, hence keys, exactly as editing `with:` would; a named stage's
//! entry wins over `*` (and an expanded stage's own entry over its matrix stage's). Its results
//! get their own lock file (`NAME.PROFILE.lock`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::Value;

/// The stage key of a profile's `with` that applies to every stage declaring the parameter.
pub const EVERY_STAGE: &str = "*";

/// One profile, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    #[serde(default)]
    pub doc: String,
    /// cpu | cuda | auto, over the pipeline's.
    #[serde(default)]
    pub device: Option<String>,
    /// Stage name (or `*`) -> parameter overrides.
    #[serde(default, rename = "with")]
    pub with: BTreeMap<String, BTreeMap<String, Value>>,
}

/// Why a profile does not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileError {
    /// No profile of that name; the valid names.
    Unknown { name: String, valid: Vec<String> },
    /// `with` names a stage the pipeline does not have.
    UnknownStage { stage: String },
}

impl ProfileError {
    pub fn message(&self) -> String {
        match self {
            ProfileError::Unknown { name, valid } if valid.is_empty() => format!(
                "no profile '{name}': the pipeline declares no `profiles:` (add one, e.g. \
                 `profiles: {{ {name}: {{ with: {{ \"*\": {{ epochs: 50 }} }} }} }}`)"
            ),
            ProfileError::Unknown { name, valid } => {
                format!("no profile '{name}' (profiles: {})", valid.join(", "))
            }
            ProfileError::UnknownStage { stage } => format!(
                "no stage '{stage}' in this pipeline (a profile's `with` names stages, or \"*\")"
            ),
        }
    }
}

/// The profile `name` of `profiles`, its stage names checked against `stages`.
pub fn choose<'a>(
    profiles: &'a BTreeMap<String, RawProfile>,
    name: &str,
    stages: &[&str],
) -> Result<&'a RawProfile, ProfileError> {
    let profile = profiles.get(name).ok_or_else(|| ProfileError::Unknown {
        name: name.to_owned(),
        valid: profiles.keys().cloned().collect(),
    })?;
    if let Some(stage) = profile
        .with
        .keys()
        .find(|s| *s != EVERY_STAGE && !stages.contains(&s.as_str()))
    {
        return Err(ProfileError::UnknownStage {
            stage: stage.clone(),
        });
    }
    Ok(profile)
}

/// The parameters `profile` sets on a stage known by `scopes` (its matrix stage, then its own
/// name): the `*` entries its definition `declares`, then each scope's entries over them.
pub fn overrides(
    profile: &RawProfile,
    scopes: &[&str],
    declares: impl Fn(&str) -> bool,
) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = profile
        .with
        .get(EVERY_STAGE)
        .into_iter()
        .flatten()
        .filter(|(k, _)| declares(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for own in scopes.iter().filter_map(|s| profile.with.get(*s)) {
        out.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles() -> BTreeMap<String, RawProfile> {
        let yaml = r#"
paper:
  device: auto
  with:
    data: { neurons: 300 }
    "*": { epochs: 50, neurons: 7 }
    fit: { epochs: 20 }
"#;
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn named_stages_win_over_every_stage_and_undeclared_parameters_are_skipped() {
        let all = profiles();
        let p = choose(&all, "paper", &["data", "fit", "eval"]).unwrap();
        let declares = |params: &'static [&'static str]| move |k: &str| params.contains(&k);
        let data = overrides(p, &["data"], declares(&["neurons", "train_images"]));
        assert_eq!(data, BTreeMap::from([("neurons".into(), Value::from(300))]));
        let fit = overrides(p, &["fit"], declares(&["epochs", "lr"]));
        assert_eq!(fit, BTreeMap::from([("epochs".into(), Value::from(20))]));
        let eval = overrides(p, &["eval"], declares(&["baseline"]));
        assert!(eval.is_empty());
    }

    #[test]
    fn unknown_profiles_and_stages_are_named() {
        let all = profiles();
        let err = choose(&all, "full", &["data", "fit"]).unwrap_err();
        assert_eq!(err.message(), "no profile 'full' (profiles: paper)");
        let err = choose(&all, "paper", &["data"]).unwrap_err();
        assert_eq!(
            err,
            ProfileError::UnknownStage {
                stage: "fit".into()
            }
        );
        let none = BTreeMap::new();
        let err = choose(&none, "paper", &[]).unwrap_err().message();
        assert!(err.contains("declares no `profiles:`"), "{err}");
    }
}
