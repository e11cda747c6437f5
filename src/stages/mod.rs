//! Built-in stage kinds: thin adapters from a stage's parameters and input paths to the
//! modelling library (`crate::neuro`) and the reports (`crate::report`).

pub mod evaluate;
pub mod report;
