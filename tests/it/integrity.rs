//! Fault injection on the cache (issue 12): damaged, truncated and deleted objects, corrupt
//! record files and stages that write to their inputs. Each ends with every output correct and
//! `verify` clean; no single bad file stops a command.

use crate::common;

use std::path::{Path, PathBuf};

use crate::common::{DIAMOND, Project, strs};

const P: &str = "pipelines/demo.yaml";

fn diamond() -> Project {
    let p = Project::new();
    p.write(P, DIAMOND);
    p
}

/// The stored object whose content starts with `prefix`.
pub(crate) fn object_starting(p: &Project, prefix: &[u8]) -> PathBuf {
    p.objects()
        .into_iter()
        .find(|o| std::fs::read(o).unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no object starts with {prefix:?}"))
}

/// Rewrites a (read-only) cache file.
pub(crate) fn overwrite(path: &Path, bytes: &[u8]) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn flip_first_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    overwrite(path, &bytes);
}

fn assert_intact(p: &Project) {
    let v = p.sapipe(&["verify"]);
    assert!(
        v.code == 0 && v.stdout.contains("the cache is intact"),
        "{}\n{}",
        v.stdout,
        v.stderr
    );
}

const GEN_TEXT: &[u8] = b"1\n2\n3\n";

#[test]
fn a_damaged_input_is_quarantined_and_its_producer_reruns_before_the_consumer() {
    let p = diamond();
    p.ok(&["run", P]);
    let victim = object_starting(&p, GEN_TEXT);
    flip_first_byte(&victim);
    let r = p.ok(&["run", P, "--force", "count_a"]);
    // count_b's `detail` shares the blob (a copy of its input): when its record is checked
    // after the quarantine, it reruns too.
    let ran = r.ran();
    assert!(
        ran == strs(&["count_a", "gen"]) || ran == strs(&["count_a", "count_b", "gen"]),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("is damaged in the cache"), "{}", r.stderr);
    assert_eq!(std::fs::read(&victim).unwrap(), GEN_TEXT, "healed in place");
    assert_eq!(
        common::walk(&p.path("cache/quarantine")).len(),
        1,
        "the damaged copy is kept aside"
    );
    assert_intact(&p);
    p.ok(&["gc"]);
    assert!(
        common::walk(&p.path("cache/quarantine")).is_empty(),
        "gc removes it"
    );
}

#[test]
fn a_truncated_output_is_not_up_to_date_and_run_recomputes_it() {
    let p = diamond();
    p.ok(&["run", P]);
    let victim = object_starting(&p, GEN_TEXT);
    overwrite(&victim, b"1\n");
    let status = p.ok(&["status", P]);
    assert!(
        status.stdout.contains("its stored output is damaged"),
        "{}",
        status.stdout
    );
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["gen"]), "{}", r.stderr);
    assert_eq!(std::fs::read(&victim).unwrap(), GEN_TEXT);
    assert_intact(&p);
}

#[test]
fn a_deleted_object_is_recomputed_not_reported_cached() {
    let p = diamond();
    p.ok(&["run", P]);
    let victim = object_starting(&p, b"3\n");
    std::fs::remove_file(&victim).unwrap();
    let show = p.ok(&["show", P]);
    assert!(
        show.stdout
            .contains("output  count: missing from the cache (`sapipe run` recomputes it)"),
        "{}",
        show.stdout
    );
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["count_a", "count_b"]), "{}", r.stderr);
    assert!(victim.is_file());
    assert_intact(&p);
}

#[test]
fn force_replaces_a_stored_object_whose_content_does_not_match_its_name() {
    let p = diamond();
    p.ok(&["run", P]);
    let victim = object_starting(&p, GEN_TEXT);
    flip_first_byte(&victim);
    p.ok(&["run", P, "--force", "gen"]);
    assert_eq!(std::fs::read(&victim).unwrap(), GEN_TEXT);
    assert_intact(&p);
}

#[test]
fn a_published_output_is_checked_before_it_leaves_the_cache() {
    let p = Project::new();
    p.write(
        P,
        "name: pub\nstages:\n  gen: { uses: gen, publish: { text: results/gen.txt } }\n",
    );
    p.ok(&["run", P]);
    flip_first_byte(&object_starting(&p, GEN_TEXT));
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["gen"]), "{}", r.stderr);
    assert_eq!(p.read("results/gen.txt").as_bytes(), GEN_TEXT);
    assert_intact(&p);
}

#[test]
fn verify_repair_invalidates_exactly_the_records_derived_from_a_damaged_object() {
    let p = Project::new();
    p.write(
        P,
        "name: two\nstages:\n  gen: { uses: gen }\n  count: { uses: count, needs: [gen] }\n  \
         join: { uses: join, needs: [count], inputs: { counts: [count.count] } }\n  \
         other: { uses: gen, with: { n: 5 } }\n  count_other: { uses: count, needs: [other], inputs: { text: other.text } }\n",
    );
    p.ok(&["run", P]);
    flip_first_byte(&object_starting(&p, GEN_TEXT));
    let v = p.sapipe(&["verify"]);
    assert_eq!(v.code, 1);
    assert!(
        v.stdout.contains("record of stage 'join' (",)
            && v.stdout
                .contains("): computed from damaged data (input 'counts')"),
        "{}",
        v.stdout
    );
    assert!(!v.stdout.contains("'other'"), "{}", v.stdout);
    assert!(!v.stdout.contains("'count_other'"), "{}", v.stdout);
    p.ok(&["verify", "--repair"]);
    assert_intact(&p);
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["count", "gen", "join"]), "{}", r.stderr);
    assert_eq!(
        std::fs::read(object_starting(&p, GEN_TEXT)).unwrap(),
        GEN_TEXT
    );
    assert_intact(&p);
}

