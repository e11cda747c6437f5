//! How much memory this process holds and the machine has free, read from Linux's `/proc` and
//! the cgroup the process runs in (a Slurm job's or a container's limit counts, not only the
//! machine's RAM). Each reader returns `None` where the file is missing or unreadable (not
//! Linux, a restricted container), and callers say so instead of guessing.

use std::path::Path;

/// A `kB` field of `/proc/self/status` or `/proc/meminfo`, in bytes.
fn kb_field(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(field))?;
    let rest = line[field.len()..].trim_start_matches(':').trim();
    let kb: u64 = rest.strip_suffix("kB")?.trim().parse().ok()?;
    kb.checked_mul(1024)
}

fn status_field(field: &str) -> Option<u64> {
    kb_field(&std::fs::read_to_string("/proc/self/status").ok()?, field)
}

/// Resident memory of this process now.
pub fn rss() -> Option<u64> {
    status_field("VmRSS")
}

/// The largest resident memory of this process since it started (or since [`reset_peak`]).
pub fn peak_rss() -> Option<u64> {
    status_field("VmHWM")
}

/// Resets the peak to the current resident memory (Linux >= 4.0); false where not allowed.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Memory a new allocation can take without swapping: the machine's `MemAvailable`, lowered
/// to what the process's cgroup (v2 or v1) still allows.
pub fn available() -> Option<u64> {
    let machine = kb_field(
        &std::fs::read_to_string("/proc/meminfo").ok()?,
        "MemAvailable",
    )?;
    Some(cgroup_room().map_or(machine, |room| room.min(machine)))
}

/// Free memory of the current CUDA device, from the CUDA runtime libtorch loaded
/// (`cudaMemGetInfo`, looked up in the process, so builds without CUDA need nothing); `None`
/// where no CUDA runtime is loaded or the call fails.
pub fn cuda_free() -> Option<u64> {
    type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> i32;
    // SAFETY: dlsym with RTLD_DEFAULT only looks a name up among the loaded libraries.
    let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"cudaMemGetInfo".as_ptr()) };
    if symbol.is_null() {
        return None;
    }
    // SAFETY: the CUDA runtime's `cudaError_t cudaMemGetInfo(size_t* free, size_t* total)`.
    let get: MemGetInfo = unsafe { std::mem::transmute(symbol) };
    let (mut free, mut total) = (0usize, 0usize);
    // SAFETY: both pointers are valid for the call.
    let status = unsafe { get(&mut free, &mut total) };
    (status == 0 && total > 0).then_some(free as u64)
}

/// Free memory of a device class: [`available`] RAM on CPU, [`cuda_free`] on CUDA.
pub fn free_on(class: crate::kind::DeviceClass) -> Option<u64> {
    match class {
        crate::kind::DeviceClass::Cpu => available(),
        crate::kind::DeviceClass::Cuda => cuda_free(),
    }
}

/// The cgroup's limit minus its usage, if the process is under a limit.
fn cgroup_room() -> Option<u64> {
    let read = |p: &Path| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        let (limit, usage) = if controllers.is_empty() {
            let dir = Path::new("/sys/fs/cgroup").join(path);
            (dir.join("memory.max"), dir.join("memory.current"))
        } else if controllers.split(',').any(|c| c == "memory") {
            let dir = Path::new("/sys/fs/cgroup/memory").join(path);
            (
                dir.join("memory.limit_in_bytes"),
                dir.join("memory.usage_in_bytes"),
            )
        } else {
            continue;
        };
        // "max" (v2) or a huge number (v1) means no limit.
        if let (Some(limit), Some(usage)) = (read(&limit), read(&usage))
            && limit < (1 << 60)
        {
            return Some(limit.saturating_sub(usage));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_in_bytes_and_malformed_ones_are_none() {
        let status = "Name:\tsapipe\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(kb_field(status, "VmRSS"), Some(100 << 20));
        assert_eq!(kb_field(status, "VmHWM"), Some(200 << 20));
        assert_eq!(kb_field(status, "VmSwap"), None);
        assert_eq!(kb_field("VmRSS: lots kB", "VmRSS"), None);
        assert_eq!(kb_field("VmRSS: 12", "VmRSS"), None);
    }

    #[test]
    fn this_process_has_a_resident_size_within_its_peak_and_the_machine_some_room() {
        if !Path::new("/proc/self/status").exists() {
            crate::testing::skip(
                "this_process_has_a_resident_size_within_its_peak_and_the_machine_some_room",
                "no /proc/self/status (not Linux)",
            );
            return;
        }
        let (now, peak) = (rss().unwrap(), peak_rss().unwrap());
        assert!(now > 0 && now <= peak, "{now} {peak}");
        assert!(available().unwrap() > 0);
    }
}
