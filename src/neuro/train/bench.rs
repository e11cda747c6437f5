//! `sapipe bench train`: training-step throughput (forward + backward + Adam) of the population
//! trainer and of a one-neuron-at-a-time loop, measured in the same run on the same synthetic
//! batch, in images x neurons per second. This is the measurement behind `Strategy::Auto`.
//! With a memory budget the population trains in chunks that fit it, as the train stage does;
//! the report gives the process's peak resident memory beside the budget and the memory
//! model's prediction (`memory`).

use std::time::Instant;

use tch::{Device, Tensor};

use super::TrainError;
use super::dropout::StepDropout;
use super::memory::{self, Budget};
use super::stepper::Stepper;
use crate::kind::DeviceClass;
use crate::neuro::model::arch::REFERENCE_INPUT_SIZE;
use crate::neuro::model::network::tensor_from;
use crate::neuro::model::{Architecture, ModelId, Network};
use crate::neuro::random::counter::{Purpose, Stream};
use crate::neuro::runtime::resident;
use crate::neuro::stats::middle;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    pub model: ModelId,
    pub neurons: usize,
    pub device: Device,
    /// Timed steps per network (after one untimed warm-up step).
    pub steps: usize,
    /// Alternating rounds of both strategies; each reports its median round.
    pub rounds: usize,
    pub batch_size: usize,
    /// Model input side (50 in the paper).
    pub input_size: usize,
    pub seed: u64,
    /// The population trainer's memory budget (`None`: one chunk of all neurons).
    pub memory: Option<Budget>,
    /// Whether to time the one-neuron-at-a-time baseline too.
    pub per_neuron: bool,
}

impl BenchSettings {
    pub fn new(model: ModelId, neurons: usize, device: Device) -> Self {
        BenchSettings {
            model,
            neurons,
            device,
            steps: 5,
            rounds: 3,
            batch_size: 50,
            input_size: REFERENCE_INPUT_SIZE,
            seed: 1,
            memory: None,
            per_neuron: true,
        }
    }
}

/// Throughput of one strategy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StrategyTiming {
    pub strategy: &'static str,
    /// Neurons per computation.
    pub group_size: usize,
    pub seconds: f64,
    pub images_neuron_per_s: f64,
}

/// Both strategies' throughput and their ratio.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub model: &'static str,
    pub neurons: usize,
    pub device: String,
    pub batch_size: usize,
    pub steps: usize,
    pub rounds: usize,
    pub population: StrategyTiming,
    pub per_neuron: Option<StrategyTiming>,
    /// population / per-neuron throughput: above 1 means the population trainer is faster.
    pub ratio: Option<f64>,
    /// The faster strategy's name.
    pub faster: Option<&'static str>,
    pub memory: MemoryReport,
}

/// The population trainer's memory: the budget, the chunk it allows, and the peak.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemoryReport {
    /// As given (`auto`, `8.00 GiB`), or `none`.
    pub budget: String,
    /// What the budget is for the whole process, in bytes (`None` without a budget).
    pub budget_bytes: Option<u64>,
    /// Resident memory before the networks were built (libtorch and the batch).
    pub start_rss_bytes: Option<u64>,
    /// The process's peak resident memory over the population runs (Linux `VmHWM`).
    pub peak_rss_bytes: Option<u64>,
    /// The model's prediction of the peak: on CPU the start plus one training step of the
    /// largest chunk; on CUDA the step alone (device memory, which `VmHWM` does not see).
    pub predicted_peak_bytes: Option<u64>,
    /// The model's prediction for one neuron.
    pub per_neuron_bytes: u64,
}

