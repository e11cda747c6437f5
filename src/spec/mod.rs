//! What users write, and its checked form: raw YAML structs (`raw`), typed parameters
//! (`params`), stage definitions (`definition`), resolved pipelines (`pipeline`) and their
//! named override sets (`profile`), with located errors (`error`).

pub mod definition;
pub mod error;
pub mod params;
pub mod pipeline;
pub mod profile;
pub mod raw;
pub mod resources;

pub use definition::{Definition, Implementation, OutputType};
pub use error::SpecError;
pub use pipeline::{Binding, DeviceSetting, Pipeline, Stage, load, load_profile};
pub use resources::{Executor, Resources};
