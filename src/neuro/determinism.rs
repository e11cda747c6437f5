//! libtorch's determinism switches (through the C++ shim compiled by build.rs) and the
//! environment settings that must precede the first CUDA call.

use std::fmt;

unsafe extern "C" {
    fn sapipe_set_deterministic(on: i32);
    fn sapipe_determinism_flags() -> i32;
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

/// Sets `CUBLAS_WORKSPACE_CONFIG` (needed for deterministic cuBLAS). Must run before any CUDA
/// call, i.e. at process start before other threads exist.
pub fn prepare_environment() {
    if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        // SAFETY: called from `main` before any thread is spawned.
        unsafe { std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8") };
    }
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
}
