//! The `train` stage kind: reads a prepared dataset (and, with `init`, an upstream checkpoint),
//! trains one network per neuron with `crate::neuro::train`, and writes the checkpoint
//! (safetensors), the learning curves (CSV) and the predictions on the validation and test
//! splits (`.npy`, plus `info.json`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::train_spec::{self, init_param};
use crate::kind::{KindError, Metrics, Params, StageContext, StageKind};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::model::arch::ReadoutKind;
use crate::neuro::model::checkpoint::{Checkpoint, CheckpointMeta};
use crate::neuro::model::{Architecture, FreezeMode, ModelId, Unit};
use crate::neuro::runtime::determinism;
use crate::neuro::train::trainer::{
    CurveRow, EpochReport, InitFrom, TrainData, TrainSettings, predict_checkpoint, train,
};
use crate::neuro::train::{CombineInit, Precision, Selection, Strategy, TrainError, torch_device};

/// The `train` kind.
pub struct TrainKind;

fn string_list(ctx: &StageContext, name: &str) -> Result<Vec<String>, KindError> {
    match ctx.param(name)? {
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    KindError::Invalid(format!(
                        "stage '{}': {name}: {v} is not a block name",
                        ctx.stage
                    ))
                })
            })
            .collect(),
        other => Err(KindError::Invalid(format!(
            "stage '{}': {name} must be a list, found {other}",
            ctx.stage
        ))),
    }
}

fn choice<T>(ctx: &StageContext, name: &str, parse: fn(&str) -> Option<T>) -> Result<T, KindError> {
    let s = ctx.param_str(name)?;
    parse(s).ok_or_else(|| {
        KindError::Invalid(format!(
            "stage '{}': {name}: unknown value '{s}'",
            ctx.stage
        ))
    })
}

/// Resolves `combine_init` for `arch`; `copies_centre` says whether `init` copies the centre
/// term from an upstream checkpoint.
fn combine_init(
    value: &str,
    arch: &Architecture,
    copies_centre: bool,
) -> Result<CombineInit, String> {
    let split = arch.readout == ReadoutKind::SplitFcl;
    match value {
        "auto" if split && copies_centre => Ok(CombineInit::Centre),
        "auto" => Ok(CombineInit::Random),
        _ if !split => Err(format!(
            "combine_init: '{value}' applies to ff-sa-cnn-star-fc1 only (model {} has no combiner); leave it at auto",
            arch.model
        )),
        "centre" => Ok(CombineInit::Centre),
        "random" => Ok(CombineInit::Random),
        other => Err(format!(
            "combine_init: unknown value '{other}' (valid: auto, centre, random)"
        )),
    }
}

fn train_error(stage: &str, e: TrainError) -> KindError {
    match e {
        TrainError::NonFinite { .. } | TrainError::Device(_) => {
            KindError::Failed(format!("stage '{stage}': {e}"))
        }
        _ => KindError::Invalid(format!("stage '{stage}': {e}")),
    }
}

fn curves_csv(rows: &[CurveRow]) -> String {
    let mut out = String::from("epoch,neuron,train_loss,val_loss,val_corr\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            r.epoch, r.neuron, r.train_loss, r.val_loss, r.val_corr
        );
    }
    out
}

