//! The one door for a test that cannot run on this machine (no Slurm, no S3 server, no
//! Python, CUDA present where its absence is tested): [`skip`] says so, counts it, and under
//! CI fails the test unless [`MAY_SKIP_IN_CI`] lists it with a reason. A skip that passed
//! silently once hid a test that never ran in CI; with this door every skip is either a
//! failure there or a stated exception, and `scripts/test` prints how many there were.
//!
//! Used by the unit tests beside the code and by the integration tests in `tests/it`, so it
//! lives in the library (it is tiny and has no dependencies).

use std::io::Write as _;

/// A test that may skip under CI, and why that is right.
pub struct Exception {
    pub test: &'static str,
    pub reason: &'static str,
}

/// The tests allowed to skip under CI. Everything else that skips there fails.
pub const MAY_SKIP_IN_CI: &[Exception] = &[Exception {
    test: "requesting_cuda_where_there_is_none_is_a_clear_error",
    reason: "it checks the error for a machine without CUDA; on a CI machine with a GPU there is \
             no such error to check",
}];

/// The environment variable that CI sets (`.ci/run` runs with `CI=true`).
pub const CI_VARIABLE: &str = "CI";

/// Where skips are appended, one line each (`TEST: WHY`), when set: `scripts/test` sets it and
/// prints the count at the end.
pub const SKIP_LOG_VARIABLE: &str = "SAPIPE_SKIP_LOG";

/// Whether this process runs under CI.
pub fn under_ci() -> bool {
    std::env::var(CI_VARIABLE).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// What a skip of `test` amounts to under CI: `Ok(reason)` if it is an allowed exception,
/// `Err(message)` if it must fail.
pub fn ci_verdict(test: &str, why: &str) -> Result<&'static str, String> {
    MAY_SKIP_IN_CI
        .iter()
        .find(|e| e.test == test)
        .map(|e| e.reason)
        .ok_or_else(|| {
            format!(
                "{test} would be skipped under CI ({why}); CI runs every test: provide what it \
                 needs in .ci/run or scripts/test, or list it in sapipe::testing::MAY_SKIP_IN_CI \
                 with a reason"
            )
        })
}

/// Records that `test` does not run here because `why`; the caller returns right after.
///
/// # Panics
/// Under CI, unless `test` is in [`MAY_SKIP_IN_CI`]: a skip there is a failure.
#[allow(clippy::disallowed_macros)] // test output, read past the harness's capture
pub fn skip(test: &str, why: &str) {
    if under_ci()
        && let Err(message) = ci_verdict(test, why)
    {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {test}: {why}");
    if let Some(log) = std::env::var_os(SKIP_LOG_VARIABLE) {
        let line = format!("{test}: {why}\n");
        // One write per line in append mode: lines of parallel tests never interleave.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_tests_may_skip_under_ci_and_each_says_why() {
        assert!(ci_verdict("a_test_that_needs_slurm", "no Slurm").is_err());
        let message = ci_verdict("a_test_that_needs_slurm", "no Slurm").unwrap_err();
        assert!(message.contains("no Slurm") && message.contains("MAY_SKIP_IN_CI"));
        for e in MAY_SKIP_IN_CI {
            assert_eq!(ci_verdict(e.test, "x"), Ok(e.reason));
            assert!(e.reason.len() > 20, "{}: give a reason", e.test);
        }
    }
}
