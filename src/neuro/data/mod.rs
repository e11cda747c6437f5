//! Recordings in and prepared datasets out: the raw dataset format (`raw`), ground truth of
//! simulated neurons (`truth`), the simulated V1 population (`sim`), importing lab arrays
//! (`import`), preprocessing into the prepared dataset that training reads (`preprocess`,
//! `resample`, `dataset`), the same image transform replayed on new images (`transform`,
//! `new_images`) and the summary statistics of a dataset (`summary`).

pub mod dataset;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod import;
pub mod new_images;
pub mod preprocess;
pub mod raw;
pub mod resample;
pub mod sim;
pub mod summary;
pub mod transform;
pub mod truth;
