//! sapipe: a declarative, content-addressed pipeline engine for fitting CNN models of
//! visual-cortex neurons.
//!
//! The architecture, from what users write to what they see:
//! - `spec`: pipeline and stage-definition YAML, parsed strictly, resolved into a checked
//!   `Pipeline` with located errors.
//! - `graph`: the DAG (order, cycles, target selection, text/DOT/Mermaid views).
//! - `key`: typed digests, the key record hashed into a stage key, typed dirty reasons.
//! - `store`: the content-addressed cache (layout in `cache/README.md`), records, locks, gc.
//! - `lockfile`: the human-readable per-pipeline lock file.
//! - `reproducibility`: the compute environment recorded with every result (never keyed) and
//!   the verdicts of a run against a lock file written on other hardware.
//! - `exec`: key computation, planning, single-stage execution and the parallel scheduler;
//!   emits events, never prints.
//! - `remote`: shared remote caches (a directory on a shared filesystem, or S3): push, verified
//!   pull, and `run --pull/--push`.
//! - `kind`: what a stage kind is to the engine; `stages`: the built-in kinds' adapters.
//! - `neuro`: the modelling library (knows nothing about pipelines or the cache).
//! - `worker`: runs libtorch kinds in the `sapipe-torch` child process, so `sapipe` itself
//!   never loads libtorch (a no-op run stays in milliseconds).
//! - `ops`: one module per user-visible operation; `ui`: what operations print on a terminal
//!   (results, live progress); `cli`: the command line.
//! - `report`: the paper's report library (tables, figures, claims, `report.md`).
//!
//! The engine (spec, graph, key, store, lockfile, reproducibility, exec) knows nothing about neurons and builds
//! without libtorch (`--no-default-features`).

pub mod audit;
pub mod cli;
pub mod exec;
pub mod graph;
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
