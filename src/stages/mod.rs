//! Adapters of the built-in stage kinds: each turns a `StageContext` into calls of the
//! modelling library (`crate::neuro`).

pub mod import;
pub mod preprocess;
pub mod synthetic;
