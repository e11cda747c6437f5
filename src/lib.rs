//! sapipe: a declarative, content-addressed pipeline engine for fitting CNN models of
//! visual-cortex neurons.
//!
//! The architecture in layers, lowest first; a module imports only modules of lower layers
//! (checked over the source by `tests/it/layers.rs`, which lists the few that still do not):
//! - `jsonfile`: JSON files read and written one way, for all above.
//! - `reproducibility`: the compute environment recorded with every result (never keyed), the
//!   per-neuron numbers compared across hardware and the one tolerance they are compared with.
//! - `kind`: what a stage kind is to the engine.
//! - `spec`: pipeline and stage-definition YAML, parsed strictly, resolved into a checked
//!   `Pipeline` with located errors.
//! - `graph`: the DAG (order, cycles, target selection, text/DOT/Mermaid views); `key`: typed
//!   digests, the key record hashed into a stage key, typed dirty reasons.
//! - `store`: the content-addressed cache (layout in `cache/README.md`), records, locks, gc.
//! - `lockfile`: the human-readable per-pipeline lock file, and the verdicts of a run against
//!   it (across hardware too).
//! - `exec`: key computation, planning, single-stage execution and the parallel scheduler;
//!   emits events (interruptions too), never prints and never ends the process.
//! - `remote`: shared remote caches (a directory on a shared filesystem, or S3): push, verified
//!   pull, and `run --pull/--push`; `neuro`: the modelling library (knows nothing about
//!   pipelines or the cache).
//! - `worker`: runs libtorch kinds in the `sapipe-torch` child process, so `sapipe` itself
//!   never loads libtorch (a no-op run stays in milliseconds); `report`: the paper's report
//!   library (tables, figures, claims, `report.md`).
//! - `stages`: the built-in kinds' adapters.
//! - `audit`: re-executing recorded stages and comparing their outputs.
//! - `ops`: one module per user-visible operation.
//! - `ui`: what operations print on a terminal (results, live progress, interruptions).
//! - `cli`: the command line; the `sapipe` binary (`main.rs`) maps its errors to exit codes
//!   and is the one place that ends the process.
//!
//! The engine (reproducibility, kind, spec, graph, key, store, lockfile, exec) knows nothing
//! about neurons and builds without libtorch (`--no-default-features`).

pub mod audit;
pub mod cli;
pub mod exec;
pub mod graph;
pub mod jsonfile;
pub mod key;
pub mod kind;
pub mod lockfile;
pub mod neuro;
pub mod ops;
pub mod remote;
pub mod report;
pub mod reproducibility;
pub mod spec;
pub mod stages;
pub mod store;
#[doc(hidden)]
pub mod testing;
pub mod ui;
pub mod worker;
