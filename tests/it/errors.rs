//! Every user error of spec/pipeline.md §3 that the engine handles: a clear message naming the
//! file (and line for YAML), the stage and the field, the nearest valid name for typos, the
//! stages of a cycle; a non-zero exit; nothing in the cache.

use crate::common;

use crate::common::{DIAMOND, Project};

const P: &str = "pipelines/demo.yaml";

/// Runs `sapipe run` on the pipeline text and returns (exit code, stderr).
fn fails(p: &Project, pipeline: &str) -> (i32, String) {
    p.write(P, pipeline);
    let r = p.sapipe(&["run", P]);
    assert_ne!(
        r.code, 0,
        "expected a failure, got:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(
        common::walk(&p.path("cache/records")).is_empty(),
        "nothing may be recorded"
    );
    (r.code, r.stderr)
}

#[test]
fn yaml_syntax_errors_give_file_line_and_column() {
    let p = Project::new();
    let (code, err) = fails(&p, "name: demo\nstages:\n  gen: { uses: gen\n  other: 1\n");
    assert_eq!(code, 2);
    assert!(err.starts_with("error: pipelines/demo.yaml:4:"), "{err}");
}

#[test]
fn unknown_fields_are_rejected_with_the_nearest_name() {
    let p = Project::new();
    let (_, err) = fails(&p, "name: demo\nstages:\n  gen: { uses: gen, neds: [] }\n");
    assert!(
        err.contains(
            "pipelines/demo.yaml:3: stage 'gen': unknown field 'neds' (did you mean 'needs'?)"
        ),
        "{err}"
    );
    let (_, err) = fails(&p, "name: demo\nseeed: 3\nstages:\n  gen: { uses: gen }\n");
    assert!(
        err.contains("pipelines/demo.yaml:2:1: unknown field `seeed`"),
        "{err}"
    );
}

#[test]
fn unknown_stage_definitions_and_kinds_suggest_the_closest() {
    let p = Project::new();
    let (_, err) = fails(&p, "name: demo\nstages:\n  g: { uses: gne }\n");
    assert!(
        err.contains("pipelines/demo.yaml:3: stage 'g', field 'uses': no stage definition 'gne'"),
        "{err}"
    );
    assert!(err.contains("(did you mean 'gen'?)"), "{err}");
    p.write(
        "stages/odd.yaml",
        "name: odd\nkind: comand\noutputs:\n  x: {}\n",
    );
    let (_, err) = fails(&p, "name: demo\nstages:\n  o: { uses: odd }\n");
    assert!(
        err.contains(
            "stages/odd.yaml:2: field 'kind': unknown stage kind 'comand' (did you mean 'command'?)"
        ),
        "{err}"
    );
}

#[test]
fn unknown_parameters_name_the_stage_line_and_nearest_parameter() {
    let p = Project::new();
    let (code, err) = fails(
        &p,
        "name: demo\nstages:\n  gen:\n    uses: gen\n    with:\n      m: 3\n",
    );
    assert_eq!(code, 2);
    assert!(err.contains("pipelines/demo.yaml:6: stage 'gen', parameter 'm': 'gen' declares no parameter 'm' (did you mean 'n'?)"), "{err}");
}

#[test]
fn parameters_of_the_wrong_type_or_range_are_explained() {
    let p = Project::new();
    let (_, err) = fails(
        &p,
        "name: demo\nstages:\n  gen: { uses: gen, with: { n: three } }\n",
    );
    assert!(err.contains("pipelines/demo.yaml:3: stage 'gen', parameter 'n': expected an integer, found the string \"three\""), "{err}");
    let (_, err) = fails(
        &p,
        "name: demo\nstages:\n  gen: { uses: gen, with: { n: -2 } }\n",
    );
    assert!(
        err.contains("parameter 'n': -2 is below the minimum 0"),
        "{err}"
    );
}

#[test]
fn cycles_name_their_stages() {
    let p = Project::new();
    let (_, err) = fails(
        &p,
        "name: demo\nstages:\n  gen: { uses: gen }\n  a: { uses: count, needs: [c], inputs: { text: c.text } }\n  b: { uses: slow, needs: [a], inputs: { text: gen.text } }\n  c: { uses: slow, needs: [b], inputs: { text: gen.text } }\n",
    );
    assert!(
        err.contains("pipelines/demo.yaml:4: the stages form a cycle: a -> b -> c -> a"),
        "{err}"
    );
}

