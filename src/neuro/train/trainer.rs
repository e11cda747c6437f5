//! The population trainer (models.md §4): every neuron has its own network; a group of neurons
//! trains as one computation with the per-neuron MSE losses summed (so no gradient couples two
//! neurons), Adam, batches of the same per-epoch order for every neuron, per-neuron dropout
//! streams, and per-neuron best-epoch selection on validation Pearson r. Missing responses
//! (NaN) are masked out of the loss and the validation scores (`mask`).
//!
//! How many neurons form one group is the [`Strategy`](super::Strategy) (all of them, or one at a time), capped by
//! what the memory budget holds (`max_group`, see `memory`); groups train one after another.
//! Each neuron's network, random streams, batch order and best epoch are its own, and on CPU
//! each neuron steps on its own variables, one per core with one intra-op thread (`stepper`), so
//! the results are bit-identical whatever the grouping. On CUDA a group is one computation
//! (grouped convolutions), whose kernels may sum in an order that depends on the group's size.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use tch::{Device, Kind, Tensor};

use super::batching::{batches, epoch_order};
use super::chunking::{group_size, out_of_memory_as_error};
use super::curves::CurveRow;
use super::dropout::StepDropout;
use super::level::level_shift;
use super::mask::{self, Observed};
use super::params::TrainParams;
use super::selection::{BestEpochs, column_scores};
use super::stepper::Stepper;
use super::{BiasRefit, CombineInit, ReadoutBias, TrainError};
use crate::neuro::array::ArrayF32;
use crate::neuro::model::checkpoint::{Checkpoint, concat_neurons};
use crate::neuro::model::network::{images_tensor, tensor_from, to_array};
use crate::neuro::model::{Architecture, Network, Unit};
use crate::neuro::stats::{mean_of, mean_var, widen};

/// Everything that decides how a population trains: the stage's parameters as written, what
/// depends on the architecture resolved against it, and where and in what pieces it runs.
#[derive(Debug, Clone)]
pub struct TrainSettings {
    pub params: TrainParams,
    /// `params.freeze`, resolved against the architecture.
    pub freeze: BTreeSet<Unit>,
    /// How a split-FCL readout's combiner starts (`params.combine_init` resolved; other
    /// readouts have none).
    pub combine_init: CombineInit,
    pub runtime: Runtime,
}

/// What is not a model parameter: the device, the chunking and the inference batch. Results do
/// not depend on the last two (bit for bit on CPU).
#[derive(Debug, Clone)]
pub struct Runtime {
    pub device: Device,
    /// The most neurons one group may hold (what the memory budget allows, see `memory`);
    /// `None`: as many as the strategy puts together.
    pub max_group: Option<usize>,
    /// Images per inference batch (validation each epoch).
    pub eval_batch: usize,
}

/// `init: {from, blocks}` resolved: the upstream checkpoint and the units to copy.
pub struct InitFrom<'a> {
    pub checkpoint: &'a Checkpoint,
    pub path: &'a Path,
    pub units: BTreeSet<Unit>,
}

/// The splits the trainer reads (images `[n, S, S]`, responses `[n, neurons]`).
pub struct TrainData<'a> {
    pub train_images: &'a ArrayF32,
    pub train_responses: &'a ArrayF32,
    pub val_images: &'a ArrayF32,
    pub val_responses: &'a ArrayF32,
}

/// Progress after one epoch of one group of neurons.
#[derive(Debug, Clone)]
pub struct EpochReport {
    pub group: usize,
    pub groups: usize,
    pub epoch: usize,
    pub epochs: usize,
    /// Dataset indices of the group's neurons.
    pub neurons: std::ops::Range<usize>,
    /// Mean over the group's neurons of the epoch's training MSE.
    pub train_loss: f64,
    /// Mean over the group's neurons of the validation Pearson r (undefined ones left out).
    pub val_corr: Option<f64>,
}

/// What training produced.
#[derive(Debug, Clone)]
pub struct Trained {
    /// Every variable, neuron-major over all neurons, at each neuron's selected epoch.
    pub tensors: std::collections::BTreeMap<String, ArrayF32>,
    pub best_epoch: Vec<usize>,
    pub best_val_corr: Vec<Option<f64>>,
    /// Epochs each neuron trained: `epochs`, or fewer where early stopping ended it.
    pub epochs_trained: Vec<usize>,
    /// Sorted by epoch, then neuron; a stopped neuron has no rows after its last epoch.
    pub curves: Vec<CurveRow>,
    pub trainable_params: usize,
    /// Neurons trained together in one group.
    pub group_size: usize,
    /// Wall time of the training steps (forward, backward, update), all groups.
    pub train_seconds: f64,
    /// Training images x neurons per second of training-step time.
    pub images_neuron_per_s: f64,
}

