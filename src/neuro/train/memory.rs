//! Training memory: the `memory:` budget as written (`auto`, `8GiB`, ...), the model of what one
//! training step needs per neuron, and the largest group of neurons a budget holds.
//!
//! The model counts, for one neuron's network in a training step (forward, backward, Adam):
//! the activations the forward pass keeps for the backward one (each layer's, from the
//! architecture's shapes), the largest set of gradients alive at once in the backward pass (at
//! the first alpha block, the largest maps), and the variables with their gradients and Adam's
//! two moments. On CPU the neurons step side by side, one per core (`runtime::threads`), each
//! with its own graph and its own copy of its variables, so a group of P needs min(P, cores) x
//! (activations + backward gradients) + P x variables. On CUDA the group is one computation,
//! whose activations and backward gradients are the whole group's. Once per step come the
//! kernels' workspace, per neuron stepping at once. `tests/it/memory.rs` checks the model
//! against measured peaks (on CPU, 24 neurons of four models, the median peak came out within
//! 0.97-1.16x the model). Pure arithmetic: no libtorch here.

use crate::kind::DeviceClass;
use crate::neuro::model::Architecture;
use crate::neuro::model::arch::ATTENTION_DIM;

const F32: u64 = 4;
/// Max-pool indices are int64.
const INDEX: u64 = 8;
/// The kernels' scratch memory and caches of one neuron stepping (oneDNN's primitives and
/// scratchpads, one set per thread on CPU): a fixed part and a part per image of the batch.
/// Fitted to the peaks of `tests/it/memory.rs` above the counted bytes (about 45 MiB per thread
/// at batch 50, about 30 MiB at batch 20).
pub const WORKSPACE: u64 = 16 << 20;
pub const WORKSPACE_PER_IMAGE: u64 = (32 << 20) / 50;
/// Groups are sized so that the model's need times this fits the budget: the measured peak of
/// the same step varied between 0.98x and 1.25x the model from run to run (the allocator's
/// fragmentation depends on the threads' timing).
pub const MARGIN: f64 = 1.25;
/// Share of the available memory `auto` uses: leaves room for the rest of the machine and for
/// the allocator's fragmentation.
pub const AUTO_SHARE: f64 = 0.7;

/// `memory:` as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// A safe share ([`AUTO_SHARE`]) of the memory available when training starts: free RAM
    /// on CPU, free memory of the GPU on CUDA.
    Auto,
    Bytes(u64),
}

/// Written as pipelines write it: `auto`, or the size in bytes (`8589934592B`).
impl serde::Serialize for Budget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Budget::Auto => s.serialize_str("auto"),
            Budget::Bytes(n) => s.serialize_str(&format!("{n}B")),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Budget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        Budget::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Budget {
    pub const VALID: &'static str = "auto, or a size such as 8GiB, 512MiB, 16GB, 2G (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB; K, M, G, T are binary)";

    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t == "auto" {
            return Ok(Budget::Auto);
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = (&t[..split], t[split..].trim());
        let value: f64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a memory size (valid: {})", Self::VALID))?;
        let scale: f64 = match unit {
            "" | "B" => 1.0,
            "K" | "KiB" => 1024.0,
            "M" | "MiB" => 1024f64.powi(2),
            "G" | "GiB" => 1024f64.powi(3),
            "T" | "TiB" => 1024f64.powi(4),
            "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            _ => {
                return Err(format!(
                    "'{text}': unknown unit '{unit}' (valid: {})",
                    Self::VALID
                ));
            }
        };
        let bytes = value * scale;
        if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
            return Err(format!("'{text}' is not a usable memory size"));
        }
        Ok(Budget::Bytes(bytes as u64))
    }

    /// The budget in bytes, `available` being what the device has free now.
    pub fn bytes(self, available: u64) -> u64 {
        match self {
            Budget::Auto => (available as f64 * AUTO_SHARE) as u64,
            Budget::Bytes(b) => b,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Budget::Auto => "auto".into(),
            Budget::Bytes(b) => gib(b),
        }
    }
}

/// `bytes` in GiB with two decimals, for messages.
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / 1024f64.powi(3))
}

/// What one training step of one neuron needs, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StepMemory {
    /// Activations the forward pass keeps for the backward one.
    pub activations: u64,
    /// Gradients alive at once in the backward pass.
    pub backward: u64,
    /// Trainable and buffer variables, their gradients and Adam's two moments.
    pub variables: u64,
    /// What the first training step allocates once per neuron stepping at once (the kernels'
    /// scratch and caches): [`WORKSPACE`] and [`WORKSPACE_PER_IMAGE`].
    pub workspace: u64,
    /// Neurons that step at once on CPU: the cores (`runtime::threads::workers`).
    pub cores: usize,
}

