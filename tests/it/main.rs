//! sapipe's integration tests: one test binary (built once, linked once) with a module per
//! feature, each running the real `sapipe` binary (and `sapipe-torch` with libtorch) on
//! throwaway projects built by the shared harness in `common`.
//!
//! Modules that train or load models need libtorch and are compiled only with the `torch`
//! feature, so `cargo test --no-default-features` tests the engine without libtorch; the S3
//! remote tests need the `s3` feature.

// Tests print what they skip and what they measured.
#![allow(clippy::disallowed_macros)]

mod common;

// The engine and pure-Rust stages (no libtorch).
mod audit;
mod compare;
mod engine;
mod errors;
mod hostile;
mod import;
mod import_formats;
mod integrity;
mod layers;
mod matrix;
mod profiles;
mod project;
mod remote;
#[cfg(feature = "s3")]
mod remote_s3;
mod signals;
mod slurm;
mod snapshots;
mod validation;
mod verdicts;
mod worker;

// Training, evaluation and fitted models (libtorch).
#[cfg(feature = "torch")]
mod experiments;
#[cfg(feature = "torch")]
mod memory;
#[cfg(feature = "torch")]
mod portable;
#[cfg(feature = "torch")]
mod predict;
#[cfg(feature = "torch")]
mod predicted;
#[cfg(feature = "torch")]
mod remote_ci;
#[cfg(feature = "torch")]
mod seeds;
