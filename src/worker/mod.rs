//! The libtorch worker. `sapipe` itself never loads libtorch (loading it costs ~0.6 s, which
//! would dominate every no-op run); stages of libtorch kinds run in a `sapipe-torch` child
//! process instead, which also isolates CUDA state per stage and lets the determinism
//! environment be set before CUDA starts.
//!
//! - `protocol`: the request (a serialised `StageContext`) and the JSON-lines messages back.
//! - `proxy`: the engine-side kind that spawns the worker (no libtorch symbols).
//! - `serve`: the worker side (feature `torch`), run by the `sapipe-torch` binary.

pub mod protocol;
pub mod proxy;
#[cfg(feature = "torch")]
pub mod serve;

use std::path::PathBuf;

/// The worker binary: `SAPIPE_TORCH_WORKER`, else `sapipe-torch` next to the running binary.
pub fn worker_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SAPIPE_TORCH_WORKER") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    // Test binaries live in target/*/deps; the worker one level up.
    [dir.join("sapipe-torch"), dir.parent()?.join("sapipe-torch")]
        .into_iter()
        .find(|p| p.is_file())
}

/// glibc malloc settings of the worker process (unless the caller set them). Training
/// allocates activations of up to hundreds of MB every step; above 32 MB glibc serves each
/// with a fresh `mmap` and unmaps it on free, so every step page-faults its memory in again
/// (17% of a CPU training step in `perf`, and the population trainer 1.4x slower on 2 cores).
/// Serving them from the heap and not trimming it keeps the pages between steps. One arena for
/// all threads: with one per thread, freed blocks of one arena cannot serve another's requests,
/// and the peak resident memory of a training step came out up to 1.4x what it holds (the
/// memory model's budgets would not hold); with one, 1.04-1.09x.
pub const WORKER_MALLOC_ENV: [(&str, &str); 3] = [
    ("MALLOC_MMAP_MAX_", "0"),
    ("MALLOC_TRIM_THRESHOLD_", "17179869184"),
    ("MALLOC_ARENA_MAX", "1"),
];

/// A command that starts the worker at `path`, with its malloc settings.
pub fn worker_command(path: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(path);
    for (name, value) in WORKER_MALLOC_ENV {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    command
}

/// Whether an NVIDIA driver is present (cheap check without loading libtorch; the worker
/// verifies that CUDA really works before a stage uses it, and `doctor` reports the truth).
pub fn cuda_driver_present() -> bool {
    std::path::Path::new("/proc/driver/nvidia/version").exists() && worker_path().is_some()
}