impl StepMemory {
    /// The need of a group of `neurons` on `device` (see the module's doc).
    pub fn group(&self, neurons: usize, device: DeviceClass) -> u64 {
        let p = neurons as u64;
        let at_once = match device {
            DeviceClass::Cpu => neurons.min(self.cores) as u64,
            DeviceClass::Cuda => p,
        };
        // Each neuron stepping at once has its kernels' scratch (oneDNN's is per thread).
        at_once * (self.activations + self.backward + self.workspace) + p * self.variables
    }

    /// The most neurons whose group, with the [`MARGIN`] for the allocator, fits in `budget`
    /// bytes; `None` if not even one does.
    pub fn max_group(&self, budget: u64, device: DeviceClass) -> Option<usize> {
        // The need grows linearly: start at the estimate, then step to the exact answer.
        let per = self.group(2, device) - self.group(1, device);
        let fits = |p: usize| (self.group(p, device) as f64 * MARGIN) as u64 <= budget;
        let estimate = (budget as f64 / MARGIN) as u64 / per.max(1);
        let mut p = usize::try_from(estimate).unwrap_or(usize::MAX / 2);
        while p > 0 && !fits(p) {
            p -= 1;
        }
        while fits(p + 1) {
            p += 1;
        }
        (p >= 1).then_some(p)
    }
}

/// The model of one training step's memory for one neuron of `arch` at `batch` images.
pub fn step_memory(arch: &Architecture, batch: usize) -> StepMemory {
    let (b, c) = (batch as u64, arch.channels as u64);
    let sq = |x: usize| (x * x) as u64;
    let s1 = arch.input_size - 4;
    let p1 = s1 / 2;
    let s2 = p1 - 4;
    let g = s2 / 2;
    let g1 = g + 1 - arch.beta_kernel;
    let f = arch.feature_grid();
    // The first alpha block keeps the one-hot choice of its four pooling phases (the size of
    // its convolution's output, see model::pooling), the pooled map (batch-norm input), the
    // sigmoid's output and the dropout's output; the second one its convolution's output
    // (max-pool input), the pool's int64 indices and the same three maps.
    let pooled = |p: usize| b * c * sq(p) * 3 * F32;
    let mut activations =
        b * c * sq(s1) * F32 + pooled(p1) + b * c * (sq(s2) * F32 + sq(g) * INDEX) + pooled(g);
    if let Some(att) = arch.attention {
        let (d, n) = (ATTENTION_DIM as u64, sq(g));
        // q, k (and v, Wv's output o): d x N each; the attention map N x N; the attended map,
        // the residual sum, the sigmoid's and the dropout's outputs: C x N each.
        let projections = if att.value_mapping { 4 } else { 2 };
        activations += b * (projections * d * n + n * n + 4 * c * n) * F32;
    }
    // beta1: convolution, sigmoid and dropout outputs; beta2: convolution and sigmoid outputs;
    // the readout's neuron-outer copy of the features.
    activations += b * c * (3 * sq(g1) + 3 * sq(f)) * F32;
    // The backward pass at the first alpha block: the gradients of its dropout, sigmoid and
    // batch-norm inputs (pooled size) and of the max-pool input plus its reordered copy for the
    // convolution's weight gradient (convolution size).
    let backward = b * c * (2 * sq(s1) + 3 * sq(p1)) * F32;
    let numel: usize = arch.variables().iter().map(|v| v.numel()).sum();
    StepMemory {
        activations,
        backward,
        // The population's values, the neuron's own copy (on CPU), its gradients and Adam's
        // two moments.
        variables: 5 * numel as u64 * F32,
        workspace: WORKSPACE + b * WORKSPACE_PER_IMAGE,
        cores: crate::neuro::runtime::threads::workers(),
    }
}

/// Why a budget cannot train.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "memory: one neuron of {model} at batch size {batch} needs {} for a training step \
     (with the allocator's margin; on top of the {} the worker holds), the budget is {budget}; raise the train stage's \
     parameter `memory` or lower `batch_size`",
    gib(*.need), gib(*.held)
)]
pub struct OverBudget {
    pub model: String,
    pub batch: usize,
    pub need: u64,
    pub held: u64,
    /// The budget as the message states it (`2.00 GiB`, `auto: 70% of the 1.10 GiB free`).
    pub budget: String,
}

