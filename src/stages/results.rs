//! The rows of `sapipe results`: one per model and neuron of every `evaluate` record the
//! engine collected (`ops::results`), joined with the record of the stage that produced the
//! model's predictions (its parameters, seed, key and checkpoint), as CSV or JSON for pandas
//! or R. A stale evaluation's rows are marked as such, never mixed in unmarked.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::evaluate::csv_field;
use crate::key::{ContentDigest, InputKey, StageKey};
use crate::ops::results::{Collected, Found};

/// One model's scores on one neuron, in one evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub pipeline: String,
    /// The evaluate stage and its record's key.
    pub stage: String,
    pub key: StageKey,
    /// The evaluation is not its stage's current result.
    pub stale: bool,
    /// The stage that produced the model's predictions, its model id and label.
    pub model_stage: String,
    pub model: String,
    pub label: String,
    pub neuron: usize,
    pub corr: Option<f64>,
    pub ptj: Option<f64>,
    pub pts: Option<f64>,
    pub feve: Option<f64>,
    /// The model stage's seed parameter, if it has one.
    pub seed: Option<Value>,
    /// The digest of the prepared dataset the evaluation scored against.
    pub dataset: Option<ContentDigest>,
    /// The model stage's record key and checkpoint digest (absent when its record is not in
    /// the cache).
    pub train_key: Option<StageKey>,
    pub checkpoint: Option<ContentDigest>,
    /// The model stage's other parameters.
    pub params: BTreeMap<String, Value>,
}

/// Every row of the collected `evaluate` records, and what could not be read (one line each).
pub fn rows(collected: &Collected) -> (Vec<ResultRow>, Vec<String>) {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for found in &collected.records {
        if found.record.key_record.kind != "evaluate" {
            continue;
        }
        match evaluation_rows(found, collected) {
            Ok(mut r) => rows.append(&mut r),
            Err(why) => problems.push(format!(
                "{} stage '{}' (key {}): {why}",
                found.record.pipeline,
                found.record.stage,
                found.record.key.short()
            )),
        }
    }
    (rows, problems)
}

fn evaluation_rows(found: &Found, collected: &Collected) -> Result<Vec<ResultRow>, String> {
    let r = &found.record;
    let output = r
        .outputs
        .get("metrics")
        .ok_or("its record has no output 'metrics'")?;
    let path = found
        .store
        .artifact_path(&output.digest, output.ty)
        .map_err(|e| format!("output 'metrics': {e}"))?;
    let evaluation = crate::report::document::load_evaluation(&path).map_err(|e| e.to_string())?;
    let dataset = match r.key_record.inputs.get("prepared") {
        Some(InputKey::One(d)) => Some(d.clone()),
        _ => None,
    };
    let predictions = match r.key_record.inputs.get("predictions") {
        Some(InputKey::Many(m)) => m.clone(),
        _ => BTreeMap::new(),
    };
    let mut out = Vec::new();
    for m in &evaluation.models {
        let producer = predictions
            .get(&m.model.stage)
            .and_then(|d| collected.producer(&r.pipeline, &m.model.stage, "predictions", d));
        let mut params = producer
            .map(|p| p.record.key_record.params.clone())
            .unwrap_or_default();
        let seed = params.remove("seed");
        for n in &m.neurons {
            out.push(ResultRow {
                pipeline: r.pipeline.clone(),
                stage: r.stage.clone(),
                key: r.key.clone(),
                stale: found.stale,
                model_stage: m.model.stage.clone(),
                model: m.model.model.clone(),
                label: m.model.label.clone(),
                neuron: n.neuron,
                corr: n.corr,
                ptj: n.ptj,
                pts: n.pts,
                feve: n.feve,
                seed: seed.clone(),
                dataset: dataset.clone(),
                train_key: producer.map(|p| p.record.key.clone()),
                checkpoint: producer
                    .and_then(|p| p.record.outputs.get("checkpoint"))
                    .map(|o| o.digest.clone()),
                params: params.clone(),
            });
        }
    }
    Ok(out)
}

const COLUMNS: &str = "pipeline,stage,key,stale,model_stage,model,label,neuron,corr,ptj,pts,feve,seed,dataset,train_key,checkpoint";

/// CSV with a header: the fixed columns, then `param.NAME` for every parameter any row has.
pub fn to_csv(rows: &[ResultRow]) -> String {
    let names: BTreeSet<&String> = rows.iter().flat_map(|r| r.params.keys()).collect();
    let mut out = String::from(COLUMNS);
    for n in &names {
        out.push_str(&format!(",{}", csv_field(&format!("param.{n}"))));
    }
    out.push('\n');
    let number = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let text = |v: Option<String>| csv_field(&v.unwrap_or_default());
    for r in rows {
        let mut fields = vec![
            csv_field(&r.pipeline),
            csv_field(&r.stage),
            r.key.hex().to_string(),
            r.stale.to_string(),
            csv_field(&r.model_stage),
            csv_field(&r.model),
            csv_field(&r.label),
            r.neuron.to_string(),
            number(r.corr),
            number(r.ptj),
            number(r.pts),
            number(r.feve),
            text(r.seed.as_ref().map(value_text)),
            text(r.dataset.as_ref().map(|d| d.hex().to_string())),
            text(r.train_key.as_ref().map(|k| k.hex().to_string())),
            text(r.checkpoint.as_ref().map(|d| d.hex().to_string())),
        ];
        fields.extend(names.iter().map(|n| text(r.params.get(*n).map(value_text))));
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// A parameter as a CSV cell: strings as they are, anything else as compact JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(label: &str, params: Value) -> ResultRow {
        ResultRow {
            pipeline: "ci".into(),
            stage: "eval".into(),
            key: StageKey::from_hash(blake3::hash(b"k")),
            stale: false,
            model_stage: "rf_cnn".into(),
            model: "rf-cnn".into(),
            label: label.into(),
            neuron: 0,
            corr: Some(0.5),
            ptj: None,
            pts: Some(1.0),
            feve: Some(-0.25),
            seed: Some(json!(11)),
            dataset: Some(ContentDigest::of_bytes(b"d")),
            train_key: None,
            checkpoint: None,
            params: serde_json::from_value(params).unwrap(),
        }
    }

    #[test]
    fn csv_has_one_column_per_parameter_of_any_row() {
        let rows = [
            row("rf, \"CNN\"", json!({"epochs": 2, "freeze": ["alpha"]})),
            row("b", json!({"lr": 0.01})),
        ];
        let csv = to_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].ends_with(",checkpoint,param.epochs,param.freeze,param.lr"),
            "{csv}"
        );
        assert!(
            lines[1].contains(",\"rf, \"\"CNN\"\"\",0,0.5,,1,-0.25,11,"),
            "{csv}"
        );
        assert!(lines[1].ends_with(",,2,\"[\"\"alpha\"\"]\","), "{csv}");
        assert!(lines[2].ends_with(",,,0.01"), "{csv}");
    }
}
