//! Issue 27, item 5: across reproducibility classes, `run --locked` and `audit` judge a train
//! or evaluate stage on what its model predicts (per-neuron test CORR and a prediction
//! fingerprint, relative tolerance `reproducibility::tolerance::HARDWARE_RTOL`). "Another
//! class" is real: the CI pipeline trained with ATen's default (non-vector) kernels instead of
//! the pinned AVX2 ones (`SAPIPE_UNPIN`, which gives the results a class of their own), which
//! changes the libtorch stages' bits on any x86-64 machine.

use crate::common::Project;
use crate::portable::{MACHINES, Machine, P, project, run_as};

/// The CI pipeline's deterministic numerics with the ATen kernel pin replaced.
const OTHER_KERNELS: Machine = Machine {
    name: "ATen default kernels instead of the AVX2 pin",
    env: &[
        ("SAPIPE_UNPIN", "ATEN_CPU_CAPABILITY"),
        ("ATEN_CPU_CAPABILITY", "default"),
    ],
    one_core: false,
};

const LOCK: &str = "pipelines/ci.lock";

/// A project whose lock file was written under other kernels, and whose cache holds this
/// machine's results (pinned kernels) after a `run --locked` that must pass.
fn locked_elsewhere_run_here() -> (Project, String, crate::common::Run) {
    let p = project(true);
    run_as(&p, &OTHER_KERNELS, &["run", P]);
    let lock = p.read(LOCK);
    assert!(
        lock.contains("class: cpu-portable-unpinned(ATEN_CPU_CAPABILITY)"),
        "{lock}"
    );
    std::fs::remove_dir_all(p.path("cache")).unwrap();
    let r = run_as(&p, &MACHINES[0], &["run", P, "--locked"]);
    (p, lock, r)
}

/// `lock` with one number of stage `stage`'s metric `metric` (`path` into its arrays) mapped.
fn edit(lock: &str, stage: &str, metric: &str, path: &[usize], f: impl Fn(f64) -> f64) -> String {
    let mut v: serde_yaml::Value = serde_yaml::from_str(lock).unwrap();
    let mut x = &mut v["stages"][stage]["metrics"][metric];
    for &i in path {
        x = &mut x[i];
    }
    let old = x.as_f64().expect("a number");
    *x = serde_yaml::Value::from(f(old));
    serde_yaml::to_string(&v).unwrap()
}

/// Writes `lock`, runs `run --locked` (on the cached results), asserts it fails; its stderr.
fn fails_locked(p: &Project, lock: &str) -> String {
    p.write(LOCK, lock);
    let r = p.sapipe(&["run", P, "--locked"]);
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    r.stderr
}

#[test]
fn a_lock_from_other_kernels_is_judged_on_what_the_models_predict() {
    let (p, lock, r) = locked_elsewhere_run_here();
    // (c) Other real kernels: within tolerance, said so, and the lock is left as it was.
    for stage in ["rf_cnn", "rf_sa_incr", "eval"] {
        assert!(
            r.stdout
                .contains(&format!("lock: {stage}: reproduced within tolerance (")),
            "{stage}:\n{}",
            r.stdout
        );
    }
    assert!(
        r.stdout.contains("at most 1e-2) on different hardware"),
        "{}",
        r.stdout
    );
    assert_eq!(p.read(LOCK), lock);
    for line in [
        "neuron_test_corr:",
        "neuron_test_predictions:",
        "rf_cnn.neuron_corr:",
    ] {
        assert!(lock.contains(line), "{line} missing from the lock:\n{lock}");
    }

    // (a) A sign-flipped metric fails, however small the number.
    let flipped = edit(&lock, "rf_cnn", "neuron_test_corr", &[1], |c| -c);
    let stderr = fails_locked(&p, &flipped);
    assert!(
        stderr.contains("rf_cnn: not reproduced on different hardware")
            && stderr.contains("metric neuron_test_corr[1] ")
            && stderr.contains("(2.0e0 relative, beyond 1e-2)"),
        "{stderr}"
    );
    let stderr = fails_locked(&p, &edit(&lock, "rf_cnn", "mean_val_corr", &[], |c| -c));
    assert!(stderr.contains("metric mean_val_corr "), "{stderr}");

    // (b) Predictions moved by 3x the tolerance fail; by a third of it, they pass.
    let moved = |k: f64| {
        let at = [2, 5];
        edit(&lock, "rf_sa_incr", "neuron_test_predictions", &at, |x| {
            x * (1.0 + k * 1e-2)
        })
    };
    let stderr = fails_locked(&p, &moved(3.0));
    assert!(
        stderr.contains("rf_sa_incr: not reproduced on different hardware")
            && stderr.contains("metric neuron_test_predictions[2][5] "),
        "{stderr}"
    );
    p.write(LOCK, &moved(1.0 / 3.0));
    let r = p.ok(&["run", P, "--locked"]);
    assert!(
        r.stdout
            .contains("lock: rf_sa_incr: reproduced within tolerance ("),
        "{}",
        r.stdout
    );
}

#[test]
fn an_audit_of_training_on_other_kernels_ends_within_tolerance_on_other_hardware() {
    // The cache's records of the train stages were computed under other kernels; the audit
    // re-executes them under the pinned ones.
    let p = project(true);
    run_as(&p, &OTHER_KERNELS, &["run", P]);
    let r = run_as(&p, &MACHINES[0], &["audit", P]);
    for stage in ["rf_cnn", "rf_sa_incr"] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.starts_with(stage) && l.ends_with("within tolerance on other hardware")),
            "{stage}:\n{}",
            r.stdout
        );
    }
    // The curves (CSV) and predictions (NPY) were compared numerically, not as bytes.
    assert!(
        r.stdout
            .contains("rf_cnn.curves: column val_loss (largest at row "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("rf_cnn.predictions/test.npy: max |diff|"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("bytes differ"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("parameters not bit-identical (reported, not judged"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("audit passed"), "{}", r.stdout);
}
