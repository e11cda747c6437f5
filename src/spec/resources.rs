//! Where stages run: the pipeline's `executor` (`local`, the default, or `slurm`) and the
//! resources each stage's Slurm job asks for. A pipeline's `resources:` are defaults for every
//! stage; a stage's own `resources:` override them field by field (its `sbatch` arguments come
//! after the pipeline's). Resources never enter a stage key: they change where a result is
//! computed, not what it is.
//!
//! ```yaml
//! executor: slurm
//! resources: { cpus: 2, memory: 8G, time: "2:00:00", partition: cpu, sbatch: ["--account=lab"] }
//! stages:
//!   train: { uses: train, needs: [prep], resources: { gpus: 1, partition: gpu, time: "1-00:00:00" } }
//! ```

use serde::Deserialize;
use serde_yaml::Value;

/// How a run executes its stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    /// In this process, independent stages in parallel.
    #[default]
    Local,
    /// One Slurm batch job per stage; the cache must be on a filesystem the nodes share.
    Slurm,
}

impl Executor {
    /// The `executor:` field of a pipeline (absent: local).
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text {
            None | Some("local") => Ok(Self::Local),
            Some("slurm") => Ok(Self::Slurm),
            Some(other) => Err(format!(
                "'{other}' is not an executor (valid: local, slurm)"
            )),
        }
    }
}

/// `resources:` as written, at the pipeline level or in a stage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    /// GPUs of the job (`--gres=gpu:N`).
    #[serde(default)]
    pub gpus: Option<u32>,
    /// CPUs of the job's task (`--cpus-per-task`).
    #[serde(default)]
    pub cpus: Option<u32>,
    /// Memory per node (`--mem`): megabytes, or with a unit K, M, G or T (`8G`).
    #[serde(default)]
    pub memory: Option<Value>,
    /// Time limit (`--time`): minutes, or `[days-]hours:minutes:seconds` and Slurm's other forms.
    #[serde(default)]
    pub time: Option<Value>,
    #[serde(default)]
    pub partition: Option<String>,
    /// Further `sbatch` arguments, e.g. `["--account=lab", "--constraint=a100"]`.
    #[serde(default)]
    pub sbatch: Vec<String>,
}

/// The resources of one stage's job: the pipeline's defaults with the stage's overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub gpus: u32,
    pub cpus: Option<u32>,
    pub memory: Option<String>,
    pub time: Option<String>,
    pub partition: Option<String>,
    pub sbatch: Vec<String>,
}

/// Arguments sapipe sets itself on every job: a user's `sbatch` list may not change them.
const RESERVED: [&str; 12] = [
    "--parsable",
    "--output",
    "-o",
    "--error",
    "-e",
    "--chdir",
    "-D",
    "--dependency",
    "-d",
    "--wrap",
    "--kill-on-invalid-dep",
    "--job-name",
];

