//! The population network: P neurons' complete, independent networks of one architecture,
//! evaluated as one computation. Its variables are created from `Architecture::variables`
//! under their stable names, neuron-major, with per-neuron initial values (`init.rs`); `freeze`
//! removes units from training; `copy_units` implements `init: {from, blocks}`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tch::{Device, Kind, Tensor};

use super::arch::{Architecture, ReadoutKind, VarSpec};
use super::blocks::{DropoutMasks, NeuronMasks, Vars};
use super::forward::{Layers, NeuronNet, Plan, predict_batches};
use super::init::initial_values;
use super::units::{FreezeMode, Unit};
use crate::neuro::array::ArrayF32;
use crate::neuro::model::checkpoint::{Checkpoint, CheckpointError};
use crate::neuro::runtime::threads::each_neuron;

/// Indices of the dropout layers (the streams their masks are drawn from).
pub const DROPOUT_ALPHA1: usize = 0;
pub const DROPOUT_ALPHA2: usize = 1;
pub const DROPOUT_SA: usize = 2;
pub const DROPOUT_BETA: usize = 3;

/// How a forward pass runs.
#[derive(Clone, Copy)]
pub enum Pass<'a> {
    /// Inference: running statistics, no dropout.
    Eval,
    /// Training, with the step's dropout masks. Units frozen in strict mode still run as in
    /// inference.
    Train(&'a dyn DropoutMasks),
}

/// What a forward pass computes.
pub struct Output {
    /// `[B, P]` (a transposed view of the neuron-outer `[P, B]` the readout computes).
    pub prediction: Tensor,
    /// The readout's input, per neuron: `[B, P, C, H, W]` (the hypercolumns).
    pub features: Tensor,
    /// The attention maps `[B, P, N, N]` of models with an SA block.
    pub attention: Option<Tensor>,
}

/// P neurons' networks.
pub struct Network {
    arch: Architecture,
    neuron_ids: Vec<usize>,
    specs: Vec<VarSpec>,
    vars: Vars,
    frozen: BTreeSet<Unit>,
    freeze_mode: FreezeMode,
    /// The blocks over the whole population's variables (the CUDA path).
    layers: Layers,
}

impl Output {
    /// The outputs of consecutive groups of neurons as one population's.
    fn concat(parts: &[Output]) -> Output {
        let cat = |f: &dyn Fn(&Output) -> &Tensor| {
            Tensor::cat(&parts.iter().map(f).collect::<Vec<_>>(), 1)
        };
        Output {
            prediction: cat(&|o| &o.prediction),
            features: cat(&|o| &o.features),
            attention: parts
                .iter()
                .map(|o| o.attention.as_ref())
                .collect::<Option<Vec<_>>>()
                .map(|a| Tensor::cat(&a, 1)),
        }
    }
}

/// A `[shape]` tensor on `device` holding `data`.
pub fn tensor_from(shape: &[usize], data: &[f32], device: Device) -> Tensor {
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(data)
        .view(dims.as_slice())
        .to_device(device)
}

/// A tensor's values as an array (copied to the host).
pub fn to_array(t: &Tensor) -> ArrayF32 {
    let t = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous();
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let n = t.numel();
    let mut data = vec![0f32; n];
    t.copy_data(&mut data, n);
    ArrayF32::new(shape, data)
}

impl Network {
    /// Fresh networks for the neurons with dataset indices `neuron_ids`, initialised from `seed`.
    pub fn new(arch: Architecture, neuron_ids: &[usize], seed: u64, device: Device) -> Self {
        let specs = arch.variables();
        let mut vars = Vars::new();
        for spec in &specs {
            let mut data = Vec::with_capacity(neuron_ids.len() * spec.numel());
            for &id in neuron_ids {
                data.extend(initial_values(spec, seed, id));
            }
            let mut shape = vec![neuron_ids.len()];
            shape.extend(&spec.shape);
            let t = tensor_from(&shape, &data, device);
            let t = if spec.role.trainable() {
                t.set_requires_grad(true)
            } else {
                t
            };
            vars.insert(spec.name.clone(), t);
        }
        Self::assemble(arch, neuron_ids.to_vec(), specs, vars)
    }

