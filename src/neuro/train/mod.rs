//! Population training (models.md §4): its parameters, typed (`params`), the one call
//! that fits it and predicts the held-out splits (`fit`), the per-epoch data order
//! (`batching`), per-neuron dropout streams (`dropout`), the output level refit (`level`), Adam (`optimiser`), the mask of missing responses (`mask`), per-neuron
//! best-epoch selection (`selection`), the training loop (`trainer`), the throughput benchmark
//! (`bench`), and the two files a train stage hands on: learning curves (`curves`) and
//! predictions with the model's description (`predictions`). The pure parts build without
//! libtorch.

pub mod batching;
pub mod curves;
pub mod dropout;
pub mod level;
pub mod memory;
pub mod params;
pub mod predictions;
pub mod selection;

#[cfg(feature = "torch")]
pub mod bench;
#[cfg(feature = "torch")]
mod chunking;
#[cfg(feature = "torch")]
pub mod fit;
#[cfg(feature = "torch")]
pub mod mask;
#[cfg(feature = "torch")]
pub mod optimiser;
#[cfg(feature = "torch")]
pub mod stepper;
#[cfg(feature = "torch")]
pub mod trainer;

#[cfg(all(test, feature = "torch"))]
mod acceptance_tests;
#[cfg(all(test, feature = "torch"))]
pub(crate) mod fixtures;
#[cfg(all(test, feature = "torch"))]
mod missing_tests;
#[cfg(all(test, feature = "torch"))]
mod python_tests;

pub use selection::Selection;

use crate::kind::DeviceClass;

/// How many neurons train together as one group (one graph and one Adam step per training
/// step; on CUDA one computation). Results do not depend on it on CPU (bit for bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// The faster of the two for the device class, as measured for this project (toolchain.md,
    /// `sapipe bench train`): the whole population, on CPU and on CUDA alike.
    #[default]
    Auto,
    /// All neurons in one computation (grouped convolutions, batched attention and readouts).
    Population,
    /// One neuron at a time (the same mathematics and random streams).
    PerNeuron,
}

impl Strategy {
    pub fn id(self) -> &'static str {
        match self {
            Strategy::Auto => "auto",
            Strategy::Population => "population",
            Strategy::PerNeuron => "per-neuron",
        }
    }

    /// Neurons per group for `neurons` neurons on a device of class `class` (before the memory
    /// budget's cap). `auto` is the population trainer on every device. On 2 CPU cores
    /// `sapipe bench train` (median of 3 alternating rounds, 8 or 16 neurons) measured it 1.02x
    /// (rf-sa-cnn-star) to 1.05x (ff-sa-cnn-star) the one-neuron loop once the worker kept its
    /// large allocations off `mmap` (before: 0.6-0.7x), and 1.02x (ff-sa-cnn) since each neuron
    /// runs alone inside the group; toolchain.md measured grouped training 8x faster on an H200.
    pub fn group_size_for(self, class: DeviceClass, neurons: usize) -> usize {
        let all = neurons.max(1);
        let _ = class;
        match self {
            Strategy::Population | Strategy::Auto => all,
            Strategy::PerNeuron => 1,
        }
    }

    #[cfg(feature = "torch")]
    pub fn group_size(self, device: tch::Device, neurons: usize) -> usize {
        self.group_size_for(device_class(device), neurons)
    }
}

impl crate::neuro::choice::Choice for Strategy {
    const ALL: &'static [Self] = &[Strategy::Auto, Strategy::Population, Strategy::PerNeuron];

    fn id(self) -> &'static str {
        Strategy::id(self)
    }
}

crate::neuro::choice::choice_serde!(Strategy);

/// The device class of a libtorch device.
#[cfg(feature = "torch")]
pub fn device_class(device: tch::Device) -> DeviceClass {
    if device.is_cuda() {
        DeviceClass::Cuda
    } else {
        DeviceClass::Cpu
    }
}

