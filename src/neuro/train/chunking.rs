//! Chunks of neurons: how many neurons one group may hold (the strategy's choice, capped by what
//! the memory budget holds, from the model in `memory`), and an allocation failure turned into
//! an error instead of a crash. Groups train one after another; results do not depend on the
//! chunking (`trainer`).

use super::TrainError;
use super::memory::{self, Budget};
use super::trainer::TrainSettings;
use crate::kind::DeviceClass;
use crate::neuro::model::Architecture;
use crate::neuro::runtime::resident;

/// Neurons per group: the strategy's, capped by `max_group` and by what the memory budget
/// holds next to what the worker holds already (on CPU its resident memory, data included;
/// on CUDA the data on the device).
pub(super) fn group_size(
    settings: &TrainSettings,
    arch: Architecture,
    neurons: usize,
    data_bytes: u64,
) -> Result<usize, TrainError> {
    let device = settings.runtime.device;
    let strategy = settings
        .params
        .strategy
        .group_size(device, neurons)
        .min(settings.runtime.max_group.unwrap_or(usize::MAX))
        .max(1);
    let class = super::device_class(device);
    let held = match class {
        DeviceClass::Cuda => Some(data_bytes),
        DeviceClass::Cpu => resident::rss(),
    };
    let available = resident::free_on(class);
    let (held, available) = match (settings.params.memory, held, available) {
        (Budget::Auto, _, None) | (Budget::Bytes(_), None, _) => {
            tracing::warn!(
                "memory: cannot read this process's or the {class} device's memory; neurons are not chunked"
            );
            return Ok(strategy);
        }
        (_, held, available) => (held.unwrap_or(0), available.unwrap_or(0)),
    };
    let fits = memory::max_group(
        &arch,
        settings.params.batch_size,
        class,
        settings.params.memory,
        held,
        available,
    )?;
    let size = strategy.min(fits);
    tracing::info!(
        budget = %settings.params.memory.describe(),
        held = %memory::gib(held),
        per_neuron = %memory::gib(memory::step_memory(&arch, settings.params.batch_size).group(1, class)),
        neurons_per_group = size,
        "memory: {} groups of up to {size} neurons",
        neurons.div_ceil(size)
    );
    Ok(size)
}

/// Runs `f`, turning a failed allocation (libtorch's out-of-memory error, which tch raises as a
/// panic) into an error that says the group, the model's prediction and the parameter to
/// change. Other panics go on unwinding.
pub(super) fn out_of_memory_as_error<T>(
    settings: &TrainSettings,
    arch: Architecture,
    group: usize,
    f: impl FnOnce() -> Result<T, TrainError>,
) -> Result<T, TrainError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !text.to_ascii_lowercase().contains("out of memory") {
                std::panic::resume_unwind(panic);
            }
            let class = super::device_class(settings.runtime.device);
            let need = memory::step_memory(&arch, settings.params.batch_size).group(group, class);
            Err(TrainError::OutOfMemory(format!(
                "memory: the {class} device ran out of memory training a group of {group} neurons \
                 (predicted need {}, budget {}); set the train stage's parameter `memory` to a \
                 smaller size than the device really has free, or lower `batch_size` ({})",
                memory::gib(need),
                settings.params.memory.describe(),
                text.lines().next().unwrap_or_default()
            )))
        }
    }
}
