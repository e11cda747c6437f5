//! libtorch's determinism switches (through the C++ shim compiled by build.rs), the portable
//! CPU numerics that `deterministic: true` pins, and the report of how a process computes.
//!
//! # Portable CPU numerics
//! libtorch picks its CPU kernels by machine: ATen's vectorised kernels by ISA (AVX-512,
//! AVX2 or plain), oneDNN's JIT convolutions by ISA, MKL's GEMMs by ISA, cache sizes and thread
//! count, and every parallel reduction splits its work by thread count. Each choice sums in
//! another order, so the same training gives other last bits on another machine, and training
//! amplifies them. With `deterministic: true` on CPU the worker pins them before libtorch
//! computes anything ([`pin_portable_cpu`]), so machines of one reproducibility class run the
//! same kernels with the same work split. Measured on one machine by emulating others
//! (tests/it/portable.rs, README "How training computes"): each pin alone was needed.
//!
//! Two sources cannot be pinned at an acceptable cost, so they are part of the class
//! ([`numerics`]), and lock and audit compare results of different classes numerically and say
//! so: oneDNN's ISA (AVX-512 or AVX2; one AVX2 cap for all measured 1.5x slower, see
//! [`onednn_isa`]), and the CPU vendor, since MKL honours its AVX2 reproducibility branch on
//! Intel CPUs only (elsewhere it falls back to automatic dispatch; the only cross-vendor branch,
//! SSE2, made training 2-3x slower).

use std::collections::BTreeMap;
use std::fmt;

use crate::kind::DeviceClass;
use crate::reproducibility::Numerics;

unsafe extern "C" {
    fn sapipe_set_deterministic(on: i32);
    fn sapipe_determinism_flags() -> i32;
    fn sapipe_cpu_capability(out: *mut std::ffi::c_char, cap: i32) -> i32;
    fn sapipe_cuda_runtime_version() -> std::ffi::c_long;
    fn sapipe_cudnn_version() -> std::ffi::c_long;
}

/// One environment setting of portable CPU numerics, and why it is needed.
pub struct Pin {
    pub variable: &'static str,
    pub value: &'static str,
    pub why: &'static str,
}

/// The environment of portable CPU numerics (read by libtorch at its first use of each library).
pub const PORTABLE_CPU_PINS: [Pin; 3] = [
    Pin {
        variable: "ATEN_CPU_CAPABILITY",
        value: "avx2",
        why: "ATen compiles its vectorised kernels (reductions, pooling, batch norm, Adam's \
              arithmetic) once per ISA and dispatches by CPU: AVX-512 and AVX2 sum in different \
              lane orders",
    },
    Pin {
        variable: "MKL_CBWR",
        value: "AVX2,STRICT",
        why: "MKL's GEMMs (the attention's batched products) dispatch by ISA and cache sizes; \
              its conditional-numerical-reproducibility AVX2 branch fixes both on Intel CPUs, \
              STRICT makes GEMMs independent of the thread count",
    },
    Pin {
        variable: "MKL_ENABLE_INSTRUCTIONS",
        value: "AVX2",
        why: "when set (cluster module environments do), it overrides MKL_CBWR's branch: \
              measured, MKL_ENABLE_INSTRUCTIONS=AVX512 changed every checkpoint despite \
              MKL_CBWR=AVX2,STRICT",
    },
];

/// oneDNN's instruction-set cap: the best of AVX-512 (core) and AVX2 this machine has. oneDNN
/// JIT-compiles convolutions for the best ISA it finds; capped, every machine of one class
/// generates the same kernels (AMX or AVX-512 BF16 extensions do not change fp32 kernels).
/// Capping every machine at AVX2 would make AVX-512 and AVX2 machines agree too, but measured
/// 1.5x slower training on AVX-512 machines (`scripts/bench-portable`), so the cap is part of
/// the reproducibility class instead.
pub const ONEDNN_VARIABLE: &str = "ONEDNN_MAX_CPU_ISA";

/// The value of [`ONEDNN_VARIABLE`] for this machine.
pub fn onednn_isa() -> &'static str {
    let isa = &crate::reproducibility::Machine::this().cpu_isa;
    let has = |f: &str| isa.iter().any(|x| x == f);
    if ["avx512f", "avx512bw", "avx512vl", "avx512dq"]
        .iter()
        .all(|f| has(f))
    {
        "AVX512_CORE"
    } else {
        "AVX2"
    }
}