/// Measures both training strategies for `settings.neurons` neurons.
pub fn bench_train(settings: &BenchSettings) -> Result<BenchReport, TrainError> {
    if settings.neurons == 0 || settings.steps == 0 || settings.batch_size == 0 {
        return Err(TrainError::Invalid(
            "bench: neurons, steps and batch size must be >= 1".into(),
        ));
    }
    let arch = Architecture::new(settings.model, settings.input_size)?;
    let (b, s, p) = (settings.batch_size, settings.input_size, settings.neurons);
    let stream = Stream::new(settings.seed, Purpose::Bench);
    let pixels: Vec<f32> = (0..b * s * s)
        .map(|i| stream.child(0).f32_at(i as u64) * 2.0 - 1.0)
        .collect();
    let targets: Vec<f32> = (0..b * p)
        .map(|i| stream.child(1).f32_at(i as u64))
        .collect();
    let images = tensor_from(&[b, 1, s, s], &pixels, settings.device);
    let responses = tensor_from(&[b, p], &targets, settings.device);
    let ids: Vec<usize> = (0..p).collect();

    let columns: Vec<Tensor> = ids
        .iter()
        .map(|&id| responses.narrow(1, id as i64, 1).contiguous())
        .collect();
    let class = super::device_class(settings.device);
    let start = resident::rss();
    // What the budget counts besides training: the worker on CPU, nothing of the GPU's.
    let held = match class {
        DeviceClass::Cpu => start,
        DeviceClass::Cuda => Some(0),
    };
    let available = resident::free_on(class);
    let chunk = match settings.memory {
        None => p,
        Some(budget) => memory::max_group(
            &arch,
            b,
            class,
            budget,
            held.unwrap_or(0),
            available.unwrap_or(0),
        )?
        .min(p),
    };
    let (mut population_rounds, mut per_neuron_rounds) = (Vec::new(), Vec::new());
    let mut peak = None;
    for _ in 0..settings.rounds.max(1) {
        let mut seconds = 0.0;
        for part in ids.chunks(chunk) {
            let targets = responses.narrow(1, part[0] as i64, part.len() as i64);
            seconds += time_group(settings, arch, part, &images, &targets.contiguous())?;
        }
        population_rounds.push(seconds);
        peak = peak.max(resident::peak_rss());
        if settings.per_neuron {
            let mut seconds = 0.0;
            for (&id, column) in ids.iter().zip(&columns) {
                seconds += time_group(settings, arch, &[id], &images, column)?;
            }
            per_neuron_rounds.push(seconds);
        }
    }
    let work = (b * settings.steps * p) as f64;
    let timing = |strategy, group_size, seconds: f64| StrategyTiming {
        strategy,
        group_size,
        seconds,
        images_neuron_per_s: work / seconds.max(f64::MIN_POSITIVE),
    };
    let population = timing(
        "population",
        chunk,
        middle(&population_rounds).unwrap_or_default(),
    );
    let per_neuron = (!per_neuron_rounds.is_empty()).then(|| {
        timing(
            "per-neuron",
            1,
            middle(&per_neuron_rounds).unwrap_or_default(),
        )
    });
    let ratio = per_neuron
        .as_ref()
        .map(|one| population.images_neuron_per_s / one.images_neuron_per_s);
    let need = memory::step_memory(&arch, b);
    let memory = MemoryReport {
        budget: settings.memory.map_or("none".into(), Budget::describe),
        budget_bytes: settings.memory.map(|m| match m {
            Budget::Bytes(bytes) => bytes,
            Budget::Auto => held.unwrap_or(0) + m.bytes(available.unwrap_or(0)),
        }),
        start_rss_bytes: start,
        peak_rss_bytes: peak,
        predicted_peak_bytes: match class {
            DeviceClass::Cpu => start.map(|s| s + need.group(chunk, class)),
            DeviceClass::Cuda => Some(need.group(chunk, class)),
        },
        per_neuron_bytes: need.group(1, class),
    };
    Ok(BenchReport {
        model: settings.model.id(),
        neurons: p,
        device: format!("{:?}", settings.device),
        batch_size: b,
        steps: settings.steps,
        rounds: settings.rounds.max(1),
        faster: ratio.map(|r| if r >= 1.0 { "population" } else { "per-neuron" }),
        population,
        per_neuron,
        ratio,
        memory,
    })
}

/// Seconds for `settings.steps` training steps of one group (after a warm-up step).
fn time_group(
    settings: &BenchSettings,
    arch: Architecture,
    ids: &[usize],
    images: &Tensor,
    responses: &Tensor,
) -> Result<f64, TrainError> {
    let net = Network::new(arch, ids, settings.seed, settings.device);
    let mut stepper = Stepper::new(&net, 1e-3, settings.device);
    let batch = settings.batch_size;
    let step = |stepper: &mut Stepper, k: usize| {
        let masks = StepDropout {
            seed: settings.seed,
            neuron_ids: ids,
            epoch: 1,
            step: k,
            batch,
            device: settings.device,
        };
        let losses = stepper.step(
            &net,
            images,
            responses,
            None,
            &masks,
            &vec![true; ids.len()],
        );
        if losses.isfinite().all().int64_value(&[]) == 0 {
            return Err(TrainError::Invalid(
                "bench: the synthetic training step produced a non-finite loss".into(),
            ));
        }
        Ok(())
    };
    step(&mut stepper, 0)?;
    sync(settings.device);
    let started = Instant::now();
    for k in 1..=settings.steps {
        step(&mut stepper, k)?;
    }
    sync(settings.device);
    Ok(started.elapsed().as_secs_f64())
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_both_strategies_and_their_ratio() {
        let mut settings = BenchSettings::new(ModelId::RfCnn, 2, Device::Cpu);
        settings.steps = 1;
        settings.rounds = 2;
        settings.batch_size = 4;
        settings.input_size = 26;
        let r = bench_train(&settings).unwrap();
        let one = r.per_neuron.as_ref().unwrap();
        assert_eq!((r.population.group_size, one.group_size), (2, 1));
        assert_eq!(r.rounds, 2);
        assert!(r.population.images_neuron_per_s > 0.0 && one.images_neuron_per_s > 0.0);
        let expected = r.population.images_neuron_per_s / one.images_neuron_per_s;
        assert!((r.ratio.unwrap() - expected).abs() < 1e-12);
        assert_eq!(r.memory.budget, "none");
    }

    /// The measurement behind `Strategy::Auto` on this machine's CPU (run with `--ignored`;
    /// `SAPIPE_BENCH_MODEL` / `SAPIPE_BENCH_NEURONS` choose the case).
    #[test]
    #[ignore = "a measurement, not a check: takes a minute on two cores"]
    fn measure_cpu_strategies_at_the_reference_size() {
        let model = std::env::var("SAPIPE_BENCH_MODEL").unwrap_or_else(|_| "ff-sa-cnn".into());
        let neurons = std::env::var("SAPIPE_BENCH_NEURONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(4);
        let mut settings =
            BenchSettings::new(ModelId::parse(&model).unwrap(), neurons, Device::Cpu);
        settings.steps = 3;
        let r = bench_train(&settings).unwrap();
        crate::errln!("{}", serde_json::to_string_pretty(&r).unwrap());
    }
}
