//! One module per user-visible operation. Each returns plain data (or writes files); the
//! `report` module decides how to show it. `Session` opens what every operation needs.

pub mod audit;
pub mod bench_matrix;
pub mod bench_noop;
pub mod diff;
pub mod fitted;
pub mod gc;
pub mod init;
pub mod predict;
pub mod remote;
pub mod results;
pub mod revision;
pub mod run;
pub mod show;
pub mod slurm;
pub mod stages;
pub mod status;
pub mod verify;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::exec::{Engine, Environment, Event};
use crate::kind::{DeviceClass, KindRegistry};
use crate::lockfile::LockFile;
use crate::spec::Pipeline;
use crate::store::Store;

/// Where the cache is: `--cache`, else `SAPIPE_CACHE`, else `cache/` at the project root.
pub fn cache_dir(explicit: Option<&Path>, project_root: &Path) -> PathBuf {
    explicit
        .map(Path::to_owned)
        .or_else(|| std::env::var_os("SAPIPE_CACHE").map(PathBuf::from))
        .unwrap_or_else(|| project_root.join("cache"))
}

/// A loaded pipeline with its cache, kinds and environment.
pub struct Session {
    pub pipeline: Pipeline,
    pub store: Store,
    pub kinds: KindRegistry,
    pub env: Environment,
    pub device: DeviceClass,
}

impl Session {
    pub fn open(
        pipeline: &Path,
        cache: Option<&Path>,
        kinds: KindRegistry,
        env: Environment,
    ) -> anyhow::Result<Self> {
        Self::open_profile(pipeline, None, &[], cache, kinds, env)
    }

    /// [`Session::open`] with the overrides of a profile of the pipeline and `--set` ones.
    pub fn open_profile(
        pipeline: &Path,
        profile: Option<&str>,
        sets: &[String],
        cache: Option<&Path>,
        kinds: KindRegistry,
        env: Environment,
    ) -> anyhow::Result<Self> {
        let pipeline = crate::spec::load_with(pipeline, &kinds, profile, sets)?;
        // Nothing runs on a pipeline whose stages form a cycle (the error names them).
        crate::graph::Dag::new(&pipeline)?;
        let dir = cache_dir(cache, &pipeline.root);
        let store = Store::open(&dir)
            .with_context(|| format!("cannot open the cache at {}", dir.display()))?;
        let device = match env.device(&pipeline) {
            // `device: cuda` without CUDA here: Slurm jobs check CUDA on their own nodes.
            Err(_) if pipeline.executor == crate::spec::Executor::Slurm => DeviceClass::Cuda,
            other => other?,
        };
        Ok(Self {
            pipeline,
            store,
            kinds,
            env,
            device,
        })
    }

    pub fn engine<'a>(&'a self, events: &'a (dyn Fn(Event) + Sync)) -> Engine<'a> {
        Engine {
            pipeline: &self.pipeline,
            store: &self.store,
            kinds: &self.kinds,
            env: &self.env,
            device: self.device,
            events,
        }
    }

    pub fn lock_file(&self) -> anyhow::Result<Option<LockFile>> {
        Ok(LockFile::read(&self.pipeline.lock_path())?)
    }

    /// The stages `names` stand for (a matrix stage stands for its instances), checked.
    pub fn stages_named(&self, names: &[String]) -> anyhow::Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for n in names {
            out.extend(self.pipeline.require_stages(n)?);
        }
        Ok(out)
    }

    /// The targets and their dependencies in order; all stages when no target is given.
    pub fn selection(&self, targets: &[String]) -> anyhow::Result<Vec<String>> {
        let dag = crate::graph::Dag::new(&self.pipeline)?;
        if targets.is_empty() {
            return Ok(dag.order().to_vec());
        }
        let stages: Vec<String> = self.stages_named(targets)?.into_iter().collect();
        Ok(dag.closure(&stages))
    }
}

/// Ignores events (for operations that do not show progress).
pub fn no_events(_: Event) {}
