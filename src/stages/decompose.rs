//! The `decompose` stage kind (models.md §7): runs every bound train stage's checkpoint on the
//! prepared dataset's test (or validation) images and writes, into the `decomposition`
//! directory, the files typed in [`crate::neuro::analysis::files`]:
//!
//! - `summary.json`: `{images, models: {<train stage>: {attention, fcl: population means,
//!   label, model}}, split, top_k, truth}` (what the report shows);
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
//! Models with neither (rf-CNN) are listed with their label only. The adapter reads its
//! parameters ([`DecomposeSpec`]), calls [`decompose_checkpoint`] per model and writes.

use std::io::Write as _;
use std::path::Path;

use serde_json::json;

use super::decompose_spec::{self, DecomposeSpec};
use crate::kind::{KindError, Metrics, StageContext, StageKind};
use crate::neuro::analysis::decompose::{ModelDecomposition, SplitData, decompose_checkpoint};
use crate::neuro::analysis::files::{
    ArrayFile, DecompositionFigure, DecompositionSummary, PerNeuronFile, write_per_neuron,
};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::model::checkpoint::Checkpoint;
use crate::neuro::runtime::determinism;
use crate::neuro::train::torch_device;
use crate::report::maps::{Reference, centre_surround_scatter, heatmap};

/// The `decompose` kind.
pub struct DecomposeKind;

/// Images per forward pass.
const BATCH: usize = 256;

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
        let spec = DecomposeSpec::from_params(ctx)?;
        let data = PreparedDataset::read(ctx.input("prepared")?)
            .map_err(|e| KindError::Invalid(format!("stage '{stage}': input 'prepared': {e}")))?;
        let bound = ctx.inputs_many("checkpoint");
        if bound.is_empty() {
            return Err(KindError::Invalid(format!(
                "stage '{stage}': input 'checkpoint' is bound to no stage: list train stages in \
                 `needs`"
            )));
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

        let split = SplitData::of(&data, spec.split);
        let mut summary = DecompositionSummary {
            images: split.images.shape[0],
            models: Default::default(),
            split: spec.split,
            top_k: spec.top_k,
            truth: split.truth.is_some(),
        };
        let (mut per_neuron, mut metrics) = (PerNeuronFile::new(), Metrics::new());
        for (i, (train_stage, path)) in bound.iter().enumerate() {
            let msg = format!("analysing {train_stage} ({}/{})", i + 1, bound.len());
            let _ = writeln!(log, "{msg}");
            (ctx.progress)(i as u64, bound.len() as u64, &msg);
            let invalid = |m: String| {
                KindError::Invalid(format!(
                    "stage '{stage}': input 'checkpoint' of train stage '{train_stage}': {m}"
                ))
            };
            let ckpt = Checkpoint::read(path).map_err(|e| invalid(e.to_string()))?;
            let model =
                decompose_checkpoint(&ckpt, path, &data, spec.split, spec.top_k, device, BATCH)
                    .map_err(|e| invalid(e.to_string()))?;
            if model.is_empty() {
                tracing::warn!(
                    stage,
                    train_stage,
                    "model {} has neither an FCL readout nor self-attention: nothing to decompose",
                    model.model
                );
            }
            write_arrays_and_figures(stage, train_stage, &model, spec.top_k, out)?;
            metrics.extend(model_metrics(train_stage, &model));
            summary
                .models
                .insert(train_stage.to_string(), model.summary());
            per_neuron.insert(train_stage.to_string(), model.neurons());
        }
        (ctx.progress)(bound.len() as u64, bound.len() as u64, "done");
        let failed = |e: crate::neuro::analysis::files::FilesError| {
            KindError::Failed(format!("stage '{stage}': {e}"))
        };
        summary.write(out).map_err(failed)?;
        write_per_neuron(&per_neuron, out).map_err(failed)?;
        Ok(metrics)
    }
}

/// One model's `.npy` arrays and PNG figures, named by [`ArrayFile`] and
/// [`DecompositionFigure`].
fn write_arrays_and_figures(
    stage: &str,
    train_stage: &str,
    model: &ModelDecomposition,
    top_k: usize,
    out: &Path,
) -> Result<(), KindError> {
    let npy = |a: &ArrayF32, file: ArrayFile| {
        let name = file.file_name(train_stage);
        a.write_npy(&out.join(&name))
            .map_err(|e| KindError::Failed(format!("stage '{stage}': {name}: {e}")))
    };
    let figure =
        |e: crate::report::figures::FigureError| KindError::Failed(format!("stage '{stage}': {e}"));
    let png = |f: DecompositionFigure| out.join(f.file_name(train_stage));
    let title = |f: DecompositionFigure| f.title(&model.label, top_k);
    if let Some(fcl) = &model.fcl {
        npy(&fcl.centre, ArrayFile::Centre)?;
        npy(&fcl.surround, ArrayFile::Surround)?;
        npy(&fcl.maps, ArrayFile::FclMaps)?;
        let map = DecompositionFigure::FclMap;
        heatmap(
            &fcl.mean_map,
            model.feature_grid,
            Reference::ZERO,
            &title(map),
            &png(map),
            true,
        )
        .map_err(figure)?;
        let scatter = DecompositionFigure::CentreVsSurround;
        centre_surround_scatter(&fcl.strengths(), &title(scatter), &png(scatter), true)
            .map_err(figure)?;
    }
    if let Some(attention) = &model.attention {
        npy(&attention.highlights, ArrayFile::Attention)?;
        let f = DecompositionFigure::Attention;
        heatmap(
            &attention.mean,
            model.attention_grid,
            Reference::uniform(attention.mean.len()),
            &title(f),
            &png(f),
            true,
        )
        .map_err(figure)?;
    }
    Ok(())
}

/// The stage's metrics for one model, prefixed with its train stage.
fn model_metrics(train_stage: &str, model: &ModelDecomposition) -> Metrics {
    let mut metrics = Metrics::new();
    let mut put = |name: &str, value: Option<f64>| {
        metrics.insert(format!("{train_stage}_{name}"), json!(value));
    };
    if let Some(fcl) = &model.fcl {
        put("centre_fraction", fcl.population.centre_fraction);
        if let Some(t) = &fcl.population.truth {
            put("centre_corr", t.centre_corr);
            put("surround_corr", t.surround_corr);
        }
    }
    if let Some(attention) = &model.attention {
        put("attention_centre_self", attention.centre_self_weight);
    }
    metrics
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;
    use crate::kind::{DeviceClass, Params};
    use crate::neuro::data::truth::Truth;
    use crate::neuro::model::ModelId;
    use crate::neuro::train::Strategy;
    use crate::neuro::train::fixtures::{self, synthetic};

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
        let mut settings = fixtures::settings(model, 1, Strategy::Population);
        settings.params.seed = 3;
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
        // The typed readers read what was written.
        let typed = DecompositionSummary::read(&out.join("summary.json")).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), summary);
        let per_typed =
            crate::neuro::analysis::files::read_per_neuron(&out.join("per_neuron.json")).unwrap();
        assert_eq!(per_typed["rf_sa"].label, "rf-sa-cnn (test)");
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
                DecompositionFigure::parse(f).is_some(),
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
