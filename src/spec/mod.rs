//! What users write, and its checked form: raw YAML structs (`raw`), typed parameters
//! (`params`), stage definitions (`definition`, with the built-in ones of `builtin` and the
//! placeholders of command templates in `command`), the project a pipeline belongs to
//! (`project`), resolved pipelines (`pipeline`, with inputs bound by `bind`), stages expanded
//! from a `matrix:` (`matrix`, its placeholders and patterns in `template`; `repeat:` over
//! seeds in `repeat`), named override sets (`profile`) and command-line ones (`overrides`),
//! where `publish:` may write (`publish`), bounds checked at load (`limits`), with located
//! errors (`error`).

mod bind;
pub mod builtin;
pub mod command;
pub mod definition;
pub mod error;
pub mod limits;
pub mod matrix;
pub mod overrides;
pub mod params;
pub mod pipeline;
pub mod profile;
pub mod project;
pub mod publish;
pub mod raw;
pub mod repeat;
pub mod resources;
mod template;

pub use definition::{Definition, DefinitionSource, Implementation, OutputType};
pub use error::SpecError;
pub use pipeline::{Binding, DeviceSetting, Pipeline, Stage, load, load_profile, load_with};
pub use resources::{Executor, Resources};