fn record_files(p: &Project) -> Vec<PathBuf> {
    common::walk(&p.path("cache/records"))
}

#[test]
fn a_corrupt_record_file_is_reported_quarantined_and_stops_no_command() {
    let cases: [(&str, &[u8]); 3] = [
        ("empty", b""),
        ("truncated", b"{\"key\": \"ab"),
        ("garbage", b"\x00\xffnot json at all"),
    ];
    let commands: [&[&str]; 5] = [
        &["status", P],
        &["show", P],
        &["verify"],
        &["verify", "--repair"],
        &["run", P],
    ];
    for (what, bytes) in cases {
        for args in commands {
            let p = diamond();
            p.ok(&["run", P]);
            let victim = record_files(&p).into_iter().next().unwrap();
            std::fs::write(&victim, bytes).unwrap();
            let r = p.sapipe(args);
            let out = format!("{}{}", r.stdout, r.stderr);
            let expected = if args == ["verify"] { 1 } else { 0 };
            assert_eq!(r.code, expected, "{what} record, {args:?}:\n{out}");
            assert!(
                out.contains(&victim.display().to_string()),
                "{what} record, {args:?} names it:\n{out}"
            );
            assert!(out.contains("corrupt stage record"), "{out}");
            p.ok(&["run", P]);
            assert_intact(&p);
            assert!(p.ok(&["run", P]).ran().is_empty());
        }
    }
}

const TAMPER: &str = r#"name: tamper
kind: command
command: "chmod u+w {inputs.text}; echo extra >> {inputs.text}; cat {inputs.text} > {outputs.text}"
inputs:
  text: {}
outputs:
  text: { type: file }
"#;

#[test]
fn a_stage_that_writes_to_its_input_fails_naming_it_and_nothing_wrong_is_recorded() {
    let p = Project::new();
    p.write("stages/tamper.yaml", TAMPER);
    p.write(
        P,
        "name: t\nstages:\n  gen: { uses: gen }\n  tamper: { uses: tamper, needs: [gen] }\n",
    );
    let r = p.sapipe(&["run", P]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("input 'text' (output of stage 'gen') was modified while the stage ran"),
        "{}",
        r.stderr
    );
    // Without the tampering stage, gen reruns (its object was quarantined) and the sibling
    // reads correct bytes.
    p.write(
        P,
        "name: t\nstages:\n  gen: { uses: gen }\n  count: { uses: count, needs: [gen] }\n",
    );
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["count", "gen"]), "{}", r.stderr);
    assert_eq!(
        std::fs::read(object_starting(&p, GEN_TEXT)).unwrap(),
        GEN_TEXT
    );
    assert!(
        p.objects()
            .iter()
            .any(|o| std::fs::read(o).unwrap() == b"3\n")
    );
    assert_intact(&p);
}

#[test]
fn the_fault_injection_script_passes_on_a_small_project() {
    let p = diamond();
    p.ok(&["run", P]);
    let script = format!("{}/scripts/fault-inject", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(script)
        .arg(P)
        .current_dir(p.root())
        .env("SAPIPE", common::bin())
        .env_remove("SAPIPE_CACHE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("0 failure(s)"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_intact(&p);
}

#[test]
fn a_stage_that_adds_a_file_to_an_input_folder_fails_and_the_next_reader_sees_the_folder_as_stored()
{
    let p = Project::new();
    p.write(
        "stages/litter.yaml",
        "name: litter\nkind: command\ncommand: \"touch {inputs.detail}/extra; ls -R {inputs.detail} > {outputs.list}\"\ninputs:\n  detail: {}\noutputs:\n  list: { type: file }\n",
    );
    p.write(
        P,
        "name: t\nstages:\n  gen: { uses: gen }\n  count: { uses: count, needs: [gen] }\n  litter: { uses: litter, needs: [count] }\n",
    );
    let r = p.sapipe(&["run", P]);
    assert_eq!(r.code, 1, "{}\n{}", r.stderr, r.stdout);
    assert!(
        r.stderr.contains(
            "input 'detail' (output of stage 'count') was modified while the stage ran: files \
             were added to or replaced in"
        ),
        "{}",
        r.stderr
    );
    // A well-behaved reader of the same folder sees exactly what count stored; count's blobs
    // were intact, so it does not rerun.
    p.write(
        "stages/litter.yaml",
        "name: litter\nkind: command\ncommand: \"ls -R {inputs.detail} > {outputs.list}\"\ninputs:\n  detail: {}\noutputs:\n  list: { type: file }\n",
    );
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["litter"]), "{}", r.stderr);
    let listings: Vec<String> = p
        .objects()
        .iter()
        .map(|o| String::from_utf8_lossy(&std::fs::read(o).unwrap()).into_owned())
        .filter(|text| text.contains("copy.txt"))
        .collect();
    assert_eq!(listings.len(), 1, "{listings:?}");
    assert!(!listings[0].contains("extra"), "{}", listings[0]);
    assert_intact(&p);
}
