//! One call from a resolved train request to everything a train stage writes: the population
//! checkpoint, the learning curves, the predictions on the test and validation splits, and
//! the [`PredictionInfo`] that says what the model is (incremental or not, from which stage,
//! which blocks frozen). The stage adapter only reads its inputs and writes these.

use std::collections::BTreeMap;
use std::path::Path;

use tch::Device;

use super::curves::CurveRow;
use super::params::TrainParams;
use super::predictions::{InitProvenance, PredictionInfo, Recipe};
use super::trainer::{
    EpochReport, InitFrom, Runtime, TrainData, TrainSettings, Trained, predict_checkpoint, train,
};
use super::{ReadoutBias, TrainError};
use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::model::Unit;
use crate::neuro::model::arch::ReadoutKind;
use crate::neuro::model::checkpoint::{Checkpoint, CheckpointMeta};
use crate::neuro::scoring::convergence::improving_at_end;

/// Images per inference batch.
pub const EVAL_BATCH: usize = 50;

/// What fitting produced.
pub struct Fitted {
    pub checkpoint: Checkpoint,
    pub curves: Vec<CurveRow>,
    /// Predictions `[images, neurons]` on the test and validation splits.
    pub test: ArrayF32,
    pub val: ArrayF32,
    pub info: PredictionInfo,
    pub trainable_params: usize,
    pub best_epoch: Vec<usize>,
    pub best_val_corr: Vec<Option<f64>>,
    pub images_neuron_per_s: f64,
    pub group_size: usize,
    pub train_seconds: f64,
}

/// Trains `spec` on `data` (named `origin` in what it writes), starting from the checkpoint at
/// `upstream` when `spec.init` asks for one, and predicts both held-out splits.
pub fn fit(
    spec: &TrainParams,
    origin: &str,
    data: &PreparedDataset,
    upstream: Option<&Path>,
    device: Device,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<Fitted, TrainError> {
    let arch = spec.architecture(data.meta.size)?;
    let (freeze, copied) = spec.units(&arch)?;
    let upstream = match (&spec.init, upstream) {
        (Some(init), Some(path)) => Some((init, Checkpoint::read(path)?, path)),
        (Some(init), None) => {
            return Err(TrainError::Invalid(format!(
                "init: no checkpoint of stage '{}' was given",
                init.from
            )));
        }
        (None, _) => None,
    };
    let copies_centre = copied.as_ref().is_some_and(|u| u.contains(&Unit::Centre));
    let settings = TrainSettings {
        params: spec.clone(),
        freeze,
        combine_init: spec
            .combine_init
            .resolve(&arch, copies_centre)
            .map_err(TrainError::Invalid)?,
        runtime: Runtime {
            device,
            max_group: None,
            eval_batch: EVAL_BATCH,
        },
    };
    let init = upstream.as_ref().map(|(_, checkpoint, path)| InitFrom {
        checkpoint,
        path,
        units: copied.clone().unwrap_or_default(),
    });
    let train_data = TrainData {
        train_images: &data.train_images,
        train_responses: &data.train_responses,
        val_images: &data.val_images,
        val_responses: &data.val_responses,
    };
    let mut trained = train(&settings, &train_data, init.as_ref(), on_epoch)?;

    let checkpoint = checkpoint(spec, &settings, &arch, data, &mut trained);
    let predict = |images: &ArrayF32| {
        predict_checkpoint(
            &checkpoint,
            Path::new(origin),
            images,
            device,
            trained.group_size,
            EVAL_BATCH,
        )
    };
    let (test, val) = (predict(&data.test_images)?, predict(&data.val_images)?);
    let info = PredictionInfo {
        model: spec.model.id().to_owned(),
        label: Some(spec.display_label()),
        stage: Some(origin.to_owned()),
        trainable_params: Some(trained.trainable_params as u64),
        fraction: None,
        incremental: spec.init.is_some(),
        init: spec.init.as_ref().map(|i| InitProvenance {
            from: i.from.clone(),
            blocks: i.blocks.clone(),
        }),
        frozen: settings
            .freeze
            .iter()
            .map(|u| u.name().to_owned())
            .collect(),
        epochs: Some(spec.epochs),
        selection: Some(spec.selection.id().to_owned()),
        best_epoch: trained.best_epoch.clone(),
        best_val_corr: trained.best_val_corr.clone(),
        epochs_trained: trained.epochs_trained.clone(),
        improving_at_end: improving_at_end(&per_epoch_corr(&trained.curves, spec.epochs)),
        recipe: Some(Recipe::of(
            spec,
            data.train_images.shape.first().copied().unwrap_or(0),
        )),
    };
    Ok(Fitted {
        checkpoint,
        curves: trained.curves,
        test,
        val,
        info,
        trainable_params: trained.trainable_params,
        best_epoch: trained.best_epoch,
        best_val_corr: trained.best_val_corr,
        images_neuron_per_s: trained.images_neuron_per_s,
        group_size: trained.group_size,
        train_seconds: trained.train_seconds,
    })
}

/// Validation CORR per epoch and neuron (`[epoch][neuron]`) from the learning curves.
fn per_epoch_corr(curves: &[CurveRow], epochs: usize) -> Vec<Vec<Option<f64>>> {
    let neurons = curves.iter().map(|r| r.neuron + 1).max().unwrap_or(0);
    let mut corr = vec![vec![None; neurons]; epochs];
    for r in curves {
        if let Some(slot) = corr.get_mut(r.epoch.wrapping_sub(1)) {
            slot[r.neuron] = r.val_corr;
        }
    }
    corr
}

/// The checkpoint of a trained population, its metadata saying how it was trained.
fn checkpoint(
    spec: &TrainParams,
    settings: &TrainSettings,
    arch: &crate::neuro::model::Architecture,
    data: &PreparedDataset,
    trained: &mut Trained,
) -> Checkpoint {
    let json = |v: serde_json::Value| v.to_string();
    let mut extra = BTreeMap::new();
    extra.insert("label".to_owned(), spec.display_label());
    extra.insert(
        "best_epoch".to_owned(),
        json(serde_json::json!(trained.best_epoch)),
    );
    extra.insert(
        "selection".to_owned(),
        settings.params.selection.id().to_owned(),
    );
    let frozen: Vec<&str> = settings.freeze.iter().map(|u| u.name()).collect();
    extra.insert("frozen".to_owned(), json(serde_json::json!(frozen)));
    extra.insert(
        "freeze_mode".to_owned(),
        settings.params.freeze_mode.id().to_owned(),
    );
    if arch.readout == ReadoutKind::SplitFcl {
        extra.insert(
            "combine_init".to_owned(),
            settings.combine_init.id().to_owned(),
        );
    }
    if settings.params.readout_bias != ReadoutBias::Default {
        extra.insert(
            "readout_bias".to_owned(),
            settings.params.readout_bias.id().to_owned(),
        );
    }
    if let Some(init) = &spec.init {
        extra.insert(
            "init".to_owned(),
            json(serde_json::json!({ "from": init.from, "blocks": init.blocks })),
        );
    }
    Checkpoint {
        meta: CheckpointMeta {
            model: spec.model.id().to_owned(),
            neurons: data.meta.neurons,
            input_size: data.meta.size,
            channels: arch.channels,
            sapipe_version: env!("CARGO_PKG_VERSION").to_owned(),
            extra,
        },
        tensors: std::mem::take(&mut trained.tensors),
    }
}
