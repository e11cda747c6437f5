//! Scoring fitted models against recorded responses: per-neuron metrics (`metrics`: CORR,
//! PTJ/PTS, tuning curves), the noise ceiling and FEVE from test repeats (`noise`), and the
//! evaluation of several models on one split that the `evaluate` stage writes (`evaluation`),
//! and whether their training had converged (`convergence`).

pub mod convergence;
pub mod evaluation;
pub mod metrics;
pub mod noise;
pub mod paired;