    /// The networks of the neurons at `indices` of a checkpoint (checked against its
    /// architecture first); `path` names the checkpoint in errors.
    pub fn from_checkpoint(
        checkpoint: &Checkpoint,
        indices: &[usize],
        device: Device,
        path: &Path,
    ) -> Result<Self, CheckpointError> {
        let arch = checkpoint.architecture(path)?;
        checkpoint.check(&arch, path)?;
        let specs = arch.variables();
        let mut vars = Vars::new();
        for spec in &specs {
            let a = checkpoint.tensor(&spec.name, path)?.select_rows(indices);
            let t = tensor_from(&a.shape, &a.data, device);
            let t = if spec.role.trainable() {
                t.set_requires_grad(true)
            } else {
                t
            };
            vars.insert(spec.name.clone(), t);
        }
        Ok(Self::assemble(arch, indices.to_vec(), specs, vars))
    }

    fn assemble(
        arch: Architecture,
        neuron_ids: Vec<usize>,
        specs: Vec<VarSpec>,
        vars: Vars,
    ) -> Self {
        Network {
            layers: Layers::new(&arch, &vars),
            arch,
            neuron_ids,
            specs,
            vars,
            frozen: BTreeSet::new(),
            freeze_mode: FreezeMode::Strict,
        }
    }

    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    /// Dataset indices of the neurons, in population order.
    pub fn neuron_ids(&self) -> &[usize] {
        &self.neuron_ids
    }

    pub fn neurons(&self) -> usize {
        self.neuron_ids.len()
    }

    /// Stops gradient updates of `units`; `mode` says whether they also run in inference mode
    /// while the rest trains.
    pub fn freeze(&mut self, units: &BTreeSet<Unit>, mode: FreezeMode) {
        for spec in &self.specs {
            if spec.role.trainable() && units.iter().any(|u| u.owns(&spec.name)) {
                let _ = self.vars[&spec.name].set_requires_grad(false);
            }
        }
        self.frozen = units.clone();
        self.freeze_mode = mode;
    }

