//! The rows of `sapipe results`: one per model and neuron of every `evaluate` record the
//! engine collected (`ops::results`, this module's parent), joined with the record of the stage that produced the
//! model's predictions (its parameters, seed, key and checkpoint), as CSV or JSON for pandas
//! or R. A stale evaluation's rows are marked as such, never mixed in unmarked.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Collected, Found};
use crate::key::{ContentDigest, InputKey, StageKey};
use crate::neuro::scoring::evaluation_file;
use crate::stages::evaluate::csv_field;

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
        .get(evaluation_file::OUTPUT)
        .ok_or_else(|| format!("its record has no output '{}'", evaluation_file::OUTPUT))?;
    let path = found
        .store
        .artifact_path(&output.digest, output.ty)
        .map_err(|e| format!("output '{}': {e}", evaluation_file::OUTPUT))?;
    let evaluation = evaluation_file::read(&path).map_err(|e| e.to_string())?;
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

/// The per-neuron number of a result row that `sapipe compare` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowMetric {
    Corr,
    Ptj,
    Pts,
    Feve,
}

impl RowMetric {
    fn of(self, row: &ResultRow) -> Option<f64> {
        match self {
            RowMetric::Corr => row.corr,
            RowMetric::Ptj => row.ptj,
            RowMetric::Pts => row.pts,
            RowMetric::Feve => row.feve,
        }
    }
}

/// Why a name does not pick one model of the results.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(
        "no current evaluation has a model `{name}` (give a train stage, a `repeat:` stage \
         without its `,seedN`, or a label as `sapipe results` prints them{valid})"
    )]
    Unknown { name: String, valid: String },
    #[error(
        "`{name}` names several models ({found}): give the train stage, or export them with \
         `sapipe results` and compare CSV files"
    )]
    Ambiguous { name: String, found: String },
}

/// A model found in the results: which evaluation scored it, on which data, its values.
#[derive(Debug, Clone)]
pub struct FoundModel {
    /// `pipeline/stage` of the evaluation.
    pub evaluation: String,
    pub dataset: Option<ContentDigest>,
    /// Its train stages (one per seed).
    pub stages: Vec<String>,
    pub values: crate::neuro::scoring::values::ModelValues,
}

/// The stage a `repeat:` instance repeats (the stage itself otherwise).
fn base_stage(stage: &str) -> String {
    crate::spec::repeat::seed_of(stage).map_or(stage.to_owned(), |(base, _)| base)
}

/// One model's values of `metric` in the current (not stale) rows: `name` is a train stage,
/// a `repeat:` stage without its seed (all its seeds), or a label.
pub fn find_model(
    rows: &[ResultRow],
    name: &str,
    metric: RowMetric,
) -> Result<FoundModel, LookupError> {
    let current: Vec<&ResultRow> = rows.iter().filter(|r| !r.stale).collect();
    let matched: Vec<&ResultRow> = current
        .iter()
        .copied()
        .filter(|r| r.model_stage == name || base_stage(&r.model_stage) == name || r.label == name)
        .collect();
    let models: BTreeSet<(String, String, String)> = matched
        .iter()
        .map(|r| {
            (
                r.pipeline.clone(),
                r.stage.clone(),
                base_stage(&r.model_stage),
            )
        })
        .collect();
    match models.len() {
        0 => {
            let names: BTreeSet<&str> = current.iter().map(|r| r.model_stage.as_str()).collect();
            let valid = match names.is_empty() {
                true => "; the results hold no current evaluation".to_string(),
                false => format!(
                    "; models: {}",
                    names.into_iter().collect::<Vec<_>>().join(", ")
                ),
            };
            return Err(LookupError::Unknown {
                name: name.into(),
                valid,
            });
        }
        1 => {}
        _ => {
            let found: Vec<String> = models
                .iter()
                .map(|(p, e, m)| format!("{m} in {p}/{e}"))
                .collect();
            return Err(LookupError::Ambiguous {
                name: name.into(),
                found: found.join(", "),
            });
        }
    }
    let mut values = crate::neuro::scoring::values::ModelValues::default();
    let mut stages = BTreeSet::new();
    for r in &matched {
        stages.insert(r.model_stage.clone());
        let seed = crate::spec::repeat::seed_of(&r.model_stage).map(|(_, s)| s.to_string());
        values.push(
            r.neuron.to_string(),
            seed.or_else(|| Some(r.model_stage.clone())),
            metric.of(r),
        );
    }
    Ok(FoundModel {
        evaluation: format!("{}/{}", matched[0].pipeline, matched[0].stage),
        dataset: matched[0].dataset.clone(),
        stages: stages.into_iter().collect(),
        values,
    })
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
    fn models_are_found_by_stage_seedless_stage_or_label() {
        let mut rows = Vec::new();
        for (stage, label, neuron, corr) in [
            ("t@rf,seed1", "rf", 0, 0.5),
            ("t@rf,seed2", "rf", 0, 0.7),
            ("t@rf,seed1", "rf", 1, 0.4),
            ("t@rf,seed2", "rf", 1, 0.2),
            ("ff", "ff CNN", 0, 0.3),
        ] {
            let mut r = row(label, json!({}));
            (r.model_stage, r.neuron, r.corr) = (stage.into(), neuron, Some(corr));
            rows.push(r);
        }
        let rf = find_model(&rows, "t@rf", RowMetric::Corr).unwrap();
        assert_eq!(rf.stages, ["t@rf,seed1", "t@rf,seed2"]);
        assert_eq!(
            rf.values.neurons["1"],
            vec![(Some("1".into()), Some(0.4)), (Some("2".into()), Some(0.2))]
        );
        assert_eq!(
            find_model(&rows, "rf", RowMetric::Corr)
                .unwrap()
                .stages
                .len(),
            2
        );
        assert_eq!(
            find_model(&rows, "ff CNN", RowMetric::Ptj)
                .unwrap()
                .values
                .neurons["0"],
            vec![(Some("ff".into()), None)]
        );
        let unknown = find_model(&rows, "x", RowMetric::Corr)
            .unwrap_err()
            .to_string();
        assert!(
            unknown.ends_with("models: ff, t@rf,seed1, t@rf,seed2)"),
            "{unknown}"
        );
        rows[4].label = "rf".into();
        let two = find_model(&rows, "rf", RowMetric::Corr)
            .unwrap_err()
            .to_string();
        assert!(
            two.contains("several models (ff in ci/eval, t@rf in ci/eval)"),
            "{two}"
        );
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
