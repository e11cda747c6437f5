//! The `train` kind's parameters, raw -> resolved, without libtorch: its version, the input it
//! derives from `init.from`, and [`resolve`], which parses every declared parameter once into
//! a typed [`TrainSpec`]. The kind itself (`train`) runs in the libtorch worker.

use serde_json::Value;

use crate::kind::Params;
use crate::neuro::model::{FreezeMode, ModelId};
use crate::neuro::train::memory::Budget;
use crate::neuro::train::spec::{CombineChoice, InitSpec, TrainSpec};
use crate::neuro::train::{BiasRefit, ReadoutBias, Selection, Strategy};

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

/// `init: {from, blocks}` as written in the pipeline.
pub type InitParam = InitSpec;

/// Reads the `init` parameter: `{}` (or absent) means none.
pub fn init_param(params: &Params) -> Result<Option<InitParam>, String> {
    let Some(value) = params.get("init") else {
        return Ok(None);
    };
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(m) if m.is_empty() => return Ok(None),
        Value::Object(m) => m,
        other => {
            return Err(format!(
                "init must be a mapping {{from: <stage>, blocks: [...]}}, found {other}"
            ));
        }
    };
    if let Some(k) = map.keys().find(|k| *k != "from" && *k != "blocks") {
        return Err(format!(
            "init: unknown key '{k}' (valid keys: from, blocks)"
        ));
    }
    let from = match map.get("from") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("init.from must name the upstream train stage".into()),
    };
    let blocks = match map.get("blocks") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("init.blocks: {v} is not a block name"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("init.blocks must list the blocks to copy, e.g. [alpha]".into()),
    };
    Ok(Some(InitParam { from, blocks }))
}

/// Every parameter of a train stage, parsed once; the error names the parameter and what
/// would be valid.
pub fn resolve(params: &Params) -> Result<TrainSpec, String> {
    let get = |name: &str| {
        params
            .get(name)
            .ok_or_else(|| format!("parameter '{name}' is missing"))
    };
    let whole = |name: &str| {
        let v = get(name)?;
        v.as_u64()
            .ok_or_else(|| format!("{name} must be a whole number, found {v}"))
    };
    let text = |name: &str| {
        let v = get(name)?;
        v.as_str()
            .ok_or_else(|| format!("{name} must be a string, found {v}"))
    };
    fn choice<T>(
        name: &str,
        value: &str,
        parse: fn(&str) -> Option<T>,
        valid: &str,
    ) -> Result<T, String> {
        parse(value).ok_or_else(|| format!("{name}: unknown value '{value}' (valid: {valid})"))
    }
    let freeze = match get("freeze")? {
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("freeze: {v} is not a block name"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(format!(
                "freeze must be a list of block names, found {other}"
            ));
        }
    };
    Ok(TrainSpec {
        model: ModelId::parse(text("model")?).map_err(|e| format!("model: {e}"))?,
        channels: match whole("channels")? {
            0 => None,
            c => Some(c as usize),
        },
        epochs: whole("epochs")? as usize,
        patience: match whole("patience")? {
            0 => None,
            p => Some(p as usize),
        },
        batch_size: whole("batch_size")? as usize,
        lr: {
            let v = get("lr")?;
            v.as_f64()
                .ok_or_else(|| format!("lr must be a number, found {v}"))?
        },
        seed: whole("seed")?,
        selection: choice(
            "selection",
            text("selection")?,
            Selection::parse,
            "per-neuron, final",
        )?,
        freeze,
        freeze_mode: choice(
            "freeze_mode",
            text("freeze_mode")?,
            FreezeMode::parse,
            "strict, reference",
        )?,
        strategy: choice(
            "strategy",
            text("strategy")?,
            Strategy::parse,
            "auto, population, per-neuron",
        )?,
        combine_init: choice(
            "combine_init",
            text("combine_init")?,
            CombineChoice::parse,
            CombineChoice::VALID,
        )?,
        readout_bias: choice(
            "readout_bias",
            text("readout_bias")?,
            ReadoutBias::parse,
            ReadoutBias::VALID,
        )?,
        refit_bias: choice(
            "refit_bias",
            text("refit_bias")?,
            BiasRefit::parse,
            BiasRefit::VALID,
        )?,
        memory: Budget::parse(text("memory")?).map_err(|e| format!("memory: {e}"))?,
        init: init_param(params)?,
        label: match text("label")? {
            "" => None,
            l => Some(l.to_owned()),
        },
    })
}
