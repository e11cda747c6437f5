//! The split between `sapipe` (engine, never loads libtorch) and the `sapipe-torch` worker.

use crate::common;

/// `scripts/sapipe` builds `sapipe` without the `torch` feature; this checks that such a build
/// never needs libtorch (run by the `--no-default-features` pass of `scripts/test`).
#[cfg(not(feature = "torch"))]
#[test]
fn sapipe_itself_does_not_link_libtorch() {
    let out = std::process::Command::new("ldd")
        .arg(common::bin())
        .output();
    let Ok(out) = out else {
        sapipe::testing::skip(
            "sapipe_itself_does_not_link_libtorch",
            "ldd is not available",
        );
        return;
    };
    let libs = String::from_utf8_lossy(&out.stdout);
    assert!(
        !libs.contains("libtorch"),
        "sapipe links libtorch, which costs ~0.6 s per call:\n{libs}"
    );
}

#[cfg(feature = "torch")]
#[test]
fn doctor_reports_libtorch_and_determinism_through_the_worker() {
    let p = common::Project::new();
    let r = p.ok(&["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["libtorch"].as_str().unwrap().starts_with("2.11.0"), "{v}");
    assert!(
        v["determinism"]
            .as_str()
            .unwrap()
            .contains("deterministic algorithms on"),
        "{v}"
    );
    assert_eq!(v["cublas_workspace_config"], ":4096:8");
    // Where an installed sapipe found its worker and the worker its libtorch.
    assert!(
        v["worker"].as_str().unwrap().ends_with("sapipe-torch"),
        "{v}"
    );
    let lib = std::path::Path::new(v["libtorch_dir"].as_str().unwrap());
    assert!(lib.join("libtorch_cpu.so").is_file(), "{v}");
    let text = p.ok(&["doctor"]).stdout;
    assert!(text.starts_with("sapipe:        "), "{text}");
    assert!(
        text.contains("\nworker:        ") && text.contains(" at /"),
        "{text}"
    );
}
