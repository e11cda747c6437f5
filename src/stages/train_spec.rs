//! What the engine needs to know about the `train` kind without libtorch: its version and the
//! input it derives from `init.from`. The kind itself (`train`) runs in the libtorch worker.

use serde_json::Value;

use crate::kind::Params;

/// Implementation version of `train`: bump when its outputs change for the same inputs.
/// 3: `combine_init` (an FC1 step that copies the centre term starts from its predictions).
pub const VERSION: u32 = 3;

/// `init.from` binds the upstream stage's checkpoint to the `init` input.
pub fn derived_inputs(params: &Params) -> Result<Vec<(String, String, String)>, String> {
    Ok(init_param(params)?
        .map(|i| vec![("init".to_owned(), i.from, "checkpoint".to_owned())])
        .unwrap_or_default())
}

/// `init: {from, blocks}` as written in the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct InitParam {
    pub from: String,
    pub blocks: Vec<String>,
}

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