impl Resources {
    /// Merges the pipeline's defaults with a stage's overrides, checking every value.
    /// Errors name the field and say what is valid.
    pub fn resolve(
        defaults: Option<&RawResources>,
        stage: Option<&RawResources>,
    ) -> Result<Self, String> {
        let mut out = Resources::default();
        for raw in [defaults, stage].into_iter().flatten() {
            if let Some(g) = raw.gpus {
                out.gpus = g;
            }
            if let Some(c) = raw.cpus {
                if c == 0 {
                    return Err("resources: 'cpus' must be at least 1".into());
                }
                out.cpus = Some(c);
            }
            if let Some(m) = &raw.memory {
                out.memory = Some(memory(m)?);
            }
            if let Some(t) = &raw.time {
                out.time = Some(time_limit(t)?);
            }
            if let Some(p) = &raw.partition {
                if p.is_empty() || p.contains(char::is_whitespace) {
                    return Err(format!(
                        "resources: 'partition' must be a partition name, found '{p}'"
                    ));
                }
                out.partition = Some(p.clone());
            }
            for arg in &raw.sbatch {
                check_sbatch_arg(arg)?;
                out.sbatch.push(arg.clone());
            }
        }
        Ok(out)
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `--mem`: a whole number of megabytes, or with a unit K, M, G or T.
fn memory(v: &Value) -> Result<String, String> {
    let bad = |found: &str| {
        format!(
            "resources: 'memory' {found} is not a memory size (valid: megabytes, or a number with a unit K, M, G or T, e.g. 8G)"
        )
    };
    let text = scalar_text(v).ok_or_else(|| bad(&format!("{v:?}")))?;
    let upper = text.to_ascii_uppercase();
    let digits = upper.trim_end_matches(['K', 'M', 'G', 'T']);
    let unit_len = upper.len() - digits.len();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || unit_len > 1 {
        return Err(bad(&format!("'{text}'")));
    }
    Ok(upper)
}

/// `--time`: `minutes`, `minutes:seconds`, `hours:minutes:seconds`, `days-hours`,
/// `days-hours:minutes`, `days-hours:minutes:seconds`, or `infinite`/`unlimited`.
fn time_limit(v: &Value) -> Result<String, String> {
    let bad = |found: &str| {
        format!(
            "resources: 'time' {found} is not a Slurm time limit (valid: minutes, \"hours:minutes:seconds\", \"days-hours:minutes:seconds\", ..., e.g. \"2:00:00\")"
        )
    };
    let text = scalar_text(v).ok_or_else(|| bad(&format!("{v:?}")))?;
    if ["infinite", "unlimited"].contains(&text.to_ascii_lowercase().as_str()) {
        return Ok(text.to_ascii_uppercase());
    }
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, text.as_str()),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = days.is_none_or(numeric) && parts.len() <= 3 && parts.iter().all(|p| numeric(p));
    if !ok {
        return Err(bad(&format!("'{text}'")));
    }
    Ok(text)
}

fn check_sbatch_arg(arg: &str) -> Result<(), String> {
    if !arg.starts_with('-') {
        return Err(format!(
            "resources: 'sbatch' argument '{arg}' is not an option (write each as \"--name=value\")"
        ));
    }
    let reserved = RESERVED.iter().any(|r| {
        if r.starts_with("--") {
            arg == *r || arg.starts_with(&format!("{r}="))
        } else {
            arg.starts_with(r) // `-o`, `-ofile`
        }
    });
    if reserved {
        return Err(format!(
            "resources: 'sbatch' argument '{arg}' is set by sapipe itself (reserved: {})",
            RESERVED.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(yaml: &str) -> RawResources {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn stage_values_override_pipeline_defaults_and_sbatch_arguments_accumulate() {
        let defaults =
            raw("{ cpus: 2, memory: 4g, time: 30, partition: cpu, sbatch: [--account=lab] }");
        let stage =
            raw("{ gpus: 1, partition: gpu, time: \"1-00:00:00\", sbatch: [--constraint=a100] }");
        let r = Resources::resolve(Some(&defaults), Some(&stage)).unwrap();
        assert_eq!(
            r,
            Resources {
                gpus: 1,
                cpus: Some(2),
                memory: Some("4G".into()),
                time: Some("1-00:00:00".into()),
                partition: Some("gpu".into()),
                sbatch: vec!["--account=lab".into(), "--constraint=a100".into()],
            }
        );
        assert_eq!(
            Resources::resolve(None, None).unwrap(),
            Resources::default()
        );
    }

    #[test]
    fn accepts_slurm_memory_and_time_forms() {
        for m in ["512", "8G", "16000M", "1t"] {
            assert!(memory(&Value::String(m.into())).is_ok(), "{m}");
        }
        for t in [
            "30",
            "30:00",
            "2:00:00",
            "1-12",
            "1-12:30",
            "2-00:00:00",
            "infinite",
        ] {
            assert!(time_limit(&Value::String(t.into())).is_ok(), "{t}");
        }
        assert_eq!(
            time_limit(&serde_yaml::from_str("90").unwrap()).unwrap(),
            "90"
        );
    }

    #[test]
    fn rejects_bad_values_naming_the_field_and_what_is_valid() {
        let e = Resources::resolve(Some(&raw("{ memory: 8GB }")), None).unwrap_err();
        assert!(e.contains("'memory' '8GB'") && e.contains("e.g. 8G"), "{e}");
        let e = Resources::resolve(None, Some(&raw("{ time: 1h }"))).unwrap_err();
        assert!(
            e.contains("'time' '1h'") && e.contains("hours:minutes:seconds"),
            "{e}"
        );
        let e = Resources::resolve(None, Some(&raw("{ cpus: 0 }"))).unwrap_err();
        assert!(e.contains("'cpus' must be at least 1"), "{e}");
        for arg in [
            "--output=x",
            "-o",
            "-ox",
            "--dependency=afterok:1",
            "account=lab",
        ] {
            let r = RawResources {
                sbatch: vec![arg.into()],
                ..Default::default()
            };
            assert!(Resources::resolve(Some(&r), None).is_err(), "{arg}");
        }
        assert!(serde_yaml::from_str::<RawResources>("{ gpu: 1 }").is_err());
        assert_eq!(
            Executor::parse(Some("slrum")).unwrap_err(),
            "'slrum' is not an executor (valid: local, slurm)"
        );
    }
}
