//! Submitting and cancelling batch jobs: the `sbatch` arguments of a stage's job (its
//! resources, its log file in the cache, its dependencies) and its script, which runs this very
//! `sapipe` binary as `sapipe exec-stage` on the compute node.

use std::path::PathBuf;

use super::{SlurmError, call, stdout_of};
use crate::key::StageKey;
use crate::spec::{Pipeline, Stage};
use crate::store::Store;

/// What every job of a run shares: the binary, cache and pipeline it runs.
#[derive(Debug, Clone)]
pub struct Submitter {
    /// The `sapipe` binary the jobs run (the nodes must reach it at this path).
    pub exe: PathBuf,
    pub cache: PathBuf,
    pub pipeline_file: PathBuf,
    /// The pipeline's profile (`--profile`), which the jobs must apply too.
    pub profile: Option<String>,
    /// The run's `--set` overrides, which the jobs must apply too.
    pub sets: Vec<String>,
    /// The jobs' working directory: the project root.
    pub root: PathBuf,
    /// `--output` of every job (`%j` is the job id).
    pub log_pattern: PathBuf,
}

/// One stage's job.
pub struct JobRequest<'a> {
    pub pipeline: &'a str,
    pub stage: &'a Stage,
    /// The key the job must compute; `None` lets the job compute it (detached runs).
    pub key: Option<&'a StageKey>,
    pub force: bool,
    /// Job ids that must complete successfully first.
    pub after: &'a [String],
}

impl Submitter {
    /// Jobs of `pipeline` on the cache of `store`, run by the current `sapipe` binary.
    pub fn new(pipeline: &Pipeline, store: &Store) -> Result<Self, SlurmError> {
        let exe = std::env::current_exe().map_err(|e| {
            SlurmError::Setup(format!("cannot locate the running sapipe binary: {e}"))
        })?;
        let pipeline_file = std::path::absolute(&pipeline.file)
            .map_err(|e| SlurmError::Setup(format!("{}: {e}", pipeline.file.display())))?;
        Ok(Self {
            exe,
            cache: store.root().to_owned(),
            pipeline_file,
            profile: pipeline.profile.clone(),
            sets: pipeline.overrides.clone(),
            root: pipeline.root.clone(),
            log_pattern: store.slurm_log_pattern(),
        })
    }

    /// The arguments of `sbatch` (the script goes to its standard input).
    pub fn args(&self, req: &JobRequest) -> Vec<String> {
        let r = &req.stage.resources;
        let mut args = vec![
            "--parsable".to_string(),
            format!("--job-name=sapipe:{}:{}", req.pipeline, req.stage.name),
            format!("--output={}", self.log_pattern.display()),
            format!("--chdir={}", self.root.display()),
        ];
        if let Some(c) = r.cpus {
            args.push(format!("--cpus-per-task={c}"));
        }
        if let Some(m) = &r.memory {
            args.push(format!("--mem={m}"));
        }
        if let Some(t) = &r.time {
            args.push(format!("--time={t}"));
        }
        if let Some(p) = &r.partition {
            args.push(format!("--partition={p}"));
        }
        if r.gpus > 0 {
            args.push(format!("--gres=gpu:{}", r.gpus));
        }
        if !req.after.is_empty() {
            args.push(format!("--dependency=afterok:{}", req.after.join(":")));
            // A failed upstream job cancels its dependants instead of leaving them pending.
            args.push("--kill-on-invalid-dep=yes".to_string());
        }
        args.extend(r.sbatch.iter().cloned());
        args
    }

    /// The job script: runs `sapipe exec-stage` for the stage.
    pub fn script(&self, req: &JobRequest) -> String {
        let q = |p: &std::path::Path| crate::exec::command::shell_quote(&p.display().to_string());
        let mut profile = self.profile.as_deref().map_or(String::new(), |p| {
            format!(" --profile {}", crate::exec::command::shell_quote(p))
        });
        for set in &self.sets {
            profile.push_str(&format!(
                " --set {}",
                crate::exec::command::shell_quote(set)
            ));
        }
        let mut line = format!(
            "exec {} --cache {}{profile} exec-stage {} {}",
            q(&self.exe),
            q(&self.cache),
            q(&self.pipeline_file),
            crate::exec::command::shell_quote(&req.stage.name)
        );
        if let Some(k) = req.key {
            line.push_str(&format!(" --key {}", k.hex()));
        }
        if req.force {
            line.push_str(" --force");
        }
        format!(
            "#!/bin/sh\n# sapipe: stage '{}' of pipeline '{}'\n{line}\n",
            req.stage.name, req.pipeline
        )
    }

