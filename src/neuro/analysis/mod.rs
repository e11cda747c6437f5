//! Analyses of trained networks (models.md §7): the FCL decomposition and attention maps of
//! a checkpoint (`fcl`) and their per-neuron and population summaries against ground truth
//! (`summary`).

pub mod fcl;
pub mod summary;
