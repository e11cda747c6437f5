//! The paper's experiments end to end (issue 5), on a miniature of `pipelines/incremental.yaml`
//! with the project's real stage definitions: every model, table and figure reaches the
//! report, a rerun executes nothing, and changing FC2's epochs reruns only what depends on it.

use crate::common::{Project, strs};

const P: &str = "pipelines/mini.yaml";

/// `pipelines/incremental.yaml` at toy sizes (same stages, same wiring).
fn miniature() -> String {
    let full = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/pipelines/incremental.yaml"
    ))
    .unwrap();
    full.replace(
        "with: { neurons: 8, train_images: 1500, validation_images: 500, test_images: 1000 }",
        "with: { neurons: 2, train_images: 60, validation_images: 20, test_images: 30, repeats: 3, image_size: 50 }",
    )
    .replace("epochs: 50,", "epochs: 1,")
    .replace("epochs: 50\n", "epochs: 1\n")
    .replace(
        "    uses: probe\n",
        "    uses: probe\n    with: { orientations: 4, phases: 2, frequencies: [6.0] }\n",
    )
    .replace("name: incremental", "name: mini")
    .replace("results/incremental", "results/mini")
}

fn project() -> Project {
    let p = Project::with_project_stages();
    let text = miniature();
    assert!(
        !["epochs: 50,", "epochs: 50\n"]
            .iter()
            .any(|e| text.contains(e))
            && text.contains("neurons: 2"),
        "the miniature must shrink the real pipeline:\n{text}"
    );
    p.write(P, &text);
    p
}

#[test]
fn miniature_incremental_pipeline_reports_every_model_table_and_figure_and_reruns_nothing() {
    let p = project();
    let first = p.ok(&["run", P]);
    let stages = [
        "data",
        "prep",
        "rf_cnn",
        "rf_sa_incr",
        "fc2_incr",
        "fc1_incr",
        "rf_sa_simul",
        "ff_sa_simul",
        "eval",
        "report",
    ];
    let mut expected: Vec<String> = strs(&stages);
    expected.sort();
    let mut ran = first.ran();
    ran.retain(|s| s != "decompose" && s != "probe");
    assert_eq!(ran, expected, "{}", first.stderr);
    let report = p.read("results/mini/report.md");
    for label in [
        "rf-CNN",
        "rf+sa-CNN* (Incr.)",
        "ff+sa-CNN* (Incr. FC2)",
        "ff+sa-CNN* (Incr. FC1)",
        "rf+sa-CNN* (Simul.)",
        "ff+sa-CNN* (Simul.)",
    ] {
        assert!(
            report.contains(label),
            "model {label} missing from the report:\n{report}"
        );
    }
    assert!(report.contains("Table 2"), "{report}");
    assert!(
        report.contains("## In-silico probe")
            && report.contains("| simulated truth (noise-free) |"),
        "the probe's table, with the truth, missing from the report:\n{report}"
    );
    for figure in [
        "fcl_map_fc2_incr",
        "centre_vs_surround_fc1_incr",
        "attention_rf_sa_incr",
    ] {
        assert!(
            report.contains(figure),
            "decomposition figure {figure} missing from the report"
        );
    }
    let figures: Vec<String> = std::fs::read_dir(p.path("results/mini"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str().map(String::from))
        .filter(|n| n.ends_with(".png"))
        .collect();
    assert!(!figures.is_empty());
    for f in &figures {
        assert!(
            report.contains(f.as_str()),
            "figure {f} not referenced in report.md"
        );
    }
    let second = p.ok(&["run", P]);
    assert!(
        second.ran().is_empty(),
        "a rerun executes nothing: {}",
        second.stderr
    );

    // Changing only FC2's epochs reruns FC2 and what reads its outputs, nothing upstream.
    let fc2 = |epochs: u32| {
        format!(
            "      epochs: {epochs}\n      patience: 6\n      batch_size: 8\n      lr: 0.003\n      readout_bias: mean\n      refit_bias: train\n      label: \"ff+sa-CNN* (Incr. FC2)\""
        )
    };
    let text = p.read(P).replacen(&fc2(1), &fc2(2), 1);
    assert_ne!(text, p.read(P));
    p.write(P, &text);
    let third = p.ok(&["run", P]);
    let mut expected = vec!["eval".to_string(), "fc2_incr".into(), "report".into()];
    for optional in ["decompose", "probe"] {
        if stages_of(&p).contains(&optional.to_string()) {
            expected.push(optional.into());
        }
    }
    expected.sort();
    assert_eq!(third.ran(), expected, "{}", third.stderr);
}

fn stages_of(p: &Project) -> Vec<String> {
    p.ok(&["dag", P])
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}
