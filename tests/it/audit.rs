//! `sapipe audit` (issue 6): re-execution into a scratch cache, compared with the lock file.

use crate::common::{DIAMOND, Project};

const P: &str = "pipelines/demo.yaml";

#[test]
fn an_audit_of_a_deterministic_pipeline_passes() {
    let p = Project::new();
    p.write(P, DIAMOND);
    p.ok(&["run", P]);
    let before = p.executions().len();
    let r = p.ok(&["audit", P]);
    assert!(r.stdout.contains("audit passed"), "{}", r.stdout);
    for s in ["gen", "count_a", "count_b", "join"] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.starts_with(s) && l.ends_with("identical")),
            "{}",
            r.stdout
        );
    }
    assert_eq!(
        p.executions().len(),
        before + 4,
        "every stage was re-executed"
    );
    assert!(
        p.ok(&["run", P]).ran().is_empty(),
        "the audit leaves the project cache alone"
    );
}

#[test]
fn an_audit_of_a_nondeterministic_stage_fails_naming_it() {
    let p = Project::new();
    p.write(
        P,
        "name: r\nstages:\n  gen: { uses: gen }\n  noise: { uses: random }\n",
    );
    p.ok(&["run", P]);
    let r = p.sapipe(&["audit", P]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("noise") && l.ends_with("DIFFERS")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("noise.bytes: bytes differ (32 vs 32 bytes)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("gen") && l.ends_with("identical")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("audit FAILED: 1 stage(s) did not reproduce"),
        "{}",
        r.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&p.sapipe(&["audit", P, "--stage", "noise", "--json"]).stdout)
            .unwrap();
    assert_eq!(json["passed"], false);
    assert_eq!(json["stages"][0]["verdict"], "differs");
}

/// A stage writing a safetensors checkpoint whose values come from an undeclared file: the key
/// cannot see an edit of that file, the audit can.
const CHECKPOINT: &str = r#"name: ckpt
kind: command
command: "python3 scripts/ckpt.py {outputs.checkpoint}"
code: [scripts/ckpt.py]
outputs:
  checkpoint: {}
"#;

const SCRIPT: &str = r#"import json, struct, sys
scale = float(open("hidden.txt").read())
w = [1.0 * scale, 2.0, 3.0]
b = [0.5]
header = {"alpha1.conv.weight": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
          "readout.bias": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}}
h = json.dumps(header).encode()
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + struct.pack("<3f", *w) + struct.pack("<f", *b))
"#;

#[test]
fn an_audit_after_a_tensor_changes_names_the_tensor_and_the_difference() {
    let p = Project::new();
    p.write("stages/ckpt.yaml", CHECKPOINT);
    p.write("scripts/ckpt.py", SCRIPT);
    p.write("hidden.txt", "1.0");
    p.write(P, "name: c\nstages:\n  train: { uses: ckpt }\n");
    p.ok(&["run", P]);
    assert!(p.ok(&["audit", P]).stdout.contains("audit passed"));
    p.write("hidden.txt", "1.5");
    let r = p.sapipe(&["audit", P]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("train.checkpoint: tensor alpha1.conv.weight: max |diff| 5.000e-1, max relative diff 3.333e-1"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("readout.bias"),
        "only the changed tensor is named: {}",
        r.stdout
    );
    let r = p.ok(&["audit", P, "--tolerance", "0.5"]);
    assert!(r.stdout.contains("within tolerance"), "{}", r.stdout);
}

#[test]
fn an_audit_of_a_changed_pipeline_reports_it_stale() {
    let p = Project::new();
    p.write(P, DIAMOND);
    p.ok(&["run", P]);
    p.write(P, &DIAMOND.replace("with: { n: 3 }", "with: { n: 4 }"));
    let r = p.sapipe(&["audit", P, "--stage", "gen"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("the pipeline changed since the reference: parameter `n` 3 -> 4"),
        "{}",
        r.stdout
    );
}

#[test]
fn run_locked_fails_with_a_readable_diff_when_results_differ_from_the_lock_file() {
    let p = Project::new();
    p.write("stages/ckpt.yaml", CHECKPOINT);
    p.write("scripts/ckpt.py", SCRIPT);
    p.write("hidden.txt", "1.0");
    p.write(P, "name: c\nstages:\n  train: { uses: ckpt }\n");
    p.ok(&["run", P]);
    let committed = p.read("pipelines/demo.lock");
    // A fresh clone (empty cache) reproduces the committed lock file.
    std::fs::remove_dir_all(p.path("cache")).unwrap();
    p.ok(&["run", P, "--locked"]);
    // Changed numerics: same key, different output digest.
    std::fs::remove_dir_all(p.path("cache")).unwrap();
    p.write("hidden.txt", "2.0");
    let r = p.sapipe(&["run", P, "--locked"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("--locked: the results differ from the committed lock file"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("train: output checkpoint "),
        "{}",
        r.stderr
    );
    assert_eq!(
        p.read("pipelines/demo.lock"),
        committed,
        "--locked never rewrites the lock file"
    );
}
