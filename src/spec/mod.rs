//! What users write, and its checked form: raw YAML structs (`raw`), typed parameters
//! (`params`), stage definitions (`definition`, with the built-in ones of `builtin`), the
//! project a pipeline belongs to (`project`), resolved pipelines (`pipeline`) and their named
//! override sets (`profile`), with located errors (`error`).

pub mod builtin;
pub mod definition;
pub mod error;
pub mod params;
pub mod pipeline;
pub mod profile;
pub mod project;
pub mod raw;
pub mod resources;

pub use definition::{Definition, DefinitionSource, Implementation, OutputType};
pub use error::SpecError;
pub use pipeline::{Binding, DeviceSetting, Pipeline, Stage, load, load_profile};
pub use resources::{Executor, Resources};
