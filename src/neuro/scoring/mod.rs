//! Scoring fitted models against recorded responses: per-neuron metrics (`metrics`: CORR,
//! PTJ/PTS, tuning curves), the noise ceiling and FEVE from test repeats (`noise`), and the
//! evaluation of several models on one split that the `evaluate` stage writes (`evaluation`,
//! its file in `evaluation_file`),
//! whether their training had converged (`convergence`), and the one procedure deciding how
//! two models compare (`verdict`, on `signed_rank` and `student`), with its calibration
//! (`calibration`).

pub mod calibration;
pub mod convergence;
pub mod evaluation;
pub mod evaluation_file;
pub mod metrics;
pub mod noise;
pub mod signed_rank;
pub mod student;
pub mod values;
pub mod verdict;
