//! Bounds (case 10): huge matrices, deep YAML, long names, `--set` values as data; leftovers of killed runs (case 11).

use super::processes::{SLEEPER, kill_sapipe_mid_stage};
use super::*;

/// Issue 30, case 10: a matrix of 10^6 stages took over 60 s and 5 GB in `status` (10^12
/// aborted out of memory), 200 KB of nested brackets took 44 s to reject, and a 300-character
/// stage name passed `status` and failed in `run`: each is refused at load, at once, with the
/// limit.
#[test]
fn case10_huge_matrices_deep_yaml_and_long_names_are_refused_at_load() {
    let p = Project::new();
    let values = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let refused = |text: &str, said: &[&str]| {
        p.write(P, text);
        let t0 = Instant::now();
        let r = within_a_minute(p.command(&["status", P]));
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "took {:?}",
            t0.elapsed()
        );
        for s in said {
            r.failed_with(s);
        }
    };
    refused(
        &format!(
            "name: demo\nstages:\n  g:\n    uses: gen\n    matrix: {{ a: [{}], b: [{}] }}\n    with: {{ n: \"${{a}}\", comment: \"${{b}}\" }}\n",
            values(1000),
            values(1000)
        ),
        &["1000000 stages", "at most 100000"],
    );
    refused(
        &format!(
            "name: demo\nstages:\n  g:\n    uses: gen\n    matrix: {{ a: [{0}], b: [{0}], c: [{0}], d: [{0}], e: [{0}], f: [{0}], h: [{0}] }}\n",
            values(1000)
        ),
        &["more than 10^19 stages"],
    );
    refused(
        &format!(
            "name: demo\nstages: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        &["nested more than 64 levels"],
    );
    refused(
        &format!(
            "name: demo\nstages:\n  {}: {{ uses: gen }}\n",
            "s".repeat(300)
        ),
        &["300 characters", "at most 200"],
    );
    p.write(
        P,
        "name: demo\nstages:\n  g:\n    uses: gen\n    name: \"g_${a}\"\n    matrix: { a: [x] }\n",
    );
    p.ok(&["status", P]);
}

/// Issue 30, case 10: placeholders inside a `--set` value (`"{outputs.out} x"`) were
/// substituted.
#[test]
fn case10_a_set_value_is_data_never_substituted_again() {
    let p = Project::new();
    p.write(
        "stages/say.yaml",
        "name: say\nkind: command\ncommand: \"printf '%s' {params.text} > {outputs.out}\"\nparams:\n  text: { type: string, default: hi }\noutputs:\n  out: { type: file }\n",
    );
    p.write(
        P,
        "name: demo\nstages:\n  s: { uses: say, publish: { out: results/out.txt } }\n",
    );
    p.ok(&["run", P, "--set", "s.text='{outputs.out} x'"]);
    assert_eq!(p.read("results/out.txt"), "{outputs.out} x");
}

/// Issue 30, case 11: `tmp/` entries of killed runs stayed until `gc`.
#[cfg(unix)]
#[test]
fn case11_a_run_removes_the_scratch_folders_of_killed_runs() {
    let p = Project::new();
    p.write("stages/sleeper.yaml", SLEEPER);
    p.write(P, "name: demo\nstages:\n  a: { uses: sleeper }\n");
    kill_sapipe_mid_stage(&p);
    let left = std::fs::read_dir(p.path("cache/tmp")).unwrap().count();
    assert!(left > 0, "the killed run left no scratch folder to clean");
    p.write(P, "name: demo\nstages:\n  g: { uses: gen }\n");
    p.ok(&["run", P]);
    let after: Vec<_> = std::fs::read_dir(p.path("cache/tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(after.is_empty(), "{after:?}");
}