    /// Submits the job; returns its id.
    pub fn submit(&self, req: &JobRequest) -> Result<String, SlurmError> {
        let args = self.args(req);
        let out = call("sbatch", &args, Some(&self.script(req)))?;
        let text = stdout_of("sbatch", &args, out)?;
        parse_job_id(&text)
    }
}

/// The id printed by `sbatch --parsable` (`ID` or `ID;CLUSTER`).
fn parse_job_id(text: &str) -> Result<String, SlurmError> {
    let id = text.trim().split(';').next().unwrap_or_default();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SlurmError::NoJobId(text.trim().to_string()));
    }
    Ok(id.to_string())
}

/// Cancels jobs (`scancel`); jobs that already ended are no error.
pub fn scancel(jobs: &[String]) -> Result<(), SlurmError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let out = call("scancel", jobs, None)?;
    stdout_of("scancel", jobs, out).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Resources;

    fn stage(resources: Resources) -> Stage {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gen.yaml");
        std::fs::write(
            &file,
            "name: gen\nkind: command\ncommand: \"true\"\noutputs:\n  out: {}\n",
        )
        .unwrap();
        let kinds = crate::kind::KindRegistry::default();
        let def = crate::spec::Definition::load(&file, dir.path(), &kinds).unwrap();
        Stage {
            name: "gen a".into(),
            definition: std::sync::Arc::new(def),
            needs: vec![],
            params: Default::default(),
            paths: Default::default(),
            inputs: Default::default(),
            publish: Default::default(),
            resources,
            overrides: Default::default(),
        }
    }

    fn submitter() -> Submitter {
        Submitter {
            exe: "/opt/sapipe bin/sapipe".into(),
            cache: "/shared/cache".into(),
            pipeline_file: "/shared/p/pipelines/demo.yaml".into(),
            profile: None,
            sets: vec![],
            root: "/shared/p".into(),
            log_pattern: "/shared/cache/logs/slurm-%j.out".into(),
        }
    }

    #[test]
    fn job_arguments_carry_resources_dependencies_and_extra_arguments_last() {
        let st = stage(Resources {
            gpus: 1,
            cpus: Some(4),
            memory: Some("8G".into()),
            time: Some("2:00:00".into()),
            partition: Some("gpu".into()),
            sbatch: vec!["--account=lab".into()],
        });
        let after = ["11".to_string(), "12".to_string()];
        let req = JobRequest {
            pipeline: "demo",
            stage: &st,
            key: None,
            force: false,
            after: &after,
        };
        assert_eq!(
            submitter().args(&req),
            [
                "--parsable",
                "--job-name=sapipe:demo:gen a",
                "--output=/shared/cache/logs/slurm-%j.out",
                "--chdir=/shared/p",
                "--cpus-per-task=4",
                "--mem=8G",
                "--time=2:00:00",
                "--partition=gpu",
                "--gres=gpu:1",
                "--dependency=afterok:11:12",
                "--kill-on-invalid-dep=yes",
                "--account=lab",
            ]
        );
    }

    #[test]
    fn the_script_runs_exec_stage_with_the_key_and_quoted_paths() {
        let st = stage(Resources::default());
        let key = StageKey::from_hash(blake3::hash(b"k"));
        let req = JobRequest {
            pipeline: "demo",
            stage: &st,
            key: Some(&key),
            force: true,
            after: &[],
        };
        let s = submitter();
        assert_eq!(
            s.args(&req).len(),
            4,
            "no resources, no dependencies: only what sapipe always sets"
        );
        let script = s.script(&req);
        assert!(script.starts_with("#!/bin/sh\n"), "{script}");
        assert!(
            script.ends_with(&format!(
                "exec '/opt/sapipe bin/sapipe' --cache /shared/cache exec-stage /shared/p/pipelines/demo.yaml 'gen a' --key {} --force\n",
                key.hex()
            )),
            "{script}"
        );
        let s = Submitter {
            sets: vec!["*.epochs=5".into(), "t@a,0.5.label=x y".into()],
            ..submitter()
        };
        assert!(
            s.script(&req).contains(
                " --cache /shared/cache --set '*.epochs=5' --set 't@a,0.5.label=x y' exec-stage "
            ),
            "{}",
            s.script(&req)
        );
    }

    #[test]
    fn parses_parsable_job_ids() {
        assert_eq!(parse_job_id("1234\n").unwrap(), "1234");
        assert_eq!(parse_job_id("77;cluster\n").unwrap(), "77");
        assert!(parse_job_id("Submitted batch job 5").is_err());
        assert!(parse_job_id("").is_err());
    }
}
