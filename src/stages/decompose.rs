//! The `decompose` stage kind (models.md §7): runs every bound train stage's checkpoint on the
//! prepared dataset's test (or validation) images and writes, into the `decomposition`
//! directory:
//!
//! - `summary.json`: `{split, images, top_k, truth, models: {<train stage>: {label, model,
//!   fcl: population means, attention: {...}}}}` (what the report shows);
//! - `per_neuron.json`: per train stage, one entry per neuron (see
//!   [`crate::neuro::analysis::summary`] for the definitions);
//! - per train stage with an FCL readout (plain or split): `centre_<stage>.npy` and
//!   `surround_<stage>.npy` (`[n, neurons]` contributions), `fcl_maps_<stage>.npy`
//!   (`[neurons, G, G]` mean signed contribution per position), `fcl_map_<stage>.png` (that map
//!   averaged over neurons) and `centre_vs_surround_<stage>.png`;
//! - per train stage with self-attention: `attention_<stage>.npy` (`[neurons, G, G]`: the
//!   centre hypercolumn's attention row averaged over each neuron's `top_k` most responsive
//!   images) and `attention_<stage>.png` (its average over neurons).
//!
//! Models with neither (rf-CNN) are listed with their label only.

use std::io::Write as _;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::decompose_spec;
use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::analysis::fcl::{PopulationAnalysis, analyse_checkpoint};
use crate::neuro::analysis::summary::{mean_over_neurons, summarise_neurons, summarise_population};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::data::truth::Truth;
use crate::neuro::model::checkpoint::Checkpoint;
use crate::neuro::runtime::determinism;
use crate::neuro::train::torch_device;
use crate::report::maps::{centre_surround_scatter, heatmap};

/// The `decompose` kind.
pub struct DecomposeKind;

/// Images per forward pass.
const BATCH: usize = 256;

/// A stage name as a file-name part: ASCII letters, digits, `-` and `_` kept, others `_`.
fn file_part(stage: &str) -> String {
    stage
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn finite(x: Option<f64>) -> Value {
    match x {
        Some(v) if v.is_finite() => json!(v),
        _ => Value::Null,
    }
}

/// What one analysed model contributes to the outputs.
struct ModelOutput {
    summary: Value,
    per_neuron: Value,
    metrics: Vec<(String, Value)>,
}

struct Split<'a> {
    name: &'a str,
    images: &'a ArrayF32,
    responses: &'a ArrayF32,
    truth: Option<&'a Truth>,
}

impl StageKind for DecomposeKind {
    fn name(&self) -> &'static str {
        "decompose"
    }

    fn version(&self) -> u32 {
        decompose_spec::VERSION
    }

    fn uses_device(&self) -> bool {
        true
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let stage = ctx.stage;
        let invalid = |m: String| KindError::Invalid(format!("stage '{stage}': {m}"));
        let top_k = ctx.param_u64("top_k")?.max(1) as usize;
        let data = PreparedDataset::read(ctx.input("prepared")?)
            .map_err(|e| invalid(format!("input 'prepared': {e}")))?;
        let split = match ctx.param_str("split")? {
            "test" => Split {
                name: "test",
                images: &data.test_images,
                responses: &data.test_responses,
                truth: data.truth.as_ref(),
            },
            "val" => Split {
                name: "val",
                images: &data.val_images,
                responses: &data.val_responses,
                truth: None,
            },
            other => {
                return Err(invalid(format!(
                    "split: unknown value '{other}' (valid: test, val)"
                )));
            }
        };
        let bound = ctx.inputs_many("checkpoint");
        if bound.is_empty() {
            return Err(invalid(
                "input 'checkpoint' is bound to no stage: list train stages in `needs`".into(),
            ));
        }
        determinism::set_deterministic(ctx.deterministic);
        let device = torch_device(ctx.device)
            .map_err(|e| KindError::Failed(format!("stage '{stage}': {e}")))?;
        let out = ctx.output("decomposition")?;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ctx.log_path)
            .map_err(KindError::io(format!(
                "stage '{stage}': log {}",
                ctx.log_path.display()
            )))?;

        let (mut models, mut per_neuron, mut metrics) = (Map::new(), Map::new(), Metrics::new());
        for (i, (train_stage, path)) in bound.iter().enumerate() {
            let msg = format!("analysing {train_stage} ({}/{})", i + 1, bound.len());
            let _ = writeln!(log, "{msg}");
            (ctx.progress)(i as u64, bound.len() as u64, &msg);
            let output =
                analyse_model(stage, train_stage, path, &data, &split, top_k, device, out)?;
            models.insert(train_stage.to_string(), output.summary);
            per_neuron.insert(train_stage.to_string(), output.per_neuron);
            metrics.extend(output.metrics);
        }
        (ctx.progress)(bound.len() as u64, bound.len() as u64, "done");

        let summary = json!({
            "split": split.name,
            "images": split.images.shape[0],
            "top_k": top_k,
            "truth": split.truth.is_some(),
            "models": models,
        });
        write_json(&out.join("summary.json"), &summary, stage)?;
        write_json(
            &out.join("per_neuron.json"),
            &Value::Object(per_neuron),
            stage,
        )?;
        Ok(metrics)
    }
}

