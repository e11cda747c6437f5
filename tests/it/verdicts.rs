//! Verdicts that cannot be fooled (issue 27): `sapipe compare` on CSV files and on two models of
//! a run, with the issue's examples given the right verdicts, errors that name file, line and
//! column, and `sapipe bench verdicts` printing its calibration table.

use crate::common::{Project, raw_npy};
use serde_json::Value;

/// A `neuron,value` file of `values` on neurons 0, 1, ...
fn csv(values: &[f64]) -> String {
    let mut out = String::from("neuron,value\n");
    for (i, v) in values.iter().enumerate() {
        out += &format!("{i},{v}\n");
    }
    out
}

/// Writes left.csv = base + d and right.csv = base.
fn pair(p: &Project, d: &[f64]) {
    let base: Vec<f64> = (0..d.len()).map(|i| 0.4 + 0.013 * i as f64).collect();
    let left: Vec<f64> = base.iter().zip(d).map(|(b, x)| b + x).collect();
    p.write("left.csv", &csv(&left));
    p.write("right.csv", &csv(&base));
}

fn verdict_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("verdict"))
        .unwrap_or_else(|| panic!("no verdict in:\n{stdout}"))
}

#[test]
fn issue_27_mixed_large_differences_are_not_equivalent() {
    let p = Project::bare();
    pair(&p, &[-0.30, -0.25, 0.15, -0.20, 0.20]);
    let out = p
        .ok(&["compare", "left.csv", "right.csv", "--claim", "eq"])
        .stdout;
    let v = verdict_line(&out);
    assert!(
        v.starts_with("verdict     inconclusive: equivalence within ±0.020 not shown"),
        "{out}"
    );
    assert!(out.contains("margin ±0.02, alpha 0.05"), "{out}");
}

#[test]
fn issue_27_five_neurons_with_wilcoxon_p_0_13_are_not_better() {
    let p = Project::bare();
    pair(&p, &[0.05, 0.04, 0.03, 0.06, -0.01]);
    let out = p.ok(&["compare", "left.csv", "right.csv"]).stdout;
    assert!(
        verdict_line(&out).starts_with("verdict     inconclusive: not shown"),
        "{out}"
    );
    assert!(
        out.contains("wilcoxon    p = 0.0625 (one-sided, left > right)"),
        "{out}"
    );
    assert!(out.contains("neurons     5 used of 5\n"), "{out}");
    // Its two-sided p is the issue's 0.13; at alpha 0.15 the one-sided 0.0625 decides.
    let loose = p
        .ok(&["compare", "left.csv", "right.csv", "--alpha", "0.15"])
        .stdout;
    assert!(
        verdict_line(&loose).starts_with("verdict     holds"),
        "{loose}"
    );
}

#[test]
fn seeds_are_averaged_per_neuron_and_left_out_neurons_are_counted() {
    let p = Project::bare();
    let mut left = String::from("neuron,seed,value\n");
    let mut right = String::from("neuron,seed,value\n");
    for n in 0..12 {
        for s in 1..=3 {
            let base = 0.4 + 0.01 * f64::from(n) + 0.005 * f64::from(s);
            left += &format!("n{n},{s},{}\n", base + 0.1 + 0.003 * f64::from(n % 4));
            right += &format!("n{n},{s},{base}\n");
        }
    }
    left += "n12,1,NA\n";
    right += "n12,1,0.5\n";
    p.write("left.csv", &left);
    p.write("right.csv", &right);
    let out = p.ok(&["compare", "left.csv", "right.csv"]).stdout;
    assert!(
        verdict_line(&out).starts_with("verdict     holds: shown"),
        "{out}"
    );
    assert!(out.contains("3 seeds per neuron, averaged"), "{out}");
    assert!(
        out.contains("neurons     12 used of 13; left out: 1 undefined in left.csv"),
        "{out}"
    );

    let j: Value =
        serde_json::from_str(&p.ok(&["compare", "left.csv", "right.csv", "--json"]).stdout)
            .unwrap();
    let d = &j["decision"];
    assert_eq!(d["outcome"]["verdict"], "holds", "{j}");
    assert_eq!(
        (d["used"].as_u64(), d["left"]["undefined"].as_u64()),
        (Some(12), Some(1))
    );
    assert!(d["interval"]["lo"].as_f64().unwrap() > 0.09, "{j}");
    assert_eq!(j["left"]["from"], "csv");

    let far = p
        .ok(&["compare", "left.csv", "right.csv", "--claim", "gg"])
        .stdout;
    assert!(
        verdict_line(&far).starts_with("verdict     does not hold"),
        "{far}"
    );
    assert!(far.contains("Fieller interval"), "{far}");
}

