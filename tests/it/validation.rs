//! Names that become paths, publish targets and parameter values are checked when a pipeline
//! is loaded (issue 12): one located error, exit 2, nothing written anywhere.

use crate::common;

use crate::common::{Project, raw_npy};

const P: &str = "pipelines/demo.yaml";

/// `sapipe status` on the pipeline text: (exit code, stderr).
fn status(p: &Project, pipeline: &str) -> (i32, String) {
    p.write(P, pipeline);
    let r = p.sapipe(&["status", P]);
    (r.code, r.stderr)
}

fn rejected(p: &Project, pipeline: &str, expected: &[&str]) {
    let (code, err) = status(p, pipeline);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: pipelines/demo.yaml"), "{err}");
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(
        common::walk(&p.path("cache/heads")).is_empty(),
        "nothing may be written"
    );
}

#[test]
fn pipeline_names_are_identifiers() {
    let p = Project::new();
    for name in ["../../evil", "\"\"", "a/b"] {
        rejected(
            &p,
            &format!("name: {name}\nstages:\n  gen: {{ uses: gen }}\n"),
            &[":1: field 'name': ", "is not a valid pipeline name"],
        );
    }
    assert!(!p.path("../evil").exists() && !p.path("../../evil").exists());
}

#[test]
fn uses_resolves_only_inside_stages() {
    let p = Project::new();
    p.write(
        "elsewhere/def.yaml",
        "name: def\nkind: command\ncommand: \"true\"\noutputs:\n  x: { type: file }\n",
    );
    rejected(
        &p,
        "name: demo\nstages:\n  gen: { uses: ../elsewhere/def }\n",
        &[":3: stage 'gen', field 'uses': '../elsewhere/def' is not a definition name"],
    );
}

#[test]
fn output_names_of_definitions_are_identifiers() {
    let p = Project::new();
    p.write(
        "stages/bad.yaml",
        "name: bad\nkind: command\ncommand: \"true\"\noutputs:\n  \"../x\": { type: file }\n",
    );
    let (code, err) = status(&p, "name: demo\nstages:\n  b: { uses: bad }\n");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("stages/bad.yaml:5: field 'outputs': '../x' is not a valid output name"),
        "{err}"
    );
}

#[test]
fn publish_targets_stay_inside_the_project_and_get_ordinary_permissions() {
    let p = Project::new();
    for target in [
        "/tmp/sapipe-evil.txt",
        "../out.txt",
        "results/../../out.txt",
        "\"\"",
    ] {
        rejected(
            &p,
            &format!(
                "name: demo\nstages:\n  gen: {{ uses: gen, publish: {{ text: {target} }} }}\n"
            ),
            &[
                ":3: stage 'gen', field 'publish', output 'text'",
                "is not inside the project",
            ],
        );
    }
    p.write(
        P,
        "name: demo\nstages:\n  gen: { uses: gen, publish: { text: results/gen.txt } }\n",
    );
    p.ok(&["run", P]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p.path("results/gen.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o222, 0o200, "owner-writable only: {mode:o}");
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let p = Project::new();
    p.write(P, "\u{feff}name: demo\nstages:\n  gen: { uses: gen }\n");
    p.ok(&["run", P]);
}

#[test]
fn non_finite_numbers_are_named_as_such() {
    let p = Project::new();
    for v in [".nan", ".inf", "-.inf"] {
        rejected(
            &p,
            &format!(
                "name: demo\nstages:\n  gen: {{ uses: gen }}\n  c: {{ uses: count, needs: [gen], with: {{ scale: {v} }} }}\n"
            ),
            &["stage 'c', parameter 'scale'", "is not a finite number"],
        );
    }
}

#[test]
fn min_and_max_apply_only_to_numbers() {
    let p = Project::new();
    p.write(
        "stages/strmin.yaml",
        "name: strmin\nkind: command\ncommand: \"true > {outputs.x}\"\nparams:\n  s: { type: string, default: a, min: 1 }\noutputs:\n  x: { type: file }\n",
    );
    let (code, err) = status(&p, "name: demo\nstages:\n  s: { uses: strmin }\n");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("min and max only apply to int and float parameters, not a string"),
        "{err}"
    );
}

/// The built-in definitions of this repository, with their documented bounds.
fn with_builtin(p: &Project, name: &str) {
    let text =
        std::fs::read_to_string(format!("{}/stages/{name}.yaml", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    p.write(&format!("stages/{name}.yaml"), &text);
}

#[test]
fn builtin_sizes_are_bounded_and_an_inherited_negative_seed_fails_at_load() {
    let p = Project::new();
    with_builtin(&p, "synthetic-v1");
    for neurons in ["9223372036854775807", "1000000000", "0"] {
        rejected(
            &p,
            &format!(
                "name: demo\nstages:\n  data: {{ uses: synthetic-v1, with: {{ neurons: {neurons} }} }}\n"
            ),
            &["stage 'data', parameter 'neurons'"],
        );
    }
    rejected(
        &p,
        "name: demo\nseed: -1\nstages:\n  data: { uses: synthetic-v1 }\n",
        &[":2: field 'seed' (inherited by stage 'data'): -1 is below the minimum 0"],
    );
}

#[test]
fn array_headers_are_checked_against_the_file_size_before_allocating() {
    let p = Project::new();
    with_builtin(&p, "import");
    let responses: Vec<u8> = (0..8).flat_map(|_| 1.0f32.to_le_bytes()).collect();
    std::fs::create_dir_all(p.path("data")).unwrap();
    std::fs::write(
        p.path("data/responses.npy"),
        raw_npy("<f4", "(4, 2)", &responses),
    )
    .unwrap();
    p.write(
        P,
        "name: demo\nstages:\n  raw: { uses: import, with: { source: data } }\n",
    );
    for (shape, says) in [
        ("(4, 4611686018427387904, 4)", "does not fit in 64 bits"),
        ("(4, 1048576, 4)", "but the file holds only"),
    ] {
        std::fs::write(p.path("data/images.npy"), raw_npy("|u1", shape, &[0; 16])).unwrap();
        let r = p.sapipe(&["run", P]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains("images.npy"), "{}", r.stderr);
        assert!(r.stderr.contains(says), "{}", r.stderr);
        assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
    }
}

#[test]
fn a_parameter_declared_twice_is_an_error_with_its_line() {
    let p = Project::new();
    p.write(
        "stages/dup.yaml",
        "name: dup\nkind: command\ncommand: \"echo {params.n} > {outputs.x}\"\nparams:\n  n: { type: int, default: 1 }\n  n: { type: string, default: a }\noutputs:\n  x: { type: file }\n",
    );
    let (code, err) = status(&p, "name: demo\nstages:\n  a: { uses: dup }\n");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("stages/dup.yaml:5:3: params: duplicate entry with key \"n\""),
        "{err}"
    );
}

#[test]
fn an_os_error_is_said_once() {
    let p = Project::new();
    p.write("blocker", "a file where publish needs a folder\n");
    p.write(
        P,
        "name: demo\nstages:\n  gen: { uses: gen, publish: { text: blocker/x.txt } }\n",
    );
    let r = p.sapipe(&["run", P]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot publish output 'text'"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("(os error").count(), 1, "{}", r.stderr);
}
