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
    /// Apply the pipeline's profile NAME (its `profiles:`): other parameters, hence other
    /// keys, and its own lock file PIPELINE.NAME.lock.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Set a stage's parameter, over the pipeline and its profile (repeatable): the value is
    /// YAML, typed by the parameter's declaration, and enters the key. STAGE may be a matrix
    /// stage (all its instances) or a pattern: '*.epochs=5' sets it wherever it is declared.
    /// A run with overrides leaves the lock file as it is.
    #[arg(long = "set", global = true, value_name = "STAGE.PARAM=VALUE")]
    pub set: Vec<String>,
    /// The remote cache for push, pull and run --pull/--push: a name declared in
    /// .sapipe/config.yaml, a directory path, or s3://bucket/prefix (default: SAPIPE_REMOTE,
    /// else the config file's).
    #[arg(long, global = true, value_name = "REMOTE")]
    pub remote: Option<String>,
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the stages that are not up to date.
    Run(RunArgs),
    /// Upload the records and objects of the pipeline's current results that the remote lacks.
    Push(TransferArgs),
    /// Download (verified) the results the pipeline needs that the local cache lacks.
    Pull(TransferArgs),
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
        /// Only the metrics, as one table of every stage's (or, with --json, stage -> metrics).
        #[arg(long)]
        metrics: bool,
        #[arg(long)]
        json: bool,
    },
    /// Runs a train stage's fitted model on new images, preprocessed as its training images
    /// were (crop, resampling, normalisation with the training statistics); writes the
    /// predictions [images, neurons] as float32 .npy.
    Predict(PredictArgs),
    /// The parameters and metrics that changed, with old, new and delta: a pipeline's current
    /// results against its lock file at a git revision, or one lock file against another.
    Diff {
        /// A pipeline (compared with its lock file at --rev), or two lock files: OLD NEW.
        #[arg(required = true, num_args = 1..=2, value_name = "PIPELINE | OLD.lock NEW.lock")]
        files: Vec<PathBuf>,
        /// The git revision of the lock file to compare with (default: HEAD).
        #[arg(long, value_name = "REV")]
        rev: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every evaluated model and neuron across the records in the cache, one row each (with
    /// the model's parameters, seed, dataset and checkpoint), for pandas or R. Records that are
    /// not their stage's current result are marked stale.
    Results {
        /// The pipelines (default: every pipeline in the project's pipelines/).
        pipelines: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "csv")]
        format: ResultsFormat,
        /// The project (default: the nearest folder above the current one holding
        /// sapipe.toml or pipelines/).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
    /// Decides how two models compare on the same neurons (`>`, `~` or `>>`), with the report's
    /// procedure: seeds averaged per neuron, a t interval over neurons and the Wilcoxon
    /// signed-rank test that must agree at alpha (equivalence by two one-sided tests).
    Compare(CompareArgs),
    /// Re-execute stages into a scratch cache and compare their outputs with the recorded ones.
    Audit {
        pipeline: PathBuf,
        #[arg(long = "stage", value_name = "STAGE")]
        stages: Vec<String>,
        /// What to compare against.
        #[arg(long, value_enum, default_value = "lock")]
        against: crate::ops::audit::Reference,
        /// Accept numeric differences up to this, absolute or relative (e.g. across devices).
        #[arg(long)]
        tolerance: Option<f64>,
        /// Re-execute on this device class instead of the pipeline's (cross-device audit).
        #[arg(long, value_enum)]
        device: Option<DeviceArg>,
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every object in the cache.
    Verify {
        /// Remove corrupt objects and the records that rely on them (they will rerun).
        #[arg(long)]
        repair: bool,
        /// The project (default: the nearest folder above the current one holding
        /// sapipe.toml or pipelines/).
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
    /// Create a project: sapipe.toml, a starter pipeline, an example stage, .gitignore, README.
    Init {
        /// Where (made if missing; default: the current folder). Nothing is overwritten.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// The stage definitions a pipeline here can use: built-in ones and the project's own.
    Stages {
        #[command(subcommand)]
        show: Option<StagesCommand>,
        /// The project (default: the nearest folder above the current one holding
        /// sapipe.toml or pipelines/; without one, the built-in definitions).
        #[arg(long, value_name = "DIR", global = true)]
        project: Option<PathBuf>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// The architectures with their trainable parameter counts per neuron.
    Models {
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks (each prints ratios against a baseline measured in the same run).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Inside a Slurm job: execute one stage into the cache (run by the Slurm executor).
    #[command(hide = true)]
    ExecStage {
        pipeline: PathBuf,
        stage: String,
        /// The key the stage must have (the job fails if the pipeline changed since).
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// libtorch version, CUDA / cuDNN availability, devices and determinism settings.
    Doctor {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StagesCommand {
    /// One definition in full: where it comes from, parameters (type, default, bounds, doc),
    /// inputs and outputs.
    Show { name: String },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Training throughput (image x neuron / s) of the population trainer vs. a
    /// one-neuron-at-a-time loop, measured in the same run (runs in the libtorch worker).
    Train(BenchTrainArgs),
    /// Generation time of the simulated V1 data set (stimuli and responses).
    Data {
        #[arg(long, default_value_t = 50_000)]
        images: usize,
        #[arg(long, default_value_t = 300)]
        neurons: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// `status`, no-op `run` and cold `run` of a generated matrix pipeline of N command
    /// stages, vs. starting sapipe and running the same commands directly.
    Matrix {
        #[arg(long, default_value_t = 1000)]
        stages: usize,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// The false-claim rate and the power of the comparison verdicts (`>`, `~`, `>>`) on
    /// simulated per-neuron data: several neuron counts, noise levels, seeds per neuron and
    /// noise distributions, each claim false at its boundary or true.
    Verdicts {
        /// Simulated comparisons per scenario, claim and truth.
        #[arg(long, default_value_t = 2000)]
        repeats: usize,
        #[arg(long, default_value_t = 27)]
        seed: u64,
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// Equivalence margin of `~`.
        #[arg(long, default_value_t = 0.02)]
        margin: f64,
        #[arg(long)]
        json: bool,
    },
    /// Wall time of a no-op `sapipe run` on a cached pipeline vs. starting sapipe.
    Noop {
        #[arg(long, default_value_t = 6)]
        stages: usize,
        #[arg(long, default_value_t = 30)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// A model of the project's results (a train stage, a `repeat:` stage without its
    /// seed, or a label as `sapipe results` prints it), or a CSV file with a header and
    /// the columns `neuron,value` or `neuron,seed,value`.
    pub left: String,
    /// The other model, as LEFT.
    pub right: String,
    /// The per-neuron metric of models from the results (CSV files give their values).
    #[arg(long, value_enum, default_value = "corr")]
    pub metric: MetricArg,
    /// The claim: gt (LEFT > RIGHT), eq (LEFT ~ RIGHT within the margin), gg (LEFT >>
    /// RIGHT: ratio of means above 1.5).
    #[arg(long, value_enum, default_value = "gt")]
    pub claim: ClaimArg,
    /// Equivalence margin of `eq`, in the values' units (default: 0.02, 2% of 1).
    #[arg(long)]
    pub margin: Option<f64>,
    /// The false-claim rate of the comparison.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// The pipelines whose results hold the models (default: every pipeline in the
    /// project's pipelines/).
    #[arg(long = "pipeline", value_name = "PIPELINE")]
    pub pipelines: Vec<PathBuf>,
    /// The project (default: the nearest folder above the current one holding
    /// sapipe.toml or pipelines/).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    pub pipeline: PathBuf,
    /// Run only these stages (and what they need).
    #[arg(long = "stage", value_name = "STAGE")]
    pub stages: Vec<String>,
    /// Rerun these stages even if their key has a record.
    #[arg(long, value_name = "STAGE")]
    pub force: Vec<String>,
    /// How many stages may run at once (default: number of CPUs).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// After a failure, keep running the stages that do not depend on it.
    #[arg(long)]
    pub keep_going: bool,
    /// Fail if the results differ from the committed lock file (and leave it unchanged).
    #[arg(long)]
    pub locked: bool,
    /// Where stages run (default: the pipeline's `executor`, else local). With slurm, each
    /// stage is a batch job, and --jobs limits how many are submitted at once (default: all).
    #[arg(long, value_enum)]
    pub executor: Option<crate::spec::Executor>,
    /// Slurm: submit every remaining stage at once, chained by dependencies, print the job
    /// ids and exit (`sapipe status` then follows them).
    #[arg(long)]
    pub detach: bool,
    /// Before executing a stage, use the remote's result for its key if it has one.
    #[arg(long)]
    pub pull: bool,
    /// Upload each stage's result to the remote after it runs (and all results at the end).
    #[arg(long)]
    pub push: bool,
}

/// Arguments of `predict`.
#[derive(Debug, Clone, clap::Args)]
pub struct PredictArgs {
    pub pipeline: PathBuf,
    /// A train stage (it must be up to date).
    pub stage: String,
    /// Raw images like the training data's: a .npy file ([N, H, W] or one [H, W] image),
    /// an .npz archive with an array `images`, or a folder of .npy files (in name order).
    #[arg(long, value_name = "FILE.npy|FILE.npz|FOLDER")]
    pub images: PathBuf,
    /// Only these neurons, in this order (indices, comma-separated; default: all).
    #[arg(long, value_delimiter = ',', value_name = "0,5,7")]
    pub neurons: Option<Vec<usize>>,
    /// Where to write the predictions (default: predictions.npy).
    #[arg(long, value_name = "FILE.npy", default_value = "predictions.npy")]
    pub out: PathBuf,
    /// The device (default: CUDA when present, else CPU).
    #[arg(long, value_enum)]
    pub device: Option<DeviceArg>,
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `push` and `pull`.
#[derive(Debug, Clone, clap::Args)]
pub struct TransferArgs {
    pub pipeline: PathBuf,
    /// Only these stages (and what they need).
    #[arg(long = "stage", value_name = "STAGE")]
    pub stages: Vec<String>,
    /// Parallel transfers.
    #[arg(long, short, default_value_t = 4)]
    pub jobs: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResultsFormat {
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricArg {
    Corr,
    Ptj,
    Pts,
    Feve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClaimArg {
    Gt,
    Eq,
    Gg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Cuda,
}

/// Arguments of `bench train`, forwarded to the libtorch worker as they are.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchTrainArgs {
    /// Architecture id (see `sapipe models`).
    #[arg(long, default_value = "ff-sa-cnn")]
    pub model: String,
    #[arg(long, default_value_t = 16)]
    pub neurons: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// Timed training steps per network (after one warm-up step).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Alternating rounds of both strategies; each strategy's median round is reported, so a
    /// slow spell of the machine does not decide the comparison.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    #[arg(long, default_value_t = 50)]
    pub batch_size: usize,
    /// Deterministic algorithms (as pipelines default to).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub deterministic: bool,
    /// Memory budget of the population trainer, as the train stage's `memory` (auto, 8GiB, ...):
    /// it trains in chunks of neurons that fit. Without it the population is one chunk.
    #[arg(long)]
    pub memory: Option<String>,
    /// Also time the one-neuron-at-a-time baseline.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub per_neuron: bool,
    #[arg(long)]
    pub json: bool,
}

impl BenchTrainArgs {
    /// The same arguments as command-line words.
    pub fn to_args(&self) -> Vec<String> {
        let device = match self.device {
            DeviceArg::Cpu => "cpu",
            DeviceArg::Cuda => "cuda",
        };
        let mut v = vec![
            "--model".into(),
            self.model.clone(),
            "--neurons".into(),
            self.neurons.to_string(),
            "--device".into(),
            device.into(),
            "--steps".into(),
            self.steps.to_string(),
            "--rounds".into(),
            self.rounds.to_string(),
            "--batch-size".into(),
            self.batch_size.to_string(),
            "--deterministic".into(),
            self.deterministic.to_string(),
            "--per-neuron".into(),
            self.per_neuron.to_string(),
        ];
        if let Some(memory) = &self.memory {
            v.extend(["--memory".into(), memory.clone()]);
        }
        if self.json {
            v.push("--json".into());
        }
        v
    }
}