#[test]
fn bad_files_are_named_with_line_and_column() {
    let p = Project::bare();
    p.write("right.csv", &csv(&[0.1, 0.2, 0.3, 0.4, 0.5]));
    p.write("bad.csv", "neuron,value\n0,0.1\n1,high\n");
    p.sapipe(&["compare", "bad.csv", "right.csv"])
        .failed_with("bad.csv: line 3, column 2 (value): `high` is not a finite number");
    p.write("bad.csv", "id,score\n0,1\n");
    p.sapipe(&["compare", "right.csv", "bad.csv"]).failed_with(
        "bad.csv: line 1: header `id,score`: expected `neuron,value` or `neuron,seed,value`",
    );
    p.sapipe(&["compare", "missing.csv", "right.csv"])
        .failed_with("missing.csv: No such file");
    p.sapipe(&["compare", "right.csv", "right.csv", "--alpha", "0.7"])
        .failed_with("alpha must be above 0 and below 0.5, found 0.7");
}

/// Two stand-ins for train stages writing fixed predictions (no libtorch) and an evaluation.
const FITS: &str = r#"name: fits
seed: 5
stages:
  data:
    uses: synthetic-v1
    with: { neurons: 6, train_images: 30, validation_images: 10, test_images: 20, repeats: 2, image_size: 32 }
  prep: { uses: preprocess, needs: [data] }
  m1: { uses: fake-train, needs: [prep], with: { model: rf-cnn, label: "rf CNN", file: a } }
  m2: { uses: fake-train, needs: [prep], with: { model: ff-cnn, file: b } }
  eval: { uses: evaluate, needs: [prep, m1, m2] }
"#;

const FAKE_TRAIN: &str = r#"name: fake-train
kind: command
description: Writes fixed predictions (a stand-in for train in tests).
command: >-
  mkdir -p {outputs.predictions} && cp fixtures/{params.file}.npy {outputs.predictions}/test.npy &&
  cp fixtures/{params.file}.npy {outputs.predictions}/val.npy &&
  printf '{"model":"%s","label":"%s"}' {params.model} {params.label} > {outputs.predictions}/info.json &&
  echo done > {outputs.checkpoint}
params:
  model: { type: string }
  label: { type: string, default: "" }
  file: { type: string }
  seed: { type: int }
inputs:
  prepared: {}
outputs:
  predictions: { type: dir }
  checkpoint: { type: file }
"#;

#[test]
fn two_models_of_a_run_compare_by_stage_or_label() {
    let p = Project::with_project_stages();
    p.write("stages/fake-train.yaml", FAKE_TRAIN);
    p.write("pipelines/fits.yaml", FITS);
    for (name, k) in [("a", 7), ("b", 5)] {
        let values: Vec<u8> = (0..120)
            .flat_map(|i| ((i * k % 11) as f32 / 10.0).to_le_bytes())
            .collect();
        std::fs::create_dir_all(p.path("fixtures")).unwrap();
        std::fs::write(
            p.path(&format!("fixtures/{name}.npy")),
            raw_npy("<f4", "(20, 6)", &values),
        )
        .unwrap();
    }
    p.ok(&["run", "pipelines/fits.yaml"]);
    let out = p
        .ok(&["compare", "rf CNN", "m2", "--metric", "corr"])
        .stdout;
    assert!(out.starts_with("left        rf CNN: mean "), "{out}");
    assert!(out.contains("neurons     6 used of 6"), "{out}");
    assert!(
        out.contains("claim       rf CNN > m2 in CORR, alpha 0.05"),
        "{out}"
    );
    verdict_line(&out);
    // A model is equivalent to itself.
    let same = p
        .ok(&[
            "compare",
            "m1",
            "m1",
            "--claim",
            "eq",
            "--pipeline",
            "pipelines/fits.yaml",
        ])
        .stdout;
    assert!(
        verdict_line(&same).starts_with("verdict     holds"),
        "{same}"
    );
    let j: Value = serde_json::from_str(&p.ok(&["compare", "m1", "m2", "--json"]).stdout).unwrap();
    assert_eq!(j["left"]["from"], "fits/eval", "{j}");
    assert_eq!(j["left"]["stages"][0], "m1", "{j}");
    p.sapipe(&["compare", "m3", "m2"])
        .failed_with("no current evaluation has a model `m3`");
}

#[test]
fn bench_verdicts_prints_false_claim_rates_and_power() {
    let p = Project::bare();
    let out = p.ok(&["bench", "verdicts", "--repeats", "20"]).stdout;
    for row in ["CLAIM", "FALSE CLAIMS", "POWER", "Monte-Carlo s.e."] {
        assert!(out.contains(row), "{row}: {out}");
    }
    assert_eq!(
        out.lines().filter(|l| l.starts_with(">> ")).count(),
        6,
        "{out}"
    );
}