/// The most neurons per group that `budget` holds, `held` bytes being in use already (the
/// worker's libtorch and the data), `available` the bytes free on the device now.
pub fn max_group(
    arch: &Architecture,
    batch: usize,
    device: DeviceClass,
    budget: Budget,
    held: u64,
    available: u64,
) -> Result<usize, OverBudget> {
    let need = step_memory(arch, batch);
    let (room, text) = match budget {
        Budget::Auto => (
            budget.bytes(available),
            format!(
                "auto: {:.0}% of the {} free",
                AUTO_SHARE * 100.0,
                gib(available)
            ),
        ),
        Budget::Bytes(b) => (b.saturating_sub(held), gib(b)),
    };
    need.max_group(room, device).ok_or(OverBudget {
        model: arch.model.id().to_owned(),
        batch,
        need: (need.group(1, device) as f64 * MARGIN) as u64,
        held,
        budget: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::model::ModelId;
    use crate::neuro::model::arch::REFERENCE_INPUT_SIZE;

    #[test]
    fn budgets_parse_with_binary_and_decimal_units_and_errors_name_the_valid_forms() {
        let gi = 1024u64.pow(3);
        assert_eq!(Budget::parse("auto"), Ok(Budget::Auto));
        assert_eq!(Budget::parse("8GiB"), Ok(Budget::Bytes(8 * gi)));
        assert_eq!(Budget::parse("8G"), Ok(Budget::Bytes(8 * gi)));
        assert_eq!(Budget::parse("1.5 GiB"), Ok(Budget::Bytes(3 * gi / 2)));
        assert_eq!(Budget::parse("16GB"), Ok(Budget::Bytes(16_000_000_000)));
        assert_eq!(Budget::parse("512MiB"), Ok(Budget::Bytes(512 << 20)));
        assert_eq!(Budget::parse("1000"), Ok(Budget::Bytes(1000)));
        for bad in ["", "lots", "8 parsecs", "0", "-1G", "GiB"] {
            let e = Budget::parse(bad).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
        assert!(Budget::parse("8XB").unwrap_err().contains("valid: auto"));
        assert_eq!(Budget::Auto.bytes(10_000), 7_000);
    }

    #[test]
    fn the_model_grows_with_batch_channels_and_attention_and_the_groups_fill_the_budget() {
        let arch = |m| Architecture::new(m, REFERENCE_INPUT_SIZE).unwrap();
        let ff = step_memory(&arch(ModelId::FfCnn), 50);
        let ff_sa = step_memory(&arch(ModelId::FfSaCnn), 50);
        assert_eq!(
            step_memory(&arch(ModelId::FfCnn), 25).activations * 2,
            ff.activations
        );
        let wide = step_memory(&arch(ModelId::FfCnn).with_channels(64).unwrap(), 50);
        assert!(wide.activations > 19 * ff.activations / 10);
        // Attention adds its maps; ff+sa-CNN has 30 channels to ff-CNN's 32.
        let ff30 = step_memory(&arch(ModelId::FfCnn).with_channels(30).unwrap(), 50);
        assert!(ff_sa.activations > ff30.activations);
        // A group fills the budget and one more neuron would not fit.
        let budget = 8 * 1024u64.pow(3);
        for device in [DeviceClass::Cpu, DeviceClass::Cuda] {
            let p = ff.max_group(budget, device).unwrap();
            let with_margin = |p| (ff.group(p, device) as f64 * MARGIN) as u64;
            assert!(with_margin(p) <= budget && with_margin(p + 1) > budget);
        }
        assert_eq!(
            ff.max_group(ff.group(1, DeviceClass::Cpu), DeviceClass::Cpu),
            None
        );
    }

    #[test]
    fn a_budget_below_one_neuron_is_an_error_naming_need_budget_and_parameter() {
        let arch = Architecture::new(ModelId::FfSaCnn, REFERENCE_INPUT_SIZE).unwrap();
        let e = max_group(
            &arch,
            50,
            DeviceClass::Cpu,
            Budget::Bytes(600 << 20),
            500 << 20,
            1 << 40,
        )
        .unwrap_err();
        let text = e.to_string();
        for part in [
            "ff-sa-cnn",
            "batch size 50",
            "budget is 0.59 GiB",
            "`memory`",
            "batch_size",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let ok = max_group(
            &arch,
            50,
            DeviceClass::Cpu,
            Budget::Bytes(8 << 30),
            1 << 30,
            0,
        );
        assert!(ok.unwrap() > 50);
    }
}
