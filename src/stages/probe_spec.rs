//! What sapipe needs to know about the `probe` kind without libtorch: its version and its
//! typed parameters. The kind itself (`probe`) runs in the libtorch worker; the protocol and
//! the analysis are [`crate::neuro::analysis::probe`], the files it writes
//! [`crate::neuro::analysis::probe::files`].

use serde::{Deserialize, Serialize};

use crate::kind::{KindError, StageContext};
use crate::neuro::analysis::probe::Protocol;

/// Implementation version of `probe`: bump when its outputs change for the same inputs.
pub const VERSION: u32 = 1;

/// A `probe` stage's parameters, as declared in `stages/probe.yaml` (the test below keeps the
/// two in step): `crop`, and the rest is the library's [`Protocol`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSpec {
    /// The preprocess stage's `crop` (0: the largest centred square), checked on the data.
    pub crop: usize,
    #[serde(flatten)]
    pub protocol: Protocol,
}

impl ProbeSpec {
    /// Reads the stage's parameters once; errors name the stage and the parameter.
    pub fn from_params(ctx: &StageContext) -> Result<Self, KindError> {
        let invalid = |m: String| KindError::Invalid(format!("stage '{}': {m}", ctx.stage));
        // The definition's `list` type says nothing of the items, and an error inside the
        // flattened protocol would not name its key: say what `frequencies` must hold here.
        let frequencies = ctx.param("frequencies")?;
        if !frequencies
            .as_array()
            .is_some_and(|list| list.iter().all(serde_json::Value::is_number))
        {
            return Err(invalid(format!(
                "parameter 'frequencies' must be a list of numbers (cycles per field), found \
                 {frequencies}"
            )));
        }
        let spec: Self = super::params::read_flattened(ctx.params).map_err(invalid)?;
        spec.protocol
            .check()
            .map_err(|e| invalid(format!("parameter {e}")))?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::kind::Params;
    use crate::stages::fixtures::{params_from_definition, with_params};

    fn spec(with: Value) -> Result<ProbeSpec, KindError> {
        let (params, _) = params_from_definition("probe.yaml", with);
        let params: Params = params.as_object().unwrap().clone().into_iter().collect();
        with_params("probe", &params, ProbeSpec::from_params)
    }

    #[test]
    fn the_struct_and_stages_probe_yaml_agree() {
        crate::stages::params::drift::<ProbeSpec>("probe", &[]);
    }

    #[test]
    fn the_definition_defaults_are_the_library_protocol() {
        let s = spec(json!({})).unwrap();
        assert_eq!((s.crop, s.protocol), (0, Protocol::default()));
        let err = spec(json!({"frequencies": ["high"]}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stage 'probe'") && err.contains("'frequencies' must be a list"),
            "{err}"
        );
        let err = spec(json!({"orientations": 3})).unwrap_err().to_string();
        assert!(
            err.contains("stage 'probe': parameter orientations = 3"),
            "{err}"
        );
    }
}
