//! Adapters of the built-in stage kinds.

#[cfg(feature = "torch")]
pub mod train;