/// How the readout's output bias (the combiner's, for a split FCL) starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadoutBias {
    /// PyTorch's default initialisation (uniform in +-1/sqrt(fan_in)), as the reference code.
    #[default]
    Default,
    /// Each neuron's mean training response: the network starts predicting about the right
    /// level, so the first updates go into the response's variation across images instead of
    /// into its mean. Left alone where the bias is copied from upstream or the combiner
    /// starts as the copied centre term (those already predict the right level).
    Mean,
}

impl ReadoutBias {
    pub fn id(self) -> &'static str {
        match self {
            ReadoutBias::Default => "default",
            ReadoutBias::Mean => "mean",
        }
    }
}

impl crate::neuro::choice::Choice for ReadoutBias {
    const ALL: &'static [Self] = &[ReadoutBias::Default, ReadoutBias::Mean];

    fn id(self) -> &'static str {
        ReadoutBias::id(self)
    }
}

crate::neuro::choice::choice_serde!(ReadoutBias);

/// What happens to the readout's output bias once training ends (`level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BiasRefit {
    /// Kept as the selected epoch left it, as the reference code.
    #[default]
    None,
    /// Shifted so each neuron's mean prediction over the training images equals its mean
    /// training response.
    Train,
}

impl BiasRefit {
    pub fn id(self) -> &'static str {
        match self {
            BiasRefit::None => "none",
            BiasRefit::Train => "train",
        }
    }
}

impl crate::neuro::choice::Choice for BiasRefit {
    const ALL: &'static [Self] = &[BiasRefit::None, BiasRefit::Train];

    fn id(self) -> &'static str {
        BiasRefit::id(self)
    }
}

crate::neuro::choice::choice_serde!(BiasRefit);

/// How a split-FCL (FC1) model's 2 -> 1 combiner starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CombineInit {
    /// PyTorch's default initialisation of a `Linear(2, 1)`, as the reference code.
    #[default]
    Random,
    /// Weights (1, 0) and bias 0: the model starts as its centre term alone. With the centre
    /// copied from an upstream CTL (the incremental chain's FC1 step) it starts from the
    /// upstream model's predictions, as every other step of the chain does, and the surround
    /// term grows from zero, like the attention layer's residual scale.
    Centre,
}

impl CombineInit {
    pub fn id(self) -> &'static str {
        match self {
            CombineInit::Random => "random",
            CombineInit::Centre => "centre",
        }
    }
}

/// Why training failed; messages name the epoch, neuron, parameter or file.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Arch(#[from] crate::neuro::model::arch::ArchError),
    #[error(transparent)]
    Checkpoint(#[from] crate::neuro::model::checkpoint::CheckpointError),
    #[error("epoch {epoch}, neuron {neuron}: {what} (try a smaller learning rate)")]
    NonFinite {
        epoch: usize,
        neuron: usize,
        what: String,
    },
    #[error("device: {0}")]
    Device(String),
    #[error(transparent)]
    OverBudget(#[from] memory::OverBudget),
    #[error("{0}")]
    OutOfMemory(String),
}

/// The libtorch device of a device class; CUDA must really be available.
#[cfg(feature = "torch")]
pub fn torch_device(class: DeviceClass) -> Result<tch::Device, TrainError> {
    match class {
        DeviceClass::Cpu => Ok(tch::Device::Cpu),
        DeviceClass::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
        DeviceClass::Cuda => Err(TrainError::Device(
            "CUDA was requested but libtorch sees no CUDA device (is libtorch_cuda linked and a GPU present?)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::choice::Choice;

    #[test]
    fn auto_strategy_follows_the_measured_device_rule() {
        assert_eq!(Strategy::Auto.group_size_for(DeviceClass::Cpu, 30), 30);
        assert_eq!(Strategy::PerNeuron.group_size_for(DeviceClass::Cpu, 30), 1);
        assert_eq!(Strategy::Auto.group_size_for(DeviceClass::Cuda, 30), 30);
        assert_eq!(
            Strategy::Population.group_size_for(DeviceClass::Cpu, 30),
            30
        );
        assert_eq!(Strategy::PerNeuron.group_size_for(DeviceClass::Cuda, 30), 1);
        assert_eq!(Strategy::from_id("per-neuron"), Some(Strategy::PerNeuron));
        assert_eq!(Strategy::from_id("grouped"), None);
    }
}
