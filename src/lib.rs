//! sapipe: a declarative, content-addressed pipeline engine for fitting CNN models of
//! visual-cortex neurons.
//!
//! The architecture (see README.md for the user's view):
//! - `kind`: what a stage kind is to the engine (trait + registry).
//! - `neuro`: the modelling library (knows nothing about pipelines or the cache).

pub mod kind;
pub mod neuro;
pub mod stages;
