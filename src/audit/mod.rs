//! Reproducibility audits: re-execute recorded stages into a scratch cache, with exactly the
//! recorded inputs, and compare every output with the recorded one (`compare` says where two
//! artifacts differ; `csv` compares CSV files column by column).

pub mod compare;
pub mod csv;