fn summary(values: &[usize]) -> Value {
    let mut v = values.to_vec();
    v.sort_unstable();
    match (v.first(), v.last()) {
        (Some(min), Some(max)) => json!({ "min": min, "median": v[v.len() / 2], "max": max }),
        _ => Value::Null,
    }
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
        let model =
            ModelId::parse(ctx.param_str("model")?).map_err(|e| invalid(format!("model: {e}")))?;
        let prepared_dir = ctx.input("prepared")?;
        let data = PreparedDataset::read(prepared_dir)
            .map_err(|e| invalid(format!("input 'prepared': {e}")))?;
        let channels = match ctx.param_u64("channels")? {
            0 => None,
            c => Some(c as usize),
        };
        let arch = Architecture::new(model, data.meta.size)
            .and_then(|a| match channels {
                Some(c) => a.with_channels(c),
                None => Ok(a),
            })
            .map_err(|e| invalid(e.to_string()))?;
        let freeze = arch
            .resolve_units(&string_list(ctx, "freeze")?, "freeze")
            .map_err(|e| invalid(e.to_string()))?;
        let device = torch_device(ctx.device).map_err(|e| train_error(stage, e))?;
        determinism::set_deterministic(ctx.deterministic);
        let init_spec = init_param(ctx.params).map_err(invalid)?;
        let upstream = match &init_spec {
            Some(spec) => {
                let path = ctx.input("init")?;
                let ckpt = Checkpoint::read(path)
                    .map_err(|e| invalid(format!("init (from stage '{}'): {e}", spec.from)))?;
                let units = arch
                    .resolve_units(&spec.blocks, "init.blocks")
                    .map_err(|e| invalid(e.to_string()))?;
                Some((ckpt, path.clone(), units))
            }
            None => None,
        };
        let copies_centre = upstream
            .as_ref()
            .is_some_and(|(_, _, units)| units.contains(&Unit::Centre));
        let settings = TrainSettings {
            model,
            channels,
            epochs: ctx.param_u64("epochs")? as usize,
            batch_size: ctx.param_u64("batch_size")? as usize,
            lr: ctx.param_f64("lr")?,
            seed: ctx.param_u64("seed")?,
            selection: choice(ctx, "selection", Selection::parse)?,
            freeze,
            freeze_mode: choice(ctx, "freeze_mode", FreezeMode::parse)?,
            strategy: choice(ctx, "strategy", Strategy::parse)?,
            device,
            eval_batch: 50,
            precision: Precision::Single,
            combine_init: combine_init(ctx.param_str("combine_init")?, &arch, copies_centre)
                .map_err(invalid)?,
        };
        let init = upstream.as_ref().map(|(checkpoint, path, units)| InitFrom {
            checkpoint,
            path,
            units: units.clone(),
        });

        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ctx.log_path)
            .map_err(KindError::io(format!(
                "stage '{stage}': log {}",
                ctx.log_path.display()
            )))?;
        let mut on_epoch = |r: &EpochReport| {
            let done = ((r.group - 1) * r.epochs + r.epoch) as u64;
            let total = (r.groups * r.epochs) as u64;
            let who = if r.neurons.len() == 1 {
                format!("neuron {}", r.neurons.start)
            } else {
                format!("neurons {}-{}", r.neurons.start, r.neurons.end - 1)
            };
            let msg = format!(
                "epoch {}/{} {who}: loss {:.4}, mean val r {:.3}",
                r.epoch, r.epochs, r.train_loss, r.val_corr
            );
            let _ = writeln!(log, "{msg}");
            (ctx.progress)(done, total, &msg);
        };
        let train_data = TrainData {
            train_images: &data.train_images,
            train_responses: &data.train_responses,
            val_images: &data.val_images,
            val_responses: &data.val_responses,
        };
        let trained = train(&settings, &train_data, init.as_ref(), &mut on_epoch)
            .map_err(|e| train_error(stage, e))?;

        let label = match ctx.param_str("label")? {
            "" => model.display_name().to_owned(),
            l => l.to_owned(),
        };
        let mut extra = std::collections::BTreeMap::new();
        extra.insert("label".to_owned(), label.clone());
        extra.insert(
            "best_epoch".to_owned(),
            json!(trained.best_epoch).to_string(),
        );
        extra.insert("selection".to_owned(), settings.selection.id().to_owned());
        let frozen: Vec<&str> = settings.freeze.iter().map(|u| u.name()).collect();
        extra.insert("frozen".to_owned(), json!(frozen).to_string());
        extra.insert(
            "freeze_mode".to_owned(),
            settings.freeze_mode.id().to_owned(),
        );
        if arch.readout == ReadoutKind::SplitFcl {
            extra.insert(
                "combine_init".to_owned(),
                settings.combine_init.id().to_owned(),
            );
        }
        if let Some(spec) = &init_spec {
            extra.insert(
                "init".to_owned(),
                json!({ "from": spec.from, "blocks": spec.blocks }).to_string(),
            );
        }
        let checkpoint = Checkpoint {
            meta: CheckpointMeta {
                model: model.id().to_owned(),
                neurons: data.meta.neurons,
                input_size: data.meta.size,
                channels: arch.channels,
                sapipe_version: env!("CARGO_PKG_VERSION").to_owned(),
                extra,
            },
            tensors: trained.tensors.clone(),
        };
        let ckpt_path = ctx.output("checkpoint")?;
        checkpoint
            .write(ckpt_path)
            .map_err(|e| KindError::Failed(format!("stage '{stage}': {e}")))?;
        let curves_path = ctx.output("curves")?;
        std::fs::write(curves_path, curves_csv(&trained.curves)).map_err(KindError::io(
            format!("stage '{stage}': {}", curves_path.display()),
        ))?;

        let pred_dir = ctx.output("predictions")?;
        let predict = |images: &ArrayF32| {
            predict_checkpoint(
                &checkpoint,
                ckpt_path,
                images,
                device,
                trained.group_size,
                settings.eval_batch,
            )
            .map_err(|e| train_error(stage, e))
        };
        write_npy(
            &predict(&data.test_images)?,
            &pred_dir.join("test.npy"),
            stage,
        )?;
        write_npy(
            &predict(&data.val_images)?,
            &pred_dir.join("val.npy"),
            stage,
        )?;
        let info = json!({
            "model": model.id(),
            "label": label,
            "stage": stage,
            "trainable_params": trained.trainable_params,
            "best_epoch": trained.best_epoch,
            "best_val_corr": trained.best_val_corr.iter().map(|&r| finite(r)).collect::<Vec<_>>(),
            "selection": settings.selection.id(),
            "epochs": settings.epochs,
        });
        let info_path = pred_dir.join("info.json");
        std::fs::write(
            &info_path,
            serde_json::to_string_pretty(&info).expect("JSON values serialise"),
        )
        .map_err(KindError::io(format!(
            "stage '{stage}': {}",
            info_path.display()
        )))?;

        let valid: Vec<f64> = trained
            .best_val_corr
            .iter()
            .copied()
            .filter(|r| r.is_finite())
            .collect();
        let mean_val_corr = if valid.is_empty() {
            f64::NAN
        } else {
            valid.iter().sum::<f64>() / valid.len() as f64
        };
        let mut metrics = Metrics::new();
        metrics.insert("trainable_params".into(), json!(trained.trainable_params));
        metrics.insert("mean_val_corr".into(), finite(mean_val_corr));
        metrics.insert("best_epoch".into(), summary(&trained.best_epoch));
        metrics.insert(
            "images_neuron_per_s".into(),
            json!(trained.images_neuron_per_s.round()),
        );
        metrics.insert("neurons_per_group".into(), json!(trained.group_size));
        metrics.insert("train_seconds".into(), json!(trained.train_seconds));
        Ok(metrics)
    }
}

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn write_npy(a: &ArrayF32, path: &Path, stage: &str) -> Result<(), KindError> {
    a.write_npy(path)
        .map_err(|e| KindError::Failed(format!("stage '{stage}': {e}")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::kind::DeviceClass;
    use crate::neuro::train::fixtures::synthetic;

    struct Run {
        _dir: tempfile::TempDir,
        outputs: BTreeMap<String, PathBuf>,
        result: Result<Metrics, KindError>,
    }

    fn params(extra: &[(&str, Value)]) -> Params {
        let mut p: Params = [
            ("model", json!("rf-sa-cnn")),
            ("channels", json!(0)),
            ("epochs", json!(2)),
            ("batch_size", json!(10)),
            ("lr", json!(0.001)),
            ("seed", json!(7)),
            ("init", json!({})),
            ("freeze", json!([])),
            ("freeze_mode", json!("strict")),
            ("selection", json!("per-neuron")),
            ("strategy", json!("auto")),
            ("combine_init", json!("auto")),
            ("label", json!("")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
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
    fn combine_init_auto_follows_the_centre_copy_and_explicit_values_need_a_combiner() {
        let fc1 = Architecture::new(ModelId::FfSaCnnStarFc1, 50).unwrap();
        let fcl = Architecture::new(ModelId::FfSaCnnStar, 50).unwrap();
        assert_eq!(combine_init("auto", &fc1, true), Ok(CombineInit::Centre));
        assert_eq!(combine_init("auto", &fc1, false), Ok(CombineInit::Random));
        assert_eq!(combine_init("random", &fc1, true), Ok(CombineInit::Random));
        assert_eq!(combine_init("centre", &fc1, false), Ok(CombineInit::Centre));
        assert_eq!(combine_init("auto", &fcl, true), Ok(CombineInit::Random));
        let err = combine_init("centre", &fcl, false).unwrap_err();
        assert!(
            err.contains("ff-sa-cnn-star-fc1 only") && err.contains("leave it at auto"),
            "{err}"
        );
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
        let info: Value =
            serde_json::from_str(&std::fs::read_to_string(pred.join("info.json")).unwrap())
                .unwrap();
        assert_eq!(info["stage"], json!("fit"));
        assert_eq!(info["model"], json!("rf-sa-cnn"));
        assert_eq!(info["best_epoch"].as_array().unwrap().len(), 2);
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
