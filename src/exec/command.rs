//! The `command` stage kind: runs a user's shell command with its parameters, inputs and
//! outputs as `{params.NAME}` / `{inputs.NAME}` / `{outputs.NAME}` placeholders and as
//! `SAPIPE_PARAM_*` / `SAPIPE_INPUT_*` / `SAPIPE_OUTPUT_*` environment variables. The command
//! runs with the project root as its working directory; its output goes to the stage log.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::kind::{KindError, Metrics, StageContext};
use crate::spec::command::scan;

/// Quotes a value for `sh` when it contains anything but safe characters.
pub(crate) fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn env_name(prefix: &str, name: &str) -> String {
    format!("{prefix}{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// Runs the command; Ok when it exits 0.
pub fn run(command: &str, root: &Path, ctx: &StageContext) -> Result<Metrics, KindError> {
    // Placeholder -> shell text (already quoted).
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut env: Vec<(String, String)> = Vec::new();
    for (name, v) in ctx.params {
        values.insert(format!("params.{name}"), shell_quote(&param_text(v)));
        env.push((env_name("SAPIPE_PARAM_", name), param_text(v)));
    }
    let mut many: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, path) in ctx.inputs {
        let p = path.display().to_string();
        match name.split_once('/') {
            Some((input, _)) => many.entry(input.to_string()).or_default().push(p),
            None => {
                values.insert(format!("inputs.{name}"), shell_quote(&p));
                env.push((env_name("SAPIPE_INPUT_", name), p));
            }
        }
    }
    for (name, paths) in many {
        let quoted: Vec<String> = paths.iter().map(|p| shell_quote(p)).collect();
        env.push((env_name("SAPIPE_INPUT_", &name), paths.join("\n")));
        values.insert(format!("inputs.{name}"), quoted.join(" "));
    }
    for (name, path) in ctx.outputs {
        values.insert(
            format!("outputs.{name}"),
            shell_quote(&path.display().to_string()),
        );
        env.push((env_name("SAPIPE_OUTPUT_", name), path.display().to_string()));
    }
    let script = scan(command, |section, name| {
        let key = format!("{section}.{name}");
        values.get(&key).cloned().ok_or(key)
    })
    .map_err(|key| {
        KindError::Invalid(format!(
            "stage '{}': the command uses {{{key}}}, which is not declared",
            ctx.stage
        ))
    })?;
    let log = open_log(&ctx.log_path)?;
    let log_err = log.try_clone().map_err(KindError::io("stage log"))?;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&script)
        .current_dir(root)
        .envs(env)
        .env("SAPIPE_STAGE", ctx.stage)
        .env("SAPIPE_DEVICE", ctx.device.to_string())
        .env("SAPIPE_DETERMINISTIC", ctx.deterministic.to_string())
        .env("SAPIPE_WORKDIR", &ctx.workdir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Its own process group, so a signal stops the whole command (see `interrupt`).
        .process_group(0);
    super::orphans::die_with_sapipe(&mut command);
    let (mut child, _tracked) = super::interrupt::spawn(&mut command, ctx.stage)
        .map_err(KindError::io("cannot start `sh`"))?;
    let status = child
        .wait()
        .map_err(KindError::io("cannot wait for `sh`"))?;
    if status.success() {
        Ok(Metrics::new())
    } else {
        let how = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        Err(KindError::Failed(format!(
            "the command failed ({how}): {script}"
        )))
    }
}

fn open_log(path: &PathBuf) -> Result<std::fs::File, KindError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(KindError::io(format!("stage log {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_values() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("plain-1.0"), "plain-1.0");
    }

    /// Issue 30, case 10: placeholders inside a `--set` value were substituted.
    #[test]
    fn case10_a_value_holding_placeholder_text_is_never_substituted_again() {
        let values = BTreeMap::from([
            ("params.a".to_string(), shell_quote("{outputs.out} x")),
            ("outputs.out".to_string(), "/o".to_string()),
        ]);
        let fill = |c: &str| {
            scan(c, |s, n| {
                values.get(&format!("{s}.{n}")).cloned().ok_or(n.into())
            })
        };
        assert_eq!(
            fill("echo {params.a} > {outputs.out}").unwrap(),
            "echo '{outputs.out} x' > /o"
        );
        assert_eq!(
            fill("awk '{print $1}' {x} {outputs.out}{").unwrap(),
            "awk '{print $1}' {x} /o{"
        );
        assert_eq!(fill("{params.zz}").unwrap_err(), "zz");
    }
}