#[allow(clippy::too_many_arguments)]
fn analyse_model(
    stage: &str,
    train_stage: &str,
    path: &Path,
    data: &PreparedDataset,
    split: &Split,
    top_k: usize,
    device: tch::Device,
    out: &Path,
) -> Result<ModelOutput, KindError> {
    let invalid = |m: String| {
        KindError::Invalid(format!(
            "stage '{stage}': input 'checkpoint' of train stage '{train_stage}': {m}"
        ))
    };
    let ckpt = Checkpoint::read(path).map_err(|e| invalid(e.to_string()))?;
    if ckpt.meta.neurons != data.meta.neurons || ckpt.meta.input_size != data.meta.size {
        return Err(invalid(format!(
            "{}: {} neurons on {}-pixel images, but the prepared dataset has {} neurons on \
             {}-pixel images (bind the dataset the model was trained on)",
            path.display(),
            ckpt.meta.neurons,
            ckpt.meta.input_size,
            data.meta.neurons,
            data.meta.size
        )));
    }
    let analysis = analyse_checkpoint(
        &ckpt,
        path,
        split.images,
        split.responses,
        top_k,
        device,
        BATCH,
    )
    .map_err(|e| invalid(e.to_string()))?;
    let label = ckpt
        .meta
        .extra
        .get("label")
        .cloned()
        .unwrap_or_else(|| ckpt.meta.model.clone());
    let part = file_part(train_stage);
    let npy = |a: &ArrayF32, name: String| {
        a.write_npy(&out.join(&name))
            .map_err(|e| KindError::Failed(format!("stage '{stage}': {name}: {e}")))
    };
    let figure =
        |e: crate::report::figures::FigureError| KindError::Failed(format!("stage '{stage}': {e}"));
    let mut summary = Map::new();
    summary.insert("label".into(), json!(label));
    summary.insert("model".into(), json!(ckpt.meta.model));
    let mut neurons = Map::new();
    neurons.insert("label".into(), json!(label));
    let mut metrics = Vec::new();
    let PopulationAnalysis {
        feature_grid,
        attention_grid,
        fcl,
        attention,
    } = analysis;
    if let Some((centre, surround, maps)) = fcl {
        let per = summarise_neurons(&centre, &surround, split.truth);
        let population = summarise_population(&per);
        let strengths: Vec<(f64, f64)> = per
            .iter()
            .map(|n| (n.centre_strength, n.surround_strength))
            .collect();
        npy(&centre, format!("centre_{part}.npy"))?;
        npy(&surround, format!("surround_{part}.npy"))?;
        npy(&maps, format!("fcl_maps_{part}.npy"))?;
        heatmap(
            &mean_over_neurons(&maps),
            feature_grid,
            &format!("{label}: mean FCL contribution"),
            &out.join(format!("fcl_map_{part}.png")),
            true,
        )
        .map_err(figure)?;
        centre_surround_scatter(
            &strengths,
            &format!("{label}: centre vs surround"),
            &out.join(format!("centre_vs_surround_{part}.png")),
            true,
        )
        .map_err(figure)?;
        metrics.push((
            format!("{train_stage}_centre_fraction"),
            finite(population.centre_fraction),
        ));
        if let Some(t) = &population.truth {
            metrics.push((format!("{train_stage}_centre_corr"), finite(t.centre_corr)));
            metrics.push((
                format!("{train_stage}_surround_corr"),
                finite(t.surround_corr),
            ));
        }
        summary.insert("fcl".into(), json!(population));
        neurons.insert("fcl".into(), json!(per));
    }
    if let Some((_, highlights)) = attention {
        let mean = mean_over_neurons(&highlights);
        let centre = (attention_grid / 2) * attention_grid + attention_grid / 2;
        npy(&highlights, format!("attention_{part}.npy"))?;
        heatmap(
            &mean,
            attention_grid,
            &format!("{label}: centre attention, top {top_k}"),
            &out.join(format!("attention_{part}.png")),
            true,
        )
        .map_err(figure)?;
        let width = attention_grid * attention_grid;
        let self_weights: Vec<f64> = highlights
            .data
            .chunks(width.max(1))
            .map(|row| f64::from(row[centre]))
            .collect();
        summary.insert(
            "attention".into(),
            json!({ "centre_self_weight": finite(mean.get(centre).copied()) }),
        );
        neurons.insert("attention_centre_self_weight".into(), json!(self_weights));
        metrics.push((
            format!("{train_stage}_attention_centre_self"),
            finite(mean.get(centre).copied()),
        ));
    }
    if summary.len() == 2 {
        tracing::warn!(
            stage,
            train_stage,
            "model {} has neither an FCL readout nor self-attention: nothing to decompose",
            ckpt.meta.model
        );
    }
    Ok(ModelOutput {
        summary: Value::Object(summary),
        per_neuron: Value::Object(neurons),
        metrics,
    })
}

