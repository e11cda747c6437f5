//! Analyses of trained networks (models.md §7): the FCL decomposition and attention maps of
//! a checkpoint (`fcl`), their per-neuron and population summaries against ground truth
//! (`summary`), one model decomposed on a dataset's split (`decompose`, what the `decompose`
//! stage calls) and the files of a decomposition directory (`files`, what the report reads);
//! the in-silico probe of orientation tuning and surround suppression (`probe`).

pub mod decompose;
pub mod fcl;
pub mod files;
pub mod probe;
pub mod summary;

#[cfg(test)]
pub(crate) mod fixtures;
