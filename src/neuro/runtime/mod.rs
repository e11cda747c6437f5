//! What this build knows about its compute runtime: the linked libtorch version and whether
//! CUDA / cuDNN are usable, for `doctor` and for stage keys; `determinism` pins the numerics
//! (deterministic kernels, portable CPU code paths) before libtorch computes anything.

#[cfg(feature = "torch")]
pub mod determinism;
pub mod resident;
pub mod threads;

/// The version of the libtorch the project builds against (read from the wheel by build.rs;
/// known to `sapipe` even when it is built without the `torch` feature).
pub const LIBTORCH_VERSION: Option<&str> = option_env!("SAPIPE_LIBTORCH_VERSION");

/// The version of portable CPU numerics (`determinism::PORTABLE_CPU_PINS`, oneDNN cap, threads): part of
/// the key of every deterministic CPU stage of a libtorch kind. Change it with the pins.
pub const PORTABLE_CPU_NUMERICS: &str = "portable-v3";

#[derive(Debug, Clone, serde::Serialize)]
pub struct RuntimeReport {
    pub libtorch: Option<String>,
    pub cuda_available: bool,
    pub cudnn_available: bool,
    pub devices: Vec<String>,
    pub determinism: Option<String>,
    pub cublas_workspace_config: Option<String>,
    /// The process that answered (the `sapipe-torch` worker), and the folder of the libtorch
    /// it loaded: where an installed sapipe finds them.
    pub worker: Option<String>,
    pub libtorch_dir: Option<String>,
}

/// The folder of the loaded shared library whose file name starts with `prefix` (from
/// /proc/self/maps; `None` where that cannot be read or it is not loaded).
pub fn loaded_library_dir(prefix: &str) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(std::path::Path::new)
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .and_then(|p| Some(p.parent()?.display().to_string()))
}

#[cfg(feature = "torch")]
fn this_exe() -> Option<String> {
    std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
}

/// Probes the runtime (initialises CUDA if present).
pub fn report(deterministic: bool) -> RuntimeReport {
    #[cfg(feature = "torch")]
    {
        crate::neuro::runtime::determinism::set_deterministic(deterministic);
        let cuda = tch::Cuda::is_available();
        let count = if cuda { tch::Cuda::device_count() } else { 0 };
        let devices = (0..count)
            .map(|i| format!("cuda:{i}"))
            .chain(["cpu".to_string()])
            .collect();
        RuntimeReport {
            libtorch: LIBTORCH_VERSION.map(String::from),
            cuda_available: cuda,
            cudnn_available: tch::Cuda::cudnn_is_available(),
            devices,
            determinism: Some(crate::neuro::runtime::determinism::flags().to_string()),
            cublas_workspace_config: std::env::var("CUBLAS_WORKSPACE_CONFIG").ok(),
            worker: this_exe(),
            libtorch_dir: loaded_library_dir("libtorch_cpu."),
        }
    }
    #[cfg(not(feature = "torch"))]
    {
        let _ = deterministic;
        RuntimeReport {
            libtorch: None,
            cuda_available: false,
            cudnn_available: false,
            devices: vec!["cpu".into()],
            determinism: None,
            cublas_workspace_config: std::env::var("CUBLAS_WORKSPACE_CONFIG").ok(),
            worker: None,
            libtorch_dir: loaded_library_dir("libtorch_cpu."),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_folder_of_a_loaded_library() {
        // Every Linux process maps its C library.
        if std::path::Path::new("/proc/self/maps").exists() {
            let dir = super::loaded_library_dir("libc.").expect("libc is loaded");
            assert!(std::path::Path::new(&dir).is_dir(), "{dir}");
        }
        assert_eq!(super::loaded_library_dir("no-such-library-anywhere"), None);
    }
}
