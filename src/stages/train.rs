//! The `train` stage kind: resolves its parameters into a typed spec
//! ([`train_spec::resolve`]), reads the prepared dataset, fits the population with one call of
//! [`crate::neuro::train::fit`] (starting, with `init`, from an upstream checkpoint) and writes
//! what that returns: the checkpoint (safetensors), the learning curves (CSV) and the
//! predictions on the validation and test splits (`.npy`, plus `info.json`).

use serde_json::{Value, json};

use super::train_spec;
use crate::kind::{KindError, Metrics, Params, StageContext, StageKind};
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::runtime::determinism;
use crate::neuro::scoring::evaluation::recorded_pairs;
use crate::neuro::scoring::metrics::pearson;
use crate::neuro::stats::{mean_of, middle};
use crate::neuro::train::fit::{Fitted, fit};
use crate::neuro::train::trainer::EpochReport;
use crate::neuro::train::{TrainError, curves, predictions, torch_device};
use crate::reproducibility::compared::{
    FINGERPRINT_IMAGES, NEURON_TEST_CORR, NEURON_TEST_PREDICTIONS,
};

/// The `train` kind.
pub struct TrainKind;

fn train_error(stage: &str, e: TrainError) -> KindError {
    match e {
        TrainError::NonFinite { .. } | TrainError::Device(_) | TrainError::OutOfMemory(_) => {
            KindError::Failed(format!("stage '{stage}': {e}"))
        }
        _ => KindError::Invalid(format!("stage '{stage}': {e}")),
    }
}

/// The progress line of an epoch.
fn epoch_line(r: &EpochReport) -> String {
    let who = if r.neurons.len() == 1 {
        format!("neuron {}", r.neurons.start)
    } else {
        format!("neurons {}-{}", r.neurons.start, r.neurons.end - 1)
    };
    let corr = r
        .val_corr
        .map_or_else(|| "undefined".to_owned(), |c| format!("{c:.3}"));
    format!(
        "epoch {}/{} {who}: loss {:.4}, mean val r {corr}",
        r.epoch, r.epochs, r.train_loss
    )
}

fn summary(values: &[usize]) -> Value {
    match (values.iter().min(), middle(values), values.iter().max()) {
        (Some(min), Some(median), Some(max)) => {
            json!({ "min": min, "median": median, "max": max })
        }
        _ => Value::Null,
    }
}

/// What the model predicts, for verdicts across reproducibility classes
/// ([`crate::reproducibility::compared`]): each neuron's test CORR (null where undefined) and
/// its predictions on the first test images.
fn predicted_numbers(fitted: &Fitted, data: &PreparedDataset, metrics: &mut Metrics) {
    let neurons = fitted.test.row_len();
    let corr: Vec<Option<f64>> = (0..neurons)
        .map(|j| {
            let (recorded, predicted) = recorded_pairs(&data.test_responses, &fitted.test, j);
            pearson(&recorded, &predicted).ok()
        })
        .collect();
    let images = fitted.test.shape[0].min(FINGERPRINT_IMAGES);
    let sample: Vec<Vec<f64>> = (0..neurons)
        .map(|j| {
            (0..images)
                .map(|i| f64::from(fitted.test.row(i)[j]))
                .collect()
        })
        .collect();
    metrics.insert(NEURON_TEST_CORR.into(), json!(corr));
    metrics.insert(NEURON_TEST_PREDICTIONS.into(), json!(sample));
}

fn metrics(fitted: &Fitted, data: &PreparedDataset) -> Metrics {
    let mean_val_corr = mean_of(fitted.best_val_corr.iter().copied());
    let mut metrics = Metrics::new();
    metrics.insert("trainable_params".into(), json!(fitted.trainable_params));
    metrics.insert("mean_val_corr".into(), json!(mean_val_corr));
    metrics.insert("best_epoch".into(), summary(&fitted.best_epoch));
    metrics.insert(
        "images_neuron_per_s".into(),
        json!(fitted.images_neuron_per_s.round()),
    );
    metrics.insert("neurons_per_group".into(), json!(fitted.group_size));
    metrics.insert("train_seconds".into(), json!(fitted.train_seconds));
    predicted_numbers(fitted, data, &mut metrics);
    metrics
}

