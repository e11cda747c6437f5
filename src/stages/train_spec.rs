//! The `train` kind's parameters, raw -> typed, without libtorch: its version, the input it
//! derives from `init.from`, and [`resolve`], which reads every declared parameter once into
//! a [`TrainParams`] (and the test that keeps that struct and `stages/train.yaml` in step). The
//! kind itself (`train`) runs in the libtorch worker.

use crate::kind::Params;
use crate::neuro::train::params::{InitSpec, TrainParams};

/// Implementation version of `train`: bump when its outputs change for the same inputs.
/// 3: `combine_init` (an FC1 step that copies the centre term starts from its predictions).
/// 4: typed `info.json` (says `incremental`, `init`, `frozen`); an undefined validation CORR
///    is an empty field of `curves.csv`, not NaN.
/// 5: `info.json` records the training recipe (epochs, batch, lr, readout bias, images).
/// 6: on CPU every neuron computes exactly what it computes alone (chunk invariance), which
///    changes the population's rounding.
/// 7: the first block pools phase by phase, and on CPU neurons train side by side, one thread
///    each (the rounding changes again; README "How training computes").
/// 8: early stopping (`patience`) and the output level refit (`refit_bias`); `info.json`
///    records the epochs each neuron trained.
///    Also, the metrics carry each neuron's test CORR and predictions on the first test images
///    (`reproducibility::compared`), which lock entries and verdicts across classes need: a
///    cached record of version 7 lacks them, so it must not stand for a result of this one.
pub const VERSION: u32 = 8;

/// `init.from` binds the upstream stage's checkpoint to the `init` input.
pub fn derived_inputs(params: &Params) -> Result<Vec<(String, String, String)>, String> {
    Ok(init_param(params)?
        .map(|i| vec![("init".to_owned(), i.from, "checkpoint".to_owned())])
        .unwrap_or_default())
}

/// Reads the `init` parameter: `{}` (or absent) means none.
pub fn init_param(params: &Params) -> Result<Option<InitSpec>, String> {
    params.get("init").map_or(Ok(None), InitSpec::from_value)
}

/// Every parameter of a train stage, read once; the error names the parameter and what would
/// be valid.
pub fn resolve(params: &Params) -> Result<TrainParams, String> {
    super::params::read(params)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_struct_and_stages_train_yaml_agree() {
        super::super::params::drift::<TrainParams>(
            "train",
            &[("model", json!("rf-cnn")), ("seed", json!(7))],
        );
    }
}
