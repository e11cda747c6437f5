//! Comparing results (issue 17, items 5 and 6): `sapipe diff` against a lock file at a git
//! revision and between two lock files, `show --metrics`, and `sapipe results`, one row per
//! evaluated model and neuron with stale records marked.

use std::process::Command;

use crate::common::{Project, raw_npy};
use serde_json::Value;

const P: &str = "pipelines/fits.yaml";

/// A tiny simulated dataset, two stand-ins for train stages (command stages writing fixed
/// predictions, so no libtorch) and an evaluation: seconds on 2 cores.
const FITS: &str = r#"name: fits
seed: 5
stages:
  data:
    uses: synthetic-v1
    with: { neurons: 3, train_images: 30, validation_images: 10, test_images: 10, repeats: 2, image_size: 32 }
  prep: { uses: preprocess, needs: [data] }
  m1: { uses: fake-train, needs: [prep], with: { model: rf-cnn, label: "rf CNN", epochs: 2 } }
  m2: { uses: fake-train, needs: [prep], with: { model: ff-cnn, epochs: 3 } }
  eval: { uses: evaluate, needs: [prep, m1, m2] }
"#;

const FAKE_TRAIN: &str = r#"name: fake-train
kind: command
description: Writes fixed predictions (a stand-in for train in tests).
command: >-
  mkdir -p {outputs.predictions} && cp fixtures/test.npy fixtures/val.npy {outputs.predictions}/ &&
  printf '{"model":"%s","label":"%s"}' {params.model} {params.label} > {outputs.predictions}/info.json &&
  echo {params.epochs} | tee {outputs.checkpoint} > {outputs.predictions}/epochs.txt
params:
  model: { type: string }
  label: { type: string, default: "" }
  epochs: { type: int, default: 1 }
  seed: { type: int }
inputs:
  prepared: {}
outputs:
  predictions: { type: dir }
  checkpoint: { type: file }
"#;

fn fits() -> Project {
    let p = Project::with_project_stages();
    p.write("stages/fake-train.yaml", FAKE_TRAIN);
    p.write(P, FITS);
    let values: Vec<u8> = (0..30)
        .flat_map(|i| ((i * 7 % 11) as f32 / 10.0).to_le_bytes())
        .collect();
    for name in ["test", "val"] {
        let bytes = raw_npy("<f4", "(10, 3)", &values);
        std::fs::create_dir_all(p.path("fixtures")).unwrap();
        std::fs::write(p.path(&format!("fixtures/{name}.npy")), bytes).unwrap();
    }
    p
}

fn git(p: &Project, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(p.root())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The change of `name` among `kind` ("params" or "metrics") of `stage` in a `diff --json`.
fn change<'a>(d: &'a Value, stage: &str, kind: &str, name: &str) -> &'a Value {
    let s = d["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .unwrap_or_else(|| panic!("no stage {stage} in {d}"));
    s[kind]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} of {stage} in {d}"))
}