/// Intra-op threads of portable CPU numerics. ATen splits parallel reductions (a loss over a
/// large tensor, gradients of broadcast parameters) into one part per thread, so the thread
/// count changes the sums. One: neurons compute side by side, each on one thread
/// (`runtime::threads`), which uses the cores better than splitting each kernel, and makes a
/// neuron's bits independent of the machine's core count.
pub const PORTABLE_CPU_THREADS: i32 = 1;

/// Whether `deterministic` work on `device` runs with portable CPU numerics.
pub fn portable(device: DeviceClass, deterministic: bool) -> bool {
    deterministic && device == DeviceClass::Cpu
}

/// Pins portable CPU numerics for this process: the [`PORTABLE_CPU_PINS`] environment
/// (replacing the caller's values) and [`PORTABLE_CPU_THREADS`].
///
/// # Safety
/// Must run before this process's first libtorch operation and while it has one thread (the
/// worker calls it right after reading its request): it sets environment variables.
pub unsafe fn pin_portable_cpu() {
    let skip = unpinned();
    for pin in PORTABLE_CPU_PINS
        .iter()
        .filter(|p| !skip.contains(&p.variable))
    {
        // SAFETY: the caller guarantees no other thread reads the environment concurrently.
        unsafe { std::env::set_var(pin.variable, pin.value) };
    }
    if !skip.contains(&ONEDNN_VARIABLE) {
        // SAFETY: as above.
        unsafe { std::env::set_var(ONEDNN_VARIABLE, onednn_isa()) };
    }
    if !skip.contains(&"threads") {
        tch::set_num_threads(PORTABLE_CPU_THREADS);
    }
}

/// Diagnostics only: `SAPIPE_UNPIN=ATEN_CPU_CAPABILITY,threads,...` leaves those pins out,
/// to measure what each pin alone changes (scripts/portable-knobs). Results computed so carry
/// their own reproducibility class, never the portable one.
pub const UNPIN_VARIABLE: &str = "SAPIPE_UNPIN";

fn unpinned() -> Vec<&'static str> {
    let asked = std::env::var(UNPIN_VARIABLE).unwrap_or_default();
    PORTABLE_CPU_PINS
        .iter()
        .map(|p| p.variable)
        .chain([ONEDNN_VARIABLE, "threads"])
        .filter(|name| asked.split(',').any(|a| a.trim() == *name))
        .collect()
}

/// Sets `CUBLAS_WORKSPACE_CONFIG` (needed for deterministic cuBLAS). Must run before any CUDA
/// call, i.e. at process start before other threads exist.
pub fn prepare_environment() {
    if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        // SAFETY: called from `main` before any thread is spawned.
        unsafe { std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8") };
    }
}