#[test]
fn references_to_missing_stages_and_outputs_are_named() {
    let p = Project::new();
    let (_, err) = fails(
        &p,
        "name: demo\nstages:\n  gen: { uses: gen }\n  c: { uses: count, needs: [gne] }\n",
    );
    assert!(
        err.contains("stage 'c', field 'needs': no stage named 'gne' (did you mean 'gen'?)"),
        "{err}"
    );
    let (_, err) = fails(
        &p,
        "name: demo\nstages:\n  gen: { uses: gen }\n  c: { uses: count, inputs: { text: gen.txt } }\n",
    );
    assert!(
        err.contains(
            "stage 'c', input 'text': stage 'gen' has no output 'txt' (did you mean 'text'?)"
        ),
        "{err}"
    );
    let (_, err) = fails(
        &p,
        "name: demo\nstages:\n  gen: { uses: gen }\n  c: { uses: count }\n",
    );
    assert!(
        err.contains(
            "stage 'c', input 'text': not bound: no stage in 'needs' has an output named 'text'"
        ),
        "{err}"
    );
}

#[test]
fn missing_input_files_are_named() {
    let p = Project::new();
    p.write("stages/read.yaml", "name: read\nkind: command\ncommand: \"cp {params.file} {outputs.copy}\"\nparams:\n  file: { type: path }\noutputs:\n  copy: {}\n");
    let (_, err) = fails(
        &p,
        "name: demo\nstages:\n  r: { uses: read, with: { file: data/missing.npy } }\n",
    );
    assert!(
        err.contains(
            "pipelines/demo.yaml:3: stage 'r', parameter 'file': 'data/missing.npy' does not exist"
        ),
        "{err}"
    );
    // An existing file's content enters the key: editing it reruns the stage.
    p.write("data/in.txt", "one\n");
    p.write(
        P,
        "name: demo\nstages:\n  r: { uses: read, with: { file: data/in.txt } }\n",
    );
    p.ok(&["run", P]);
    p.write("data/in.txt", "two\n");
    let st = p.ok(&["status", P]);
    assert!(
        st.stdout
            .contains("r  will run: parameter `file` {\"digest\""),
        "{}",
        st.stdout
    );
}

#[test]
fn undeclared_placeholders_in_commands_are_rejected() {
    let p = Project::new();
    p.write("stages/typo.yaml", "name: typo\nkind: command\ncommand: \"echo {params.nn} > {outputs.out}\"\nparams:\n  n: { type: int, default: 1 }\noutputs:\n  out: {}\n");
    let (_, err) = fails(&p, "name: demo\nstages:\n  t: { uses: typo }\n");
    assert!(err.contains("stages/typo.yaml:3: field 'command': the command uses {params.nn}, but no such param is declared (did you mean 'n'?)"), "{err}");
}

#[test]
fn a_stage_that_does_not_write_its_output_fails_and_is_not_recorded() {
    let p = Project::new();
    p.write(
        "stages/lazy.yaml",
        "name: lazy\nkind: command\ncommand: \"true\"\noutputs:\n  out: {}\n",
    );
    p.write(P, "name: demo\nstages:\n  l: { uses: lazy }\n");
    let r = p.sapipe(&["run", P]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("stage 'l' failed: it did not produce its output 'out' (expected a file at"),
        "{}",
        r.stdout
    );
    assert!(common::walk(&p.path("cache/records")).is_empty());
}

#[test]
fn requesting_cuda_where_there_is_none_is_a_clear_error() {
    let p = Project::new();
    if sapipe_has_cuda(&p) {
        sapipe::testing::skip(
            "requesting_cuda_where_there_is_none_is_a_clear_error",
            "CUDA is available here",
        );
        return;
    }
    let (code, err) = fails(&p, &DIAMOND.replace("seed: 7", "seed: 7\ndevice: cuda"));
    assert_eq!(code, 1);
    assert!(
        err.contains("device: cuda, but CUDA is not available here"),
        "{err}"
    );
}

fn sapipe_has_cuda(p: &Project) -> bool {
    p.sapipe(&["doctor"])
        .stdout
        .contains("CUDA:          available")
}

#[test]
fn unknown_stages_on_the_command_line_suggest_the_nearest() {
    let p = Project::new();
    p.write(P, DIAMOND);
    let r = p.sapipe(&["explain", P, "count-a"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no stage named 'count-a' (did you mean 'count_a'?)"),
        "{}",
        r.stderr
    );
}