impl StageKind for TrainKind {
    fn name(&self) -> &'static str {
        "train"
    }

    fn version(&self) -> u32 {
        train_spec::VERSION
    }

    fn uses_device(&self) -> bool {
        true
    }

    fn derived_inputs(&self, params: &Params) -> Result<Vec<(String, String, String)>, String> {
        train_spec::derived_inputs(params)
    }

    fn run(&self, ctx: &StageContext) -> Result<Metrics, KindError> {
        let stage = ctx.stage;
        let invalid = |m: String| KindError::Invalid(format!("stage '{stage}': {m}"));
        let spec = train_spec::resolve(ctx.params).map_err(invalid)?;
        let data = PreparedDataset::read(ctx.input("prepared")?)
            .map_err(|e| invalid(format!("input 'prepared': {e}")))?;
        let upstream = match &spec.init {
            Some(_) => Some(ctx.input("init")?.as_path()),
            None => None,
        };
        let device = torch_device(ctx.device).map_err(|e| train_error(stage, e))?;
        determinism::set_deterministic(ctx.deterministic);
        let mut on_epoch = |r: &EpochReport| {
            let line = epoch_line(r);
            if let Err(e) = ctx.log(&line) {
                tracing::warn!(stage, "{e}");
            }
            let done = ((r.group - 1) * r.epochs + r.epoch) as u64;
            (ctx.progress)(done, (r.groups * r.epochs) as u64, &line);
        };
        let fitted = fit(&spec, stage, &data, upstream, device, &mut on_epoch)
            .map_err(|e| train_error(stage, e))?;

        let failed = |e: &dyn std::fmt::Display| KindError::Failed(format!("stage '{stage}': {e}"));
        fitted
            .checkpoint
            .write(ctx.output("checkpoint")?)
            .map_err(|e| failed(&e))?;
        let curves_path = ctx.output("curves")?;
        std::fs::write(curves_path, curves::to_csv(&fitted.curves)).map_err(KindError::io(
            format!("stage '{stage}': {}", curves_path.display()),
        ))?;
        predictions::write(
            ctx.output("predictions")?,
            &fitted.info,
            &fitted.test,
            &fitted.val,
        )
        .map_err(|e| failed(&e))?;
        Ok(metrics(&fitted, &data))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::kind::DeviceClass;
    use crate::neuro::array::ArrayF32;
    use crate::neuro::model::ModelId;
    use crate::neuro::model::checkpoint::Checkpoint;
    use crate::neuro::train::fixtures::synthetic;
    use crate::neuro::train::params::TrainParams;
    use crate::neuro::train::predictions::InitProvenance;

    struct Run {
        _dir: tempfile::TempDir,
        outputs: BTreeMap<String, PathBuf>,
        result: Result<Metrics, KindError>,
    }

    /// `stages/train.yaml`'s defaults for an rf-sa-cnn, 2 epochs of batch 10, seed 7, with
    /// `extra` on top, as the engine passes them.
    fn params(extra: &[(&str, Value)]) -> Params {
        let base = TrainParams {
            epochs: 2,
            batch_size: 10,
            ..TrainParams::defaults(ModelId::RfSaCnn, 7)
        };
        let Value::Object(base) = serde_json::to_value(base).unwrap() else {
            unreachable!("a struct writes an object")
        };
        let mut p: Params = base.into_iter().collect();
        for (k, v) in extra {
            p.insert((*k).to_owned(), v.clone());
        }
        p
    }

    fn run_stage(params: &Params, prepared: &Path, init: Option<&Path>) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = BTreeMap::new();
        inputs.insert("prepared".to_owned(), prepared.to_owned());
        if let Some(init) = init {
            inputs.insert("init".to_owned(), init.to_owned());
        }
        let pred = dir.path().join("predictions");
        std::fs::create_dir(&pred).unwrap();
        let outputs: BTreeMap<String, PathBuf> = [
            (
                "checkpoint".to_owned(),
                dir.path().join("model.safetensors"),
            ),
            ("curves".to_owned(), dir.path().join("curves.csv")),
            ("predictions".to_owned(), pred),
        ]
        .into_iter()
        .collect();
        let progress = |_: u64, _: u64, _: &str| {};
        let ctx = StageContext {
            stage: "fit",
            params,
            inputs: &inputs,
            outputs: &outputs,
            workdir: dir.path().to_owned(),
            log_path: dir.path().join("log"),
            device: DeviceClass::Cpu,
            deterministic: true,
            progress: &progress,
            numerics: &|_| {},
        };
        let result = TrainKind.run(&ctx);
        Run {
            _dir: dir,
            outputs,
            result,
        }
    }

    fn prepared(neurons: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        synthetic(30, 10, 8, neurons, 26, 2)
            .write(dir.path())
            .unwrap();
        dir
    }

    #[test]
    fn writes_checkpoint_curves_and_predictions_and_reports_metrics() {
        let data = prepared(2);
        let run = run_stage(
            &params(&[("label", json!("rf+sa (test)"))]),
            data.path(),
            None,
        );
        let metrics = run.result.unwrap();
        assert_eq!(metrics["trainable_params"], json!(25_812));
        assert!(
            metrics["mean_val_corr"].is_number()
                && metrics["images_neuron_per_s"].as_f64().unwrap() > 0.0
        );
        let ckpt = Checkpoint::read(&run.outputs["checkpoint"]).unwrap();
        assert_eq!(
            (
                ckpt.meta.model.as_str(),
                ckpt.meta.neurons,
                ckpt.meta.input_size
            ),
            ("rf-sa-cnn", 2, 26)
        );
        assert_eq!(ckpt.meta.extra["label"], "rf+sa (test)");
        assert_eq!(
            ckpt.tensors["alpha1.conv.weight"].shape,
            vec![2, 30, 1, 5, 5]
        );
        let curves = std::fs::read_to_string(&run.outputs["curves"]).unwrap();
        let lines: Vec<&str> = curves.lines().collect();
        assert_eq!(lines[0], "epoch,neuron,train_loss,val_loss,val_corr");
        assert_eq!(lines.len(), 1 + 2 * 2);
        assert!(lines[1].starts_with("1,0,") && lines[4].starts_with("2,1,"));
        let pred = &run.outputs["predictions"];
        assert_eq!(
            ArrayF32::read_npy(&pred.join("test.npy")).unwrap().shape,
            vec![8, 2]
        );
        assert_eq!(
            ArrayF32::read_npy(&pred.join("val.npy")).unwrap().shape,
            vec![10, 2]
        );
        let info = predictions::read_info(pred).unwrap();
        assert_eq!(info.stage.as_deref(), Some("fit"));
        assert_eq!(info.model, "rf-sa-cnn");
        assert_eq!(info.label.as_deref(), Some("rf+sa (test)"));
        assert_eq!(info.best_epoch.len(), 2);
        assert!(!info.incremental && info.init.is_none() && info.frozen.is_empty());
    }

    #[test]
    fn the_same_stage_twice_gives_byte_identical_outputs() {
        let data = prepared(2);
        let p = params(&[("strategy", json!("population"))]);
        let (a, b) = (
            run_stage(&p, data.path(), None),
            run_stage(&p, data.path(), None),
        );
        a.result.as_ref().unwrap();
        b.result.as_ref().unwrap();
        for output in ["checkpoint", "curves"] {
            assert_eq!(
                std::fs::read(&a.outputs[output]).unwrap(),
                std::fs::read(&b.outputs[output]).unwrap(),
                "{output}"
            );
        }
        for file in ["test.npy", "val.npy"] {
            let read = |r: &Run| std::fs::read(r.outputs["predictions"].join(file)).unwrap();
            assert_eq!(read(&a), read(&b), "{file}");
        }
    }

    #[test]
    fn init_freeze_and_errors_name_the_blocks() {
        let data = prepared(2);
        let up = run_stage(
            &params(&[
                ("model", json!("rf-cnn")),
                ("channels", json!(30)),
                ("epochs", json!(1)),
            ]),
            data.path(),
            None,
        );
        up.result.as_ref().unwrap();
        let init = json!({ "from": "rf", "blocks": ["alpha"] });
        let p = params(&[
            ("model", json!("rf-sa-cnn-star")),
            ("init", init.clone()),
            ("freeze", json!(["alpha"])),
        ]);
        assert_eq!(
            TrainKind.derived_inputs(&p).unwrap(),
            vec![("init".to_owned(), "rf".to_owned(), "checkpoint".to_owned())]
        );
        let inc = run_stage(&p, data.path(), Some(&up.outputs["checkpoint"]));
        assert_eq!(inc.result.unwrap()["trainable_params"], json!(2_717));
        let info = predictions::read_info(&inc.outputs["predictions"]).unwrap();
        assert!(info.incremental, "{info:?}");
        assert_eq!(
            info.init,
            Some(InitProvenance {
                from: "rf".into(),
                blocks: vec!["alpha".into()]
            })
        );
        assert!(
            !info.frozen.is_empty() && info.frozen.iter().all(|b| b.starts_with("alpha")),
            "{:?}",
            info.frozen
        );
        let (a, b) = (
            Checkpoint::read(&up.outputs["checkpoint"]).unwrap(),
            Checkpoint::read(&inc.outputs["checkpoint"]).unwrap(),
        );
        for (name, t) in a.tensors.iter().filter(|(n, _)| n.starts_with("alpha")) {
            assert_eq!(t, &b.tensors[name], "{name}");
        }
        let bad = params(&[
            ("model", json!("rf-sa-cnn-star")),
            ("freeze", json!(["alpha", "gamma"])),
        ]);
        let err = run_stage(&bad, data.path(), None)
            .result
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "stage 'fit': freeze: unknown block 'gamma' for model rf-sa-cnn-star; valid blocks: alpha, alpha1, alpha2, sa, beta, beta1, beta2, readout"
        );
        let bad_init = params(&[(
            "init",
            json!({ "from": "rf", "blocks": ["alpha", "attention"] }),
        )]);
        let err = run_stage(&bad_init, data.path(), Some(&up.outputs["checkpoint"]))
            .result
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "init.blocks: unknown block 'attention' for model rf-sa-cnn; valid blocks: alpha,"
            ),
            "{err}"
        );
        assert!(
            TrainKind
                .derived_inputs(&params(&[("init", json!({ "from": "rf" }))]))
                .unwrap_err()
                .contains("init.blocks")
        );
        assert!(
            TrainKind
                .derived_inputs(&params(&[("init", json!({ "form": "rf" }))]))
                .unwrap_err()
                .contains("unknown key 'form'")
        );
        assert!(TrainKind.derived_inputs(&params(&[])).unwrap().is_empty());
    }

    #[test]
    fn a_nan_loss_fails_the_stage_naming_epoch_and_neuron() {
        let dir = tempfile::tempdir().unwrap();
        let mut ds = synthetic(30, 10, 8, 3, 26, 2);
        ds.train_responses.data[5 * 3 + 1] = f32::INFINITY;
        ds.write(dir.path()).unwrap();
        let err = run_stage(&params(&[]), dir.path(), None)
            .result
            .unwrap_err();
        assert!(matches!(err, KindError::Failed(_)));
        assert_eq!(
            err.to_string(),
            "stage 'fit': epoch 1, neuron 1: training loss is NaN (try a smaller learning rate)"
        );
    }
}