#[test]
fn diff_against_the_lock_file_at_a_git_revision_and_between_lock_files() {
    let p = fits();
    p.ok(&["run", P]);
    git(&p, &["init", "-q"]);
    git(&p, &["add", "pipelines"]);
    git(&p, &["commit", "-q", "-m", "first fits"]);
    let same = p.ok(&["diff", P]);
    assert!(
        same.stdout
            .contains("no differences in parameters or metrics"),
        "{}",
        same.stdout
    );

    p.write(P, &FITS.replace("neurons: 3,", "neurons: 4,"));
    let pending = p.ok(&["diff", P, "--rev", "HEAD"]);
    assert!(
        pending
            .stdout
            .contains("data: current results: not up to date"),
        "{}",
        pending.stdout
    );
    let changed = FITS
        .replace("epochs: 2", "epochs: 4")
        .replace("train_images: 30", "train_images: 40");
    p.write(P, &changed);
    p.ok(&["run", P]);
    let d = p.ok(&["diff", P, "--rev", "HEAD"]).stdout;
    assert!(
        d.starts_with("pipelines/fits.lock at HEAD -> current results\n"),
        "{d}"
    );
    let row = d.lines().find(|l| l.starts_with("m1 ")).unwrap_or_default();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, ["m1", "param", "epochs", "2", "4", "+2"], "{d}");
    assert!(!d.contains("\nm2 "), "m2 did not change:\n{d}");

    let j = json(&p.ok(&["diff", P, "--rev", "HEAD", "--json"]).stdout);
    let epochs = change(&j, "m1", "params", "epochs");
    assert_eq!((&epochs["old"], &epochs["new"]), (&2.into(), &4.into()));
    assert_eq!(epochs["delta"], 2.0);
    let images = change(&j, "data", "metrics", "train_images");
    assert_eq!(
        (&images["old"], &images["delta"]),
        (&30.into(), &10.0.into())
    );

    // Two lock files: the committed one, taken out of git, against the new one.
    let old = Command::new("git")
        .args(["show", "HEAD:pipelines/fits.lock"])
        .current_dir(p.root())
        .output()
        .unwrap();
    p.write("old.lock", &String::from_utf8(old.stdout).unwrap());
    let j = json(
        &p.ok(&["diff", "old.lock", "pipelines/fits.lock", "--json"])
            .stdout,
    );
    assert_eq!(change(&j, "m1", "params", "epochs")["delta"], 2.0);
    assert_eq!(j["old"], "old.lock");

    p.sapipe(&["diff", P, "--rev", "no-such-rev"])
        .failed_with("--rev no-such-rev: not a revision of the git repository");
    p.write(
        "pipelines/other.yaml",
        "name: other\nstages:\n  g: { uses: gen }\n",
    );
    p.sapipe(&["diff", "pipelines/other.yaml"])
        .failed_with("other.lock is not in revision HEAD");
    p.sapipe(&["diff", "old.lock", "missing.lock"])
        .failed_with("missing.lock: no such lock file");
    p.sapipe(&["diff", "old.lock", "pipelines/fits.lock", "--rev", "HEAD"])
        .failed_with("give one PIPELINE with --rev");
}

#[test]
fn diff_outside_a_git_repository_says_so() {
    let p = fits();
    p.write(P, "name: fits\nstages:\n  g: { uses: gen }\n");
    p.sapipe(&["diff", P])
        .failed_with("--rev needs git and a repository");
}

#[test]
fn results_export_one_row_per_model_and_neuron_with_stale_records_marked() {
    let p = fits();
    p.ok(&["run", P]);
    let metrics = p.ok(&["show", P, "--metrics"]).stdout;
    assert!(metrics.contains("m1.corr"), "{metrics}");
    assert!(metrics.lines().any(|l| l.starts_with("data ")), "{metrics}");

    let csv = p.ok(&["results", P]).stdout;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 3, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    for column in [
        "pipeline", "stage", "stale", "model", "label", "neuron", "corr", "ptj",
    ] {
        assert!(header.contains(&column), "{column}: {csv}");
    }
    for column in ["pts", "feve", "seed", "dataset", "train_key", "checkpoint"] {
        assert!(header.contains(&column), "{column}: {csv}");
    }
    assert!(header.contains(&"param.epochs"), "{csv}");
    assert!(lines[1].starts_with("fits,eval,"), "{csv}");
    assert!(lines.iter().skip(1).all(|l| l.contains(",false,")), "{csv}");
    assert!(csv.contains(",m1,rf-cnn,rf CNN,0,"), "{csv}");

    // m1 refitted with more epochs: the old evaluation stays in the cache, marked stale.
    p.write(P, &FITS.replace("epochs: 2", "epochs: 4"));
    p.ok(&["run", P]);
    let rows = json(&p.ok(&["results", "--format", "json"]).stdout);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2 * 2 * 3, "{rows:?}");
    let m1 = |stale: bool| {
        let r: Vec<&Value> = rows
            .iter()
            .filter(|r| r["stale"] == stale && r["model_stage"] == "m1")
            .collect();
        assert_eq!(r.len(), 3, "{rows:?}");
        r[0].clone()
    };
    let (current, stale) = (m1(false), m1(true));
    assert_eq!(current["params"]["epochs"], 4);
    assert_eq!(stale["params"]["epochs"], 2);
    assert_eq!(current["seed"], 5);
    assert_ne!(current["train_key"], stale["train_key"]);
    assert_eq!(current["dataset"], stale["dataset"]);
    assert!(current["checkpoint"].is_string(), "{current}");
}