    /// The variables that train, by name.
    pub fn trainable(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(k, t)| (k.clone(), t.shallow_clone()))
            .collect()
    }

    /// Trainable parameters per neuron.
    pub fn trainable_params_per_neuron(&self) -> usize {
        let total: usize = self.trainable().iter().map(|(_, t)| t.numel()).sum();
        total / self.neurons().max(1)
    }

    /// All variables (parameters and batch-norm buffers), by name.
    pub fn vars(&self) -> &Vars {
        &self.vars
    }

    /// Runs the networks on `images` (`[B, 1, S, S]`, shared by all neurons). On CUDA the
    /// population is one computation (grouped convolutions, batched attention and readouts).
    /// On CPU each neuron runs on its own slices of the variables: exactly the computation it
    /// has alone, so no result depends on which neurons share a group (chunk invariance; the
    /// batched kernels' summation order depends on the population's size). One graph still
    /// spans the group. Training on CPU does not come here: each neuron steps apart, one per
    /// core ([`Network::neurons_apart`]).
    pub fn forward(&self, images: &Tensor, pass: Pass) -> Output {
        let plan = self.plan();
        if images.device().is_cuda() {
            return plan.forward(&self.layers, images, pass);
        }
        let drawn = std::cell::RefCell::new(BTreeMap::new());
        let outputs: Vec<Output> = self
            .neuron_slices()
            .iter()
            .enumerate()
            .map(|(i, vars)| {
                let layers = Layers::new(&self.arch, vars);
                match pass {
                    Pass::Eval => plan.forward(&layers, images, Pass::Eval),
                    Pass::Train(masks) => {
                        let own = NeuronMasks::new(masks, &drawn, i);
                        plan.forward(&layers, images, Pass::Train(&own))
                    }
                }
            })
            .collect();
        Output::concat(&outputs)
    }

    /// Every neuron's variables as views `[1, ...]` into the population's (one `unbind` per
    /// variable, so gradients flow back in one node; batch-norm statistics update in place).
    fn neuron_slices(&self) -> Vec<Vars> {
        let mut slices: Vec<Vars> = (0..self.neurons()).map(|_| Vars::new()).collect();
        for (name, t) in &self.vars {
            for (slice, piece) in slices.iter_mut().zip(t.unbind(0)) {
                slice.insert(name.clone(), piece.unsqueeze(0));
            }
        }
        slices
    }

    /// What a forward pass needs besides the variables.
    fn plan(&self) -> Plan {
        Plan {
            arch: self.arch,
            frozen: self.frozen.clone(),
            freeze_mode: self.freeze_mode,
        }
    }

    /// Every neuron's network on its own copies of its variables `[1, ...]` (the trainable
    /// ones leaves with gradients of their own), to train apart from the others, one per
    /// core; [`Network::take_back`] returns their values.
    pub fn neurons_apart(&self) -> Vec<NeuronNet> {
        let _guard = tch::no_grad_guard();
        self.neuron_slices()
            .into_iter()
            .map(|slice| {
                let vars: Vars = slice
                    .into_iter()
                    .map(|(name, t)| {
                        let own = t.detach().copy();
                        let own = if self.vars[&name].requires_grad() {
                            own.set_requires_grad(true)
                        } else {
                            own
                        };
                        (name, own)
                    })
                    .collect();
                NeuronNet {
                    layers: Layers::new(&self.arch, &vars),
                    vars,
                    plan: self.plan(),
                }
            })
            .collect()
    }

    /// Copies the variables of networks from [`Network::neurons_apart`] (in population order)
    /// back into the population's.
    pub fn take_back(&mut self, neurons: &[&NeuronNet]) {
        let _guard = tch::no_grad_guard();
        for (name, t) in &self.vars {
            let parts: Vec<&Tensor> = neurons.iter().map(|n| &n.vars[name]).collect();
            t.shallow_clone().copy_(&Tensor::cat(&parts, 0));
        }
    }

    /// Inference predictions `[n, P]` for `images` (`[n, 1, S, S]`), in batches of `batch`;
    /// on CPU the neurons side by side, one per core.
    pub fn predict(&self, images: &Tensor, batch: usize) -> Tensor {
        let _guard = tch::no_grad_guard();
        if images.device().is_cuda() {
            return predict_batches(images, batch, self.neurons(), &|x| {
                self.forward(x, Pass::Eval).prediction
            });
        }
        let neurons: Vec<(NeuronNet, Tensor)> = self
            .neuron_slices()
            .into_iter()
            .map(|vars| {
                let net = NeuronNet {
                    layers: Layers::new(&self.arch, &vars),
                    vars,
                    plan: self.plan(),
                };
                (net, images.shallow_clone())
            })
            .collect();
        let columns = each_neuron(neurons, |(net, images)| {
            let _guard = tch::no_grad_guard();
            predict_batches(&images, batch, 1, &|x| {
                net.forward(x, Pass::Eval).prediction
            })
        });
        if columns.is_empty() {
            return Tensor::zeros([images.size()[0], 0], (images.kind(), images.device()));
        }
        Tensor::cat(&columns, 1)
    }

    /// The readout's weights as one FCL, `[P, C*H*W]` (plain or split FCL; see `Readout`).
    pub fn fcl_weights(&self) -> Option<Tensor> {
        self.layers.readout.fcl_weights()
    }

    /// Copies `units` (all their parameters and batch-norm buffers) of this population's
    /// neurons from an upstream checkpoint with the same neurons. For a split-FCL model, the
    /// `centre` unit comes from an upstream CTL readout (`readout.*` -> `readout.centre.*`).
    /// Returns the names of the variables copied.
    pub fn copy_units(
        &mut self,
        upstream: &Checkpoint,
        units: &BTreeSet<Unit>,
        path: &Path,
    ) -> Result<Vec<String>, CheckpointError> {
        let up_arch = upstream.architecture(path)?;
        upstream.check(&up_arch, path)?;
        if up_arch.channels != self.arch.channels {
            return Err(CheckpointError::Format {
                path: path.to_owned(),
                message: format!(
                    "init: upstream model {} has {} channels, model {} here has {}; train both with the same `channels`",
                    up_arch.model, up_arch.channels, self.arch.model, self.arch.channels
                ),
            });
        }
        if let Some(&bad) = self
            .neuron_ids
            .iter()
            .find(|&&id| id >= upstream.meta.neurons)
        {
            return Err(CheckpointError::Format {
                path: path.to_owned(),
                message: format!(
                    "it has {} neurons; neuron {bad} is needed",
                    upstream.meta.neurons
                ),
            });
        }
        let mut copied = Vec::new();
        let _guard = tch::no_grad_guard();
        for spec in &self.specs {
            // The most specific selected unit that owns the variable decides where it comes from.
            let Some(unit) = units.iter().rev().find(|u| u.owns(&spec.name)) else {
                continue;
            };
            let source = if *unit == Unit::Centre && up_arch.readout == ReadoutKind::Ctl {
                spec.name.replacen("readout.centre.", "readout.", 1)
            } else {
                spec.name.clone()
            };
            let from = upstream
                .tensors
                .get(&source)
                .ok_or_else(|| CheckpointError::Tensor {
                    path: path.to_owned(),
                    tensor: source.clone(),
                    message: format!(
                        "init block '{}' needs it, but upstream model {} has no such variable",
                        unit.name(),
                        up_arch.model
                    ),
                })?;
            let mut expected = vec![upstream.meta.neurons];
            expected.extend(&spec.shape);
            if from.shape != expected {
                return Err(CheckpointError::Tensor {
                    path: path.to_owned(),
                    tensor: source,
                    message: format!(
                        "init block '{}': shape {:?} does not fit {} of model {} (expected {expected:?})",
                        unit.name(),
                        from.shape,
                        spec.name,
                        self.arch.model
                    ),
                });
            }
            let rows = from.select_rows(&self.neuron_ids);
            let device = self.vars[&spec.name].device();
            let mut target = self.vars[&spec.name].shallow_clone();
            target.copy_(&tensor_from(&rows.shape, &rows.data, device));
            copied.push(spec.name.clone());
        }
        Ok(copied)
    }

    /// Sets a split-FCL readout's combiner to weights (1, 0) and bias 0, so that the
    /// prediction is the centre term alone. An error for other readouts.
    pub fn start_from_centre_term(&mut self) -> Result<(), String> {
        if self.arch.readout != ReadoutKind::SplitFcl {
            return Err(format!(
                "combine_init: model {} has no split readout; only ff-sa-cnn-star-fc1 has a combiner",
                self.arch.model
            ));
        }
        let _guard = tch::no_grad_guard();
        let mut weight = self.vars["readout.combine.weight"].shallow_clone();
        let _ = weight.fill_(0.0);
        let _ = weight.narrow(2, 0, 1).fill_(1.0);
        let _ = self.vars["readout.combine.bias"].shallow_clone().fill_(0.0);
        Ok(())
    }

    /// Sets the readout's output bias (the combiner's, for a split FCL) to one value per
    /// neuron of this group.
    pub fn set_output_bias(&mut self, values: &[f32]) {
        let _guard = tch::no_grad_guard();
        let mut bias = self.output_bias();
        let shape = bias.size();
        let values = tensor_from(&[values.len()], values, bias.device()).to_kind(bias.kind());
        bias.copy_(&values.view(shape.as_slice()));
    }

    /// Adds one value per neuron of this group to the readout's output bias.
    pub fn shift_output_bias(&mut self, by: &[f32]) {
        let _guard = tch::no_grad_guard();
        let mut bias = self.output_bias();
        let shape = bias.size();
        let by = tensor_from(&[by.len()], by, bias.device()).to_kind(bias.kind());
        let _ = bias.g_add_(&by.view(shape.as_slice()));
    }

    /// The readout's output bias (the combiner's, for a split FCL), `[P, 1]`.
    fn output_bias(&self) -> Tensor {
        let name = match self.arch.readout {
            ReadoutKind::SplitFcl => "readout.combine.bias",
            ReadoutKind::Fcl | ReadoutKind::Ctl => "readout.bias",
        };
        self.vars[name].shallow_clone()
    }

    /// Detached copies of every variable (on the network's device).
    pub fn snapshot(&self) -> Vars {
        self.vars
            .iter()
            .map(|(k, t)| (k.clone(), t.detach().copy()))
            .collect()
    }

    /// Overwrites every variable with the snapshot's values (same names and shapes).
    pub fn restore(&mut self, snapshot: &Vars) {
        let _guard = tch::no_grad_guard();
        for (name, t) in &self.vars {
            let mut target = t.shallow_clone();
            target.copy_(&snapshot[name]);
        }
    }

    /// All variables as host arrays `[P, ...]`, by name.
    pub fn export(&self) -> BTreeMap<String, ArrayF32> {
        self.vars
            .iter()
            .map(|(k, t)| (k.clone(), to_array(t)))
            .collect()
    }
}

/// Images `[n, S, S]` as a `[n, 1, S, S]` tensor on `device`.
pub fn images_tensor(images: &ArrayF32, device: Device) -> Tensor {
    let mut shape = vec![images.shape[0], 1];
    shape.extend(&images.shape[1..]);
    tensor_from(&shape, &images.data, device)
}
