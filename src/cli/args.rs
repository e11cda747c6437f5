//! clap definitions of every subcommand and flag.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::graph::DagFormat;

#[derive(Debug, Parser)]
#[command(
    name = "sapipe",
    version,
    about = "Content-addressed pipelines for fitting CNN models of V1 neurons"
)]
pub struct Cli {
    /// The artifact cache (default: SAPIPE_CACHE, else cache/ at the project root).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the stages that are not up to date.
    Run {
        pipeline: PathBuf,
        /// Run only these stages (and what they need).
        #[arg(long = "stage", value_name = "STAGE")]
        stages: Vec<String>,
        /// Rerun these stages even if their key has a record.
        #[arg(long, value_name = "STAGE")]
        force: Vec<String>,
        /// How many stages may run at once (default: number of CPUs).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// After a failure, keep running the stages that do not depend on it.
        #[arg(long)]
        keep_going: bool,
    },
    /// What a run would do, and why.
    Status {
        pipeline: PathBuf,
        #[arg(long = "stage", value_name = "STAGE")]
        stages: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// A stage's key components, and what changed since its last record.
    Explain {
        pipeline: PathBuf,
        stage: String,
        #[arg(long)]
        json: bool,
    },
    /// The pipeline's graph.
    Dag {
        pipeline: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: DagFormat,
    },
    /// Outputs, metrics and file locations of the stages' results.
    Show {
        pipeline: PathBuf,
        stage: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every object in the cache.
    Verify {
        /// Remove corrupt objects and the records that rely on them (they will rerun).
        #[arg(long)]
        repair: bool,
        /// The project (default: the nearest folder above the current one holding stages/).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
    /// Remove cache entries that no lock file, head or recent record reaches.
    Gc {
        #[arg(long)]
        dry_run: bool,
        /// Also keep records finished within this long (e.g. 7d, 12h, 0s).
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        keep_recent: std::time::Duration,
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
    /// libtorch version, CUDA / cuDNN availability, devices and determinism settings.
    Doctor {
        #[arg(long)]
        json: bool,
    },
}