/// The kernel set ATen dispatches to in this process (`AVX2`, `AVX512`, `DEFAULT`).
pub fn cpu_capability() -> String {
    let mut buf = [0 as std::ffi::c_char; 64];
    // SAFETY: the shim writes at most 64 bytes, NUL-terminated.
    unsafe { sapipe_cpu_capability(buf.as_mut_ptr(), buf.len() as i32) };
    // SAFETY: NUL-terminated by the shim.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// How this process computes on `device`, with its reproducibility class: results of one key
/// are expected bit-identical exactly when their classes are equal.
pub fn numerics(device: DeviceClass, deterministic: bool) -> Numerics {
    let machine = crate::reproducibility::Machine::this();
    let libtorch = crate::neuro::runtime::LIBTORCH_VERSION.unwrap_or("unknown");
    let threads = tch::get_num_threads();
    let isa = cpu_capability();
    let mut settings = BTreeMap::from([
        ("device".to_string(), device.to_string()),
        ("libtorch".to_string(), libtorch.to_string()),
        ("cpu_kernels".to_string(), isa.clone()),
        ("intra_op_threads".to_string(), threads.to_string()),
        ("determinism".to_string(), flags().to_string()),
    ]);
    for variable in PORTABLE_CPU_PINS
        .iter()
        .map(|p| p.variable)
        .chain([ONEDNN_VARIABLE])
    {
        if let Ok(v) = std::env::var(variable) {
            settings.insert(variable.to_string(), v);
        }
    }
    let (summary, class) = match device {
        DeviceClass::Cpu if portable(device, deterministic) => {
            // MKL's AVX2 branch is honoured on Intel CPUs only (see the module doc).
            let blas = if machine.cpu_vendor == "GenuineIntel" {
                "mkl-cnr-avx2".to_string()
            } else {
                format!("mkl-auto {} {}", machine.cpu_vendor, machine.cpu_model)
            };
            let skip = unpinned();
            let class = if skip.is_empty() {
                // Cache sizes too: oneDNN may block its work by them, which one machine cannot
                // emulate, so bits are promised only between machines with the same caches.
                format!(
                    "cpu-portable libtorch-{libtorch} {isa} onednn-{} threads-{threads} {blas} caches-{}",
                    onednn_isa(),
                    machine.caches.join(",")
                )
            } else {
                format!(
                    "cpu-portable-unpinned({}) {} {}",
                    skip.join(","),
                    machine.cpu_model,
                    machine.caches.join(",")
                )
            };
            (
                format!(
                    "libtorch {libtorch}, CPU portable: {isa} kernels, oneDNN {}, {threads} threads",
                    onednn_isa()
                ),
                Some(class),
            )
        }
        DeviceClass::Cpu => (
            format!("libtorch {libtorch}, CPU fastest kernels: {isa}, {threads} threads"),
            // The same machine and thread count reproduce themselves (measured); nothing more.
            Some(format!(
                "cpu-fastest libtorch-{libtorch} {isa} threads-{threads} {} {}",
                machine.cpu_model,
                machine.caches.join(",")
            )),
        ),
        DeviceClass::Cuda => {
            // SAFETY: plain getters; 0 when CUDA or cuDNN cannot answer.
            let (cuda, cudnn) = unsafe { (sapipe_cuda_runtime_version(), sapipe_cudnn_version()) };
            let gpu = machine
                .gpus
                .first()
                .cloned()
                .unwrap_or_else(|| "unknown GPU".into());
            settings.insert("cuda_runtime".into(), cuda.to_string());
            settings.insert("cudnn".into(), cudnn.to_string());
            settings.insert("gpu".into(), gpu.clone());
            let class = deterministic.then(|| {
                format!(
                    "cuda-deterministic libtorch-{libtorch} {gpu} cuda-{cuda} cudnn-{cudnn} driver-{}",
                    machine.gpu_driver.as_deref().unwrap_or("unknown")
                )
            });
            let mode = if deterministic {
                "deterministic"
            } else {
                "non-deterministic"
            };
            (
                format!("libtorch {libtorch}, CUDA {mode}: {gpu}, CUDA {cuda}, cuDNN {cudnn}"),
                class,
            )
        }
    };
    Numerics {
        summary,
        settings,
        class,
    }
}

/// The determinism-relevant settings of libtorch's global context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DeterminismFlags {
    pub deterministic_algorithms: bool,
    pub deterministic_cudnn: bool,
    pub cudnn_benchmark: bool,
    pub tf32_cublas: bool,
    pub tf32_cudnn: bool,
}

impl fmt::Display for DeterminismFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deterministic algorithms {}, deterministic cuDNN {}, cuDNN benchmark {}, TF32 cuBLAS {}, TF32 cuDNN {}",
            on_off(self.deterministic_algorithms),
            on_off(self.deterministic_cudnn),
            on_off(self.cudnn_benchmark),
            on_off(self.tf32_cublas),
            on_off(self.tf32_cudnn)
        )
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Switches deterministic algorithms, deterministic cuDNN and TF32-off on (or the first two off).
pub fn set_deterministic(on: bool) {
    // SAFETY: plain setters on libtorch's global context.
    unsafe { sapipe_set_deterministic(i32::from(on)) }
}

/// The settings in force.
pub fn flags() -> DeterminismFlags {
    // SAFETY: plain getters on libtorch's global context.
    let f = unsafe { sapipe_determinism_flags() };
    DeterminismFlags {
        deterministic_algorithms: f & 1 != 0,
        deterministic_cudnn: f & 2 != 0,
        cudnn_benchmark: f & 4 != 0,
        tf32_cublas: f & 8 != 0,
        tf32_cudnn: f & 16 != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_round_trip() {
        set_deterministic(true);
        let f = flags();
        assert!(f.deterministic_algorithms && f.deterministic_cudnn);
        assert!(!f.tf32_cublas && !f.tf32_cudnn && !f.cudnn_benchmark);
        set_deterministic(false);
        assert!(!flags().deterministic_algorithms);
    }

    #[test]
    fn numerics_name_the_kernels_and_class() {
        let n = numerics(DeviceClass::Cpu, false);
        assert!(!n.settings["cpu_kernels"].is_empty(), "{n:?}");
        assert!(
            n.class
                .as_deref()
                .is_some_and(|c| c.starts_with("cpu-fastest")),
            "{n:?}"
        );
        assert!(n.summary.contains("threads"), "{}", n.summary);
    }
}
