//! Scoring fitted models against recorded responses: per-neuron metrics (`metrics`: CORR,
//! PTJ/PTS, tuning curves), the noise ceiling and FEVE from test repeats (`noise`), and the
//! evaluation of several models on one split that the `evaluate` stage writes (`evaluation`).

pub mod evaluation;
pub mod metrics;
pub mod noise;
