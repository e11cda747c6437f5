//! The compute environment that produced a result: recorded in every stage record and lock
//! entry, never part of a key (keys stay hardware-independent, so one cache serves every
//! machine and Slurm node). It says where a result was computed and, through its
//! reproducibility class, whether another result of the same key must be bit-identical to it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// How a kind computed its numbers, as the kind itself reports it (the engine knows nothing of
/// the numeric libraries behind a kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Numerics {
    /// One readable line, e.g. `libtorch 2.11.0, CPU portable: AVX2 kernels, 2 threads`.
    pub summary: String,
    /// The settings behind it (kernel set, threads, BLAS mode, GPU, CUDA, cuDNN, ...).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Results of one key computed in the same class are expected bit-identical; `None`: no
    /// bit identity is expected even on the same machine (e.g. non-deterministic CUDA).
    pub class: Option<String>,
}

/// The class of kinds that report no numerics: sapipe's pure-Rust kinds and commands, whose
/// results do not depend on the machine.
pub const MACHINE_INDEPENDENT: &str = "machine-independent";

/// The machine a result was computed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub host: String,
    pub cpu_vendor: String,
    pub cpu_model: String,
    /// Logical CPUs this process may use.
    pub cpus: usize,
    /// Instruction-set extensions that decide which numeric kernels can run.
    pub cpu_isa: Vec<String>,
    /// Per-level cache sizes as the kernel reports them (`L1d 48K`, `L2 2048K`, ...).
    pub caches: Vec<String>,
    /// GPU models and the NVIDIA driver, when a driver is loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_driver: Option<String>,
}

/// Everything recorded about how a result was computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub machine: Machine,
    /// `None` for kinds that report no numerics (see [`MACHINE_INDEPENDENT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerics: Option<Numerics>,
}

impl Environment {
    /// This machine, with what the kind reported.
    pub fn here(numerics: Option<Numerics>) -> Self {
        Self {
            machine: Machine::this().clone(),
            numerics,
        }
    }

    /// The reproducibility class (see [`Numerics::class`]).
    pub fn class(&self) -> Option<String> {
        match &self.numerics {
            Some(n) => n.class.clone(),
            None => Some(MACHINE_INDEPENDENT.to_string()),
        }
    }

    /// What computed it, in a few words: the GPU for GPU work, else the CPU.
    pub fn hardware(&self) -> String {
        let on_gpu = self
            .numerics
            .as_ref()
            .is_some_and(|n| n.settings.get("device").is_some_and(|d| d == "cuda"));
        match self.machine.gpus.first() {
            Some(gpu) if on_gpu => gpu.clone(),
            _ => self.machine.cpu_model.clone(),
        }
    }
}

impl Machine {
    /// This machine (probed once per process).
    pub fn this() -> &'static Machine {
        static THIS: OnceLock<Machine> = OnceLock::new();
        THIS.get_or_init(Machine::probe)
    }

    fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo
                .lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let flags = field("flags").unwrap_or_default();
        let cpu_isa = [
            "avx",
            "fma",
            "avx2",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512dq",
            "avx512_bf16",
            "amx_tile",
        ]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .map(String::from)
        .collect();
        let (gpus, gpu_driver) = nvidia_gpus();
        Machine {
            host: host_name(),
            cpu_vendor: field("vendor_id").unwrap_or_else(|| "unknown".into()),
            cpu_model: field("model name").unwrap_or_else(|| std::env::consts::ARCH.into()),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_isa,
            caches: caches(),
            gpus,
            gpu_driver,
        }
    }
}

/// The CPU's caches from sysfs (`L1d 48K`, `L1i 32K`, `L2 2048K`, `L3 107520K`).
fn caches() -> Vec<String> {
    let base = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let read = |dir: &std::path::Path, f: &str| {
        std::fs::read_to_string(dir.join(f))
            .ok()
            .map(|s| s.trim().to_string())
    };
    let mut out = Vec::new();
    for i in 0..8 {
        let dir = base.join(format!("index{i}"));
        let (Some(level), Some(ty), Some(size)) =
            (read(&dir, "level"), read(&dir, "type"), read(&dir, "size"))
        else {
            continue;
        };
        let suffix = match ty.as_str() {
            "Data" => "d",
            "Instruction" => "i",
            _ => "",
        };
        out.push(format!("L{level}{suffix} {size}"));
    }
    out
}

/// GPU models and the driver version, read from the NVIDIA driver's /proc files (no CUDA
/// call: the engine never loads libtorch).
fn nvidia_gpus() -> (Vec<String>, Option<String>) {
    let driver = std::fs::read_to_string("/proc/driver/nvidia/version")
        .ok()
        .and_then(|v| {
            v.lines().next().and_then(|l| {
                l.split_whitespace()
                    .find(|w| {
                        w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.')
                    })
                    .map(String::from)
            })
        });
    let mut gpus = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/driver/nvidia/gpus") {
        let mut entries: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            let info = std::fs::read_to_string(e.join("information")).unwrap_or_default();
            if let Some(model) = info
                .lines()
                .find_map(|l| l.strip_prefix("Model:").map(|m| m.trim().to_string()))
            {
                gpus.push(model);
            }
        }
    }
    (gpus, driver)
}

/// The host name, for records and for the names of a process's scratch files.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_is_described() {
        let m = Machine::this();
        assert!(!m.cpu_model.is_empty());
        assert!(m.cpus >= 1);
        let e = Environment::here(None);
        assert_eq!(e.class().as_deref(), Some(MACHINE_INDEPENDENT));
        assert_eq!(e.hardware(), m.cpu_model);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Environment>(&json).unwrap(), e);
    }

    #[test]
    fn gpu_work_is_described_by_its_gpu() {
        let mut e = Environment::here(Some(Numerics {
            summary: "s".into(),
            settings: BTreeMap::from([("device".to_string(), "cuda".to_string())]),
            class: None,
        }));
        e.machine.gpus = vec!["NVIDIA H200".into()];
        assert_eq!(e.hardware(), "NVIDIA H200");
        assert_eq!(e.class(), None);
    }
}