fn write_json(path: &Path, value: &Value, stage: &str) -> Result<(), KindError> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    std::fs::write(path, text).map_err(KindError::io(format!(
        "stage '{stage}': {}",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::kind::{DeviceClass, Params};
    use crate::neuro::model::ModelId;
    use crate::neuro::train::Strategy;
    use crate::neuro::train::fixtures::{self, synthetic};
    use crate::neuro::train::trainer::TrainSettings;

    /// A 2-neuron dataset with a made-up ground truth on the test split.
    fn dataset() -> PreparedDataset {
        let mut ds = synthetic(20, 6, 9, 2, 26, 5);
        let r = &ds.test_responses;
        let centre = ArrayF32::new(r.shape.clone(), r.data.iter().map(|v| v * 0.8).collect());
        let factor: Vec<f32> = (0..r.data.len())
            .map(|i| 1.0 + 0.1 * (i % 3) as f32)
            .collect();
        let noise_free = ArrayF32::new(
            r.shape.clone(),
            centre
                .data
                .iter()
                .zip(&factor)
                .map(|(c, f)| c * f)
                .collect(),
        );
        ds.truth = Some(Truth {
            noise_free,
            centre,
            surround_factor: ArrayF32::new(r.shape.clone(), factor),
        });
        ds
    }

    fn checkpoint(model: ModelId, ds: &PreparedDataset, path: &Path) {
        let settings = TrainSettings {
            seed: 3,
            ..fixtures::settings(model, 1, Strategy::Population)
        };
        let trained = fixtures::run(&settings, ds, None);
        let mut ckpt = fixtures::checkpoint(model, ds, &trained);
        ckpt.meta
            .extra
            .insert("label".to_owned(), format!("{} (test)", model.id()));
        ckpt.write(path).unwrap();
    }

    fn run(inputs: &BTreeMap<String, PathBuf>, out: &Path) -> Result<Metrics, KindError> {
        let params = Params::from([
            ("top_k".to_owned(), json!(3)),
            ("split".to_owned(), json!("test")),
        ]);
        let outputs = BTreeMap::from([("decomposition".to_owned(), out.to_owned())]);
        let progress = |_: u64, _: u64, _: &str| {};
        let ctx = StageContext {
            stage: "dec",
            params: &params,
            inputs,
            outputs: &outputs,
            workdir: out.to_owned(),
            log_path: out.join("log"),
            device: DeviceClass::Cpu,
            deterministic: true,
            progress: &progress,
            numerics: &|_| {},
        };
        DecomposeKind.run(&ctx)
    }

    fn read_json(path: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn decomposes_fcl_and_attention_models_with_truth() {
        let dir = tempfile::tempdir().unwrap();
        let ds = dataset();
        let prepared = dir.path().join("prepared");
        std::fs::create_dir(&prepared).unwrap();
        ds.write(&prepared).unwrap();
        let (fc1, rf) = (dir.path().join("fc1.st"), dir.path().join("rf.st"));
        checkpoint(ModelId::FfSaCnnStarFc1, &ds, &fc1);
        checkpoint(ModelId::RfSaCnn, &ds, &rf);
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let inputs = BTreeMap::from([
            ("prepared".to_owned(), prepared.clone()),
            ("checkpoint/ff_fc1".to_owned(), fc1),
            ("checkpoint/rf_sa".to_owned(), rf),
        ]);
        let metrics = run(&inputs, &out).unwrap();
        for key in [
            "ff_fc1_centre_fraction",
            "ff_fc1_centre_corr",
            "ff_fc1_surround_corr",
            "ff_fc1_attention_centre_self",
            "rf_sa_attention_centre_self",
        ] {
            assert!(
                metrics.contains_key(key),
                "metric {key} missing: {metrics:?}"
            );
        }
        assert!(
            !metrics.contains_key("rf_sa_centre_fraction"),
            "rf+sa has no FCL"
        );
        let f = metrics["ff_fc1_centre_fraction"].as_f64().unwrap();
        assert!([0.0, 0.5, 1.0].contains(&f), "a fraction of 2 neurons: {f}");

        let summary = read_json(&out.join("summary.json"));
        assert_eq!(
            (&summary["split"], &summary["images"], &summary["truth"]),
            (&json!("test"), &json!(9), &json!(true))
        );
        let fc1_summary = &summary["models"]["ff_fc1"];
        assert_eq!(fc1_summary["label"], json!("ff-sa-cnn-star-fc1 (test)"));
        assert_eq!(fc1_summary["fcl"]["neurons"], json!(2));
        let corr = fc1_summary["fcl"]["truth"]["centre_corr"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&corr));
        assert!(summary["models"]["rf_sa"].get("fcl").is_none());

        // The mean contributions agree with the per-image arrays written beside them.
        let centre = ArrayF32::read_npy(&out.join("centre_ff_fc1.npy")).unwrap();
        assert_eq!(centre.shape, vec![9, 2]);
        let per = read_json(&out.join("per_neuron.json"));
        let mean0 = (0..9).map(|i| f64::from(centre.data[i * 2])).sum::<f64>() / 9.0;
        let recorded = per["ff_fc1"]["fcl"][0]["centre_mean"].as_f64().unwrap();
        assert!((mean0 - recorded).abs() < 1e-6);
        assert_eq!(
            per["rf_sa"]["attention_centre_self_weight"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // Attention maps are distributions over the 3 x 3 grid (26-pixel inputs).
        for stage in ["ff_fc1", "rf_sa"] {
            let a = ArrayF32::read_npy(&out.join(format!("attention_{stage}.npy"))).unwrap();
            assert_eq!(a.shape, vec![2, 3, 3]);
            for row in a.data.chunks(9) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
            }
        }
        let mut files: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".png"))
            .collect();
        files.sort();
        assert_eq!(
            files,
            [
                "attention_ff_fc1.png",
                "attention_rf_sa.png",
                "centre_vs_surround_ff_fc1.png",
                "fcl_map_ff_fc1.png",
            ]
        );
        for f in &files {
            assert!(
                decompose_spec::figure_caption(f).is_some(),
                "{f} has no caption"
            );
        }

        // A checkpoint of another population is refused, naming the train stage.
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        synthetic(20, 6, 9, 3, 26, 5).write(&other).unwrap();
        let mut wrong = inputs.clone();
        wrong.insert("prepared".to_owned(), other);
        let err = run(&wrong, &out).unwrap_err().to_string();
        assert!(
            err.contains("train stage 'ff_fc1'")
                && err.contains("2 neurons")
                && err.contains("3 neurons"),
            "{err}"
        );
        let none = BTreeMap::from([("prepared".to_owned(), prepared)]);
        let err = run(&none, &out).unwrap_err().to_string();
        assert!(err.contains("'checkpoint' is bound to no stage"), "{err}");
    }

    #[test]
    fn stage_definition_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut kinds = crate::kind::KindRegistry::default();
        kinds.register(Box::new(DecomposeKind));
        let def = crate::spec::definition::Definition::load(
            &root.join("stages/decompose.yaml"),
            root,
            &kinds,
        )
        .unwrap();
        assert!(def.inputs["checkpoint"].many && !def.inputs["prepared"].many);
    }
}