/// The data of all splits on the training device.
struct DeviceData {
    train_images: Tensor,
    /// 0 where unrecorded.
    train_responses: Tensor,
    /// `[n, neurons]`, 1 recorded, 0 not; `None` when every entry was recorded.
    train_mask: Option<Tensor>,
    val_images: Tensor,
    /// NaN where unrecorded (what the output level refit averages over).
    train_responses_host: ArrayF32,
    /// NaN where unrecorded.
    val_responses: ArrayF32,
    /// Per neuron, the start of the readout's output bias (`readout_bias: mean`).
    output_bias: Option<Vec<f32>>,
}

/// Each neuron's mean response over the recorded entries of `responses` `[n, neurons]`
/// (NaN where unrecorded; summed in f64, in image order: the same whichever other neurons are
/// trained with it).
fn mean_responses(responses: &ArrayF32) -> Vec<f32> {
    let neurons = responses.shape.get(1).copied().unwrap_or(0);
    (0..neurons)
        .map(|j| {
            let recorded: Vec<f32> = responses
                .column(j)
                .into_iter()
                .filter(|v| !v.is_nan())
                .collect();
            mean_var(&widen(&recorded)).0 as f32
        })
        .collect()
}

/// Trains every neuron of `data`, NaN responses being missing entries ([`mask`]); `on_epoch`
/// hears about each finished epoch of each group.
pub fn train(
    settings: &TrainSettings,
    data: &TrainData,
    init: Option<&InitFrom>,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<Trained, TrainError> {
    let observed = Observed::from_nan(data.train_responses, data.val_responses);
    train_observed(settings, data, &observed, init, on_epoch)
}

/// [`train`] with the recorded entries given by `observed`: what an unrecorded entry holds
/// influences nothing.
pub fn train_observed(
    settings: &TrainSettings,
    data: &TrainData,
    observed: &Observed,
    init: Option<&InitFrom>,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<Trained, TrainError> {
    let arch = check_data(settings, data)?;
    let (train_mask, val_mask) = (observed.train.as_deref(), observed.val.as_deref());
    mask::check(data.train_responses, train_mask, "training")?;
    mask::check(data.val_responses, val_mask, "validation")?;
    let mut train_responses = data.train_responses.clone();
    let mut val_responses = data.val_responses.clone();
    if let Some(m) = train_mask {
        let counts = mask::recorded_per_neuron(m, train_responses.shape[1]);
        if let Some(j) = counts.iter().position(|&c| c == 0) {
            return Err(TrainError::Invalid(format!(
                "neuron {j} has no recorded training response (every entry is missing)"
            )));
        }
        train_responses = mask::fill_unrecorded(&train_responses, m, 0.0);
    }
    if let Some(m) = val_mask {
        val_responses = mask::fill_unrecorded(&val_responses, m, f32::NAN);
    }
    let neurons = data.train_responses.shape[1];
    if let Some(init) = init
        && init.checkpoint.meta.neurons != neurons
    {
        return Err(TrainError::Invalid(format!(
            "init: upstream checkpoint {} has {} neurons, the data has {neurons}",
            init.path.display(),
            init.checkpoint.meta.neurons
        )));
    }
    let trainable_params = arch.trainable_params(&settings.freeze);
    if trainable_params == 0 {
        return Err(TrainError::Invalid(
            "freeze: every block is frozen, nothing would train".into(),
        ));
    }
    let device = settings.runtime.device;
    let train_recorded = match train_mask {
        Some(m) => mask::fill_unrecorded(&train_responses, m, f32::NAN),
        None => train_responses.clone(),
    };
    let dev = DeviceData {
        train_images: images_tensor(data.train_images, device),
        train_responses: tensor_from(&train_responses.shape, &train_responses.data, device),
        train_mask: train_mask.map(|m| mask::mask_tensor(m, &train_responses.shape, device)),
        val_images: images_tensor(data.val_images, device),
        val_responses,
        output_bias: (settings.params.readout_bias == ReadoutBias::Mean)
            .then(|| mean_responses(&train_recorded)),
        train_responses_host: train_recorded,
    };
    let data_bytes = [&dev.train_images, &dev.train_responses, &dev.val_images]
        .into_iter()
        .chain(&dev.train_mask)
        .map(|t| t.numel() as u64 * 4)
        .sum();
    let group_size = group_size(settings, arch, neurons, data_bytes)?;
    let groups: Vec<std::ops::Range<usize>> = (0..neurons)
        .step_by(group_size)
        .map(|s| s..(s + group_size).min(neurons))
        .collect();
    let mut parts = Vec::with_capacity(groups.len());
    let (mut best_epoch, mut best_val_corr, mut curves) = (Vec::new(), Vec::new(), Vec::new());
    let mut epochs_trained = Vec::new();
    let mut train_seconds = 0.0;
    for (g, range) in groups.iter().enumerate() {
        let ids: Vec<usize> = range.clone().collect();
        let mut report = |epoch: usize, train_loss: f64, val_corr: Option<f64>| {
            on_epoch(&EpochReport {
                group: g + 1,
                groups: groups.len(),
                epoch,
                epochs: settings.params.epochs,
                neurons: range.clone(),
                train_loss,
                val_corr,
            })
        };
        let result = out_of_memory_as_error(settings, arch, ids.len(), || {
            train_group(settings, arch, &dev, &ids, init, &mut report)
        })?;
        train_seconds += result.train_seconds;
        parts.push(result.tensors);
        best_epoch.extend(result.best.epoch);
        best_val_corr.extend(result.best.corr);
        epochs_trained.extend(result.epochs_trained);
        curves.extend(result.curves);
    }
    curves.sort_by_key(|r| (r.epoch, r.neuron));
    let work = (data.train_images.shape[0] * epochs_trained.iter().sum::<usize>()) as f64;
    Ok(Trained {
        tensors: concat_neurons(&parts),
        best_epoch,
        best_val_corr,
        epochs_trained,
        curves,
        trainable_params,
        group_size,
        train_seconds,
        images_neuron_per_s: if train_seconds > 0.0 {
            work / train_seconds
        } else {
            0.0
        },
    })
}

fn check_data(settings: &TrainSettings, data: &TrainData) -> Result<Architecture, TrainError> {
    let shape = &data.train_images.shape;
    if shape.len() != 3 || shape[1] != shape[2] {
        return Err(TrainError::Invalid(format!(
            "training images must be [n, S, S], found {shape:?}"
        )));
    }
    let mut arch = Architecture::new(settings.params.model, shape[1])?;
    if let Some(c) = settings.params.channels {
        arch = arch.with_channels(c)?;
    }
    let n = shape[0];
    if n == 0 || data.val_images.shape[0] < 2 {
        return Err(TrainError::Invalid(format!(
            "training needs at least one training image and two validation images (found {n} and {})",
            data.val_images.shape[0]
        )));
    }
    if data.train_responses.shape.len() != 2 || data.train_responses.shape[0] != n {
        return Err(TrainError::Invalid(format!(
            "training responses must be [{n}, neurons], found {:?}",
            data.train_responses.shape
        )));
    }
    let neurons = data.train_responses.shape[1];
    if data.val_responses.shape != [data.val_images.shape[0], neurons]
        || data.val_images.shape[1..] != shape[1..]
    {
        return Err(TrainError::Invalid(format!(
            "validation split does not match the training split: images {:?}, responses {:?}",
            data.val_images.shape, data.val_responses.shape
        )));
    }
    if neurons == 0 || settings.params.epochs == 0 || settings.params.batch_size == 0 {
        return Err(TrainError::Invalid(
            "training needs at least one neuron, one epoch and a batch size >= 1".into(),
        ));
    }
    Ok(arch)
}

struct GroupResult {
    tensors: std::collections::BTreeMap<String, ArrayF32>,
    best: BestEpochs,
    epochs_trained: Vec<usize>,
    curves: Vec<CurveRow>,
    train_seconds: f64,
}

/// A freshly initialised (and, with `init`, partly copied and frozen) group of networks;
/// `output_bias` (per neuron of the population, `readout_bias: mean`) starts the readout's
/// output bias unless it was copied or the combiner starts as the copied centre term.
pub fn prepare_network(
    settings: &TrainSettings,
    arch: Architecture,
    ids: &[usize],
    init: Option<&InitFrom>,
    output_bias: Option<&[f32]>,
) -> Result<Network, TrainError> {
    let mut net = Network::new(arch, ids, settings.params.seed, settings.runtime.device);
    if let Some(init) = init {
        net.copy_units(init.checkpoint, &init.units, init.path)?;
    }
    if settings.combine_init == CombineInit::Centre {
        net.start_from_centre_term().map_err(TrainError::Invalid)?;
    }
    let bias_copied = init.is_some_and(|i| i.units.contains(&Unit::Readout));
    if let Some(means) = output_bias
        && !bias_copied
        && settings.combine_init != CombineInit::Centre
    {
        let values: Vec<f32> = ids.iter().map(|&i| means[i]).collect();
        net.set_output_bias(&values);
    }
    net.freeze(&settings.freeze, settings.params.freeze_mode);
    Ok(net)
}

fn train_group(
    settings: &TrainSettings,
    arch: Architecture,
    dev: &DeviceData,
    ids: &[usize],
    init: Option<&InitFrom>,
    report: &mut dyn FnMut(usize, f64, Option<f64>),
) -> Result<GroupResult, TrainError> {
    let device = settings.runtime.device;
    let p = ids.len();
    let mut net = prepare_network(settings, arch, ids, init, dev.output_bias.as_deref())?;
    let mut stepper = Stepper::new(&net, settings.params.lr, device);
    let responses = dev
        .train_responses
        .narrow(1, ids[0] as i64, p as i64)
        .contiguous();
    // A group whose neurons were recorded everywhere trains unmasked, as without a mask.
    let recorded = dev
        .train_mask
        .as_ref()
        .map(|m| m.narrow(1, ids[0] as i64, p as i64).contiguous())
        .filter(|m| m.min().double_value(&[]) < 1.0);
    // Per neuron, how many training entries the epoch's training loss is averaged over.
    let recorded_count = recorded
        .as_ref()
        .map(|m| m.sum_dim_intlist(0, false, Kind::Float));
    let val_cols: Vec<usize> = ids.to_vec();
    let val_responses = select_columns(&dev.val_responses, &val_cols);
    let n = dev.train_images.size()[0] as usize;
    let mut best = BestEpochs::new(p, settings.params.selection);
    let mut snapshot = None;
    let mut curves = Vec::with_capacity(p * settings.params.epochs);
    let mut train_seconds = 0.0;
    // Neurons still training: each stops on its own (early stopping), as it would alone.
    let mut open = vec![true; p];
    let mut epochs_trained = vec![settings.params.epochs; p];
    for epoch in 1..=settings.params.epochs {
        if !open.contains(&true) {
            break;
        }
        let order = epoch_order(settings.params.seed, epoch, n);
        let mut loss_sum = Tensor::zeros([p as i64], (Kind::Float, device));
        let started = Instant::now();
        for (step, batch) in batches(&order, settings.params.batch_size).enumerate() {
            let index: Vec<i64> = batch.iter().map(|&i| i as i64).collect();
            let index = Tensor::from_slice(&index).to_device(device);
            let images = dev.train_images.index_select(0, &index);
            let targets = responses.index_select(0, &index);
            let batch_recorded = recorded.as_ref().map(|m| m.index_select(0, &index));
            let masks = StepDropout {
                seed: settings.params.seed,
                neuron_ids: ids,
                epoch,
                step,
                batch: batch.len(),
                device,
            };
            let losses = stepper.step(
                &net,
                &images,
                &targets,
                batch_recorded.as_ref(),
                &masks,
                &open,
            );
            loss_sum += match &batch_recorded {
                Some(m) => losses * m.sum_dim_intlist(0, false, Kind::Float),
                None => losses * batch.len() as f64,
            };
        }
        let mean_loss = match &recorded_count {
            Some(count) => loss_sum / count,
            None => loss_sum / n as f64,
        };
        let train_loss: Vec<f64> = to_array(&mean_loss)
            .data
            .iter()
            .map(|&x| f64::from(x))
            .collect();
        stepper.take_back(&mut net);
        train_seconds += started.elapsed().as_secs_f64();
        if let Some(j) = train_loss.iter().position(|l| !l.is_finite()) {
            return Err(TrainError::NonFinite {
                epoch,
                neuron: ids[j],
                what: format!("training loss is {}", train_loss[j]),
            });
        }
        let val_pred = to_array(&net.predict(&dev.val_images, settings.runtime.eval_batch));
        if let Some(k) = val_pred.data.iter().position(|x| !x.is_finite()) {
            return Err(TrainError::NonFinite {
                epoch,
                neuron: ids[k % p],
                what: format!("validation prediction is {}", val_pred.data[k]),
            });
        }
        let (val_corr, val_loss) = column_scores(&val_pred, &val_responses);
        let improved = best.record(epoch, &val_corr, &open);
        keep_improved(&net, &mut snapshot, &improved);
        let trained: Vec<usize> = (0..p).filter(|&j| open[j]).collect();
        for &j in &trained {
            curves.push(CurveRow {
                epoch,
                neuron: ids[j],
                train_loss: train_loss[j],
                val_loss: val_loss[j],
                val_corr: val_corr[j],
            });
        }
        tracing::debug!(epoch, neurons = ?ids, ?train_loss, ?val_corr, "epoch done");
        report(
            epoch,
            mean_var(&trained.iter().map(|&j| train_loss[j]).collect::<Vec<_>>()).0,
            mean_of(trained.iter().map(|&j| val_corr[j])),
        );
        for j in trained {
            if settings
                .params
                .patience
                .is_some_and(|patience| epoch >= best.epoch[j] + patience)
            {
                open[j] = false;
                epochs_trained[j] = epoch;
            }
        }
    }
    if let Some(best_vars) = &snapshot {
        net.restore(best_vars);
    }
    if settings.params.refit_bias == BiasRefit::Train {
        let predicted = to_array(&net.predict(&dev.train_images, settings.runtime.eval_batch));
        net.shift_output_bias(&level_shift(&predicted, &dev.train_responses_host, ids));
    }
    Ok(GroupResult {
        tensors: net.export(),
        best,
        epochs_trained,
        curves,
        train_seconds,
    })
}

/// Updates the best-epoch snapshot: neurons whose flag is set take the network's current
/// values (parameters and batch-norm statistics).
fn keep_improved(
    net: &Network,
    snapshot: &mut Option<crate::neuro::model::blocks::Vars>,
    improved: &[bool],
) {
    let all = improved.iter().all(|&b| b);
    match snapshot {
        Some(snap) if !all => {
            if !improved.iter().any(|&b| b) {
                return;
            }
            let flags: Vec<u8> = improved.iter().map(|&b| u8::from(b)).collect();
            let device = net
                .vars()
                .values()
                .next()
                .map_or(Device::Cpu, Tensor::device);
            let mask = Tensor::from_slice(&flags)
                .to_device(device)
                .to_kind(Kind::Bool);
            for (name, current) in net.vars() {
                let mut shape = vec![improved.len() as i64];
                shape.extend(std::iter::repeat_n(1, current.dim() - 1));
                let m = mask.view(shape.as_slice());
                let kept = current.detach().where_self(&m, &snap[name]);
                snap.insert(name.clone(), kept);
            }
        }
        _ => *snapshot = Some(net.snapshot()),
    }
}

fn select_columns(a: &ArrayF32, cols: &[usize]) -> ArrayF32 {
    let (n, p) = (a.shape[0], a.shape[1]);
    let mut data = Vec::with_capacity(n * cols.len());
    for i in 0..n {
        data.extend(cols.iter().map(|&j| a.data[i * p + j]));
    }
    ArrayF32::new(vec![n, cols.len()], data)
}

/// Inference predictions `[n, neurons]` of a checkpoint on `images` (`[n, S, S]`), running
/// `group_size` neurons at a time.
pub fn predict_checkpoint(
    checkpoint: &Checkpoint,
    path: &Path,
    images: &ArrayF32,
    device: Device,
    group_size: usize,
    batch: usize,
) -> Result<ArrayF32, TrainError> {
    let neurons = checkpoint.meta.neurons;
    let n = images.shape[0];
    let x = images_tensor(images, device);
    let mut out = ArrayF32::zeros(vec![n, neurons]);
    for start in (0..neurons).step_by(group_size.max(1)) {
        let ids: Vec<usize> = (start..(start + group_size.max(1)).min(neurons)).collect();
        let net = Network::from_checkpoint(checkpoint, &ids, device, path)?;
        let pred = to_array(&net.predict(&x, batch));
        for i in 0..n {
            for (j, &id) in ids.iter().enumerate() {
                out.data[i * neurons + id] = pred.data[i * ids.len() + j];
            }
        }
    }
    Ok(out)
}
