//! What sapipe needs to know about the `decompose` kind without libtorch: its version and its
//! typed parameters. The kind itself (`decompose`) runs in the libtorch worker; the files and
//! figures it writes are typed in [`crate::neuro::analysis::files`].

use serde::{Deserialize, Serialize};

use crate::kind::{KindError, StageContext};
use crate::neuro::analysis::files::SplitName;

/// Implementation version of `decompose`: bump when its outputs change for the same inputs.
/// 2: maps drawn against a reference (zero, uniform attention) with a colour bar; the summary
/// records each attention map's deviation from uniform.
pub const VERSION: u32 = 2;

/// A `decompose` stage's parameters, as declared in `stages/decompose.yaml` (the test below
/// keeps the two in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecomposeSpec {
    /// Images per neuron over which the centre hypercolumn's attention row is averaged.
    pub top_k: usize,
    /// The split analysed.
    pub split: SplitName,
}

impl DecomposeSpec {
    /// Reads the stage's parameters once; errors name the stage and the parameter.
    pub fn from_params(ctx: &StageContext) -> Result<Self, KindError> {
        let spec: Self = super::params::read_stage(ctx)?;
        Ok(DecomposeSpec {
            top_k: spec.top_k.max(1),
            ..spec
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kind::Params;
    use crate::stages::fixtures::with_params;

    fn spec(top_k: serde_json::Value, split: &str) -> Result<DecomposeSpec, KindError> {
        let params = Params::from([
            ("top_k".to_owned(), top_k),
            ("split".to_owned(), json!(split)),
        ]);
        with_params("dec", &params, DecomposeSpec::from_params)
    }

    #[test]
    fn the_struct_and_stages_decompose_yaml_agree() {
        crate::stages::params::drift::<DecomposeSpec>("decompose", &[]);
    }

    #[test]
    fn parameters_are_read_once_and_named_when_wrong() {
        let s = spec(json!(3), "val").unwrap();
        assert_eq!((s.top_k, s.split), (3, SplitName::Val));
        assert_eq!(spec(json!(0), "test").unwrap().top_k, 1);
        let err = spec(json!(3), "train").unwrap_err().to_string();
        assert!(
            err.contains("stage 'dec'") && err.contains("'split'") && err.contains("test, val"),
            "{err}"
        );
        let err = spec(json!("many"), "test").unwrap_err().to_string();
        assert!(err.contains("'top_k'"), "{err}");
    }
}
