//! Shared remote caches (issue 18), on directory remotes and command stages (no libtorch):
//! push and pull between clones, `run --pull/--push`, nothing remote trusted (corrupt and
//! foreign entries refused by key and object), interrupted transfers (a push and a pull
//! killed midway, then repeated) and two pushes of the same keys racing.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{Project, walk};
use sapipe::key::ContentDigest;

const P: &str = "pipelines/shared.yaml";

use crate::common::SHARED as PIPELINE;

fn clone() -> Project {
    let p = Project::new();
    p.write(P, PIPELINE);
    p
}

fn remote_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn arg(dir: &Path) -> String {
    dir.display().to_string()
}

fn json(r: &common::Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// Every entry of a remote (or cache) folder hashes to its name; temporary files aside.
/// Returns the entries checked and the temporary files seen.
fn check_consistent(root: &Path) -> (usize, Vec<PathBuf>) {
    let mut entries = 0;
    let mut temps = Vec::new();
    for folder in ["objects", "trees"] {
        for path in walk(&root.join(folder)) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                temps.push(path);
                continue;
            }
            let shard = path
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy();
            let hex = format!("{shard}{}", name.trim_end_matches(".json"));
            let actual = ContentDigest::of_file(&path).unwrap();
            assert_eq!(
                actual.hex(),
                hex,
                "{} is not what its name says",
                path.display()
            );
            entries += 1;
        }
    }
    for path in walk(&root.join("records")) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            temps.push(path);
            continue;
        }
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for (output, o) in record["outputs"].as_object().unwrap() {
            let hex = o["digest"].as_str().unwrap();
            let folder = if o["type"] == "dir" {
                "trees"
            } else {
                "objects"
            };
            let suffix = if o["type"] == "dir" { ".json" } else { "" };
            let named = root
                .join(folder)
                .join(&hex[..2])
                .join(format!("{}{suffix}", &hex[2..]));
            assert!(
                named.is_file(),
                "{}: output {output} missing",
                path.display()
            );
        }
        entries += 1;
    }
    (entries, temps)
}

fn records(root: &Path) -> Vec<PathBuf> {
    walk(&root.join("records"))
        .into_iter()
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

/// Waits until `path` exists (a watchdog, not a timing assertion: it only fails a hung test).
fn wait_for(path: &Path) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_clone_with_an_empty_cache_pulls_every_result_and_executes_nothing() {
    let remote = remote_dir();
    let a = clone();
    a.ok(&["run", P]);
    let pushed = json(&a.ok(&["push", P, "--remote", &arg(remote.path()), "--json"]));
    assert_eq!(pushed["stages"].as_array().unwrap().len(), 4, "{pushed}");
    assert!(pushed["objects_moved"].as_u64().unwrap() >= 4, "{pushed}");
    let (entries, temps) = check_consistent(remote.path());
    assert!(entries >= 8 && temps.is_empty(), "{entries} {temps:?}");

    // Only what the remote lacks: a second push moves nothing.
    let again = json(&a.ok(&["push", P, "--remote", &arg(remote.path()), "--json"]));
    assert_eq!(again["objects_moved"], 0, "{again}");
    assert_eq!(again["already"].as_array().unwrap().len(), 4, "{again}");

    let b = clone();
    let run = b.ok(&["run", P, "--pull", "--remote", &arg(remote.path())]);
    assert!(
        b.executions().is_empty(),
        "B executed {:?}\n{}",
        b.executions(),
        run.stderr
    );
    assert!(run.stdout.contains("0 ran, 4 pulled"), "{}", run.stdout);
    assert_eq!(b.read("results/all.txt"), a.read("results/all.txt"));
    assert_eq!(
        b.read("pipelines/shared.lock"),
        a.read("pipelines/shared.lock")
    );
    b.ok(&["verify"]);
    // Now local: a plain run does nothing and needs no remote.
    let plain = b.ok(&["run", P]);
    assert!(plain.stdout.contains("0 ran, 4 cached"), "{}", plain.stdout);
}

#[test]
fn after_one_clone_changes_a_parameter_and_pushes_the_other_pulls_only_the_new_records() {
    let remote = remote_dir();
    let r = arg(remote.path());
    let a = clone();
    a.ok(&["run", P, "--push", "--remote", &r]);
    let b = clone();
    b.ok(&["pull", P, "--remote", &r]);
    b.ok(&["run", P]);
    assert!(b.executions().is_empty(), "{:?}", b.executions());

    b.write(P, &PIPELINE.replace("scale: 2.0", "scale: 3.0"));
    let run = b.ok(&["run", P, "--push", "--remote", &r]);
    assert_eq!(b.executions(), ["count_b"], "{}", run.stderr);
    assert!(run.stdout.contains("pushed 1 record(s)"), "{}", run.stdout);

    a.write(P, &PIPELINE.replace("scale: 2.0", "scale: 3.0"));
    let pulled = json(&a.ok(&["pull", P, "--remote", &r, "--json"]));
    assert_eq!(pulled["stages"], serde_json::json!(["count_b"]), "{pulled}");
    assert_eq!(pulled["already"].as_array().unwrap().len(), 3, "{pulled}");
    let before = a.executions();
    let rerun = a.ok(&["run", P]);
    assert_eq!(a.executions(), before, "{}", rerun.stderr);
}

#[test]
fn a_corrupt_remote_object_is_named_by_key_and_object_never_stored_and_recomputed() {
    let remote = remote_dir();
    let r = arg(remote.path());
    let a = clone();
    a.ok(&["run", P, "--push", "--remote", &r]);
    // The largest remote object is gen's output: same size, other bytes.
    let (victim, name) = common::largest_object(&remote.path().join("objects"));
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[1000] ^= 0x55;
    let mut perms = std::fs::metadata(&victim).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&victim, perms).unwrap();
    std::fs::write(&victim, &bytes).unwrap();

    let b = clone();
    let pull = b.sapipe(&["pull", P, "--remote", &r]);
    assert_eq!(pull.code, 1, "{}\n{}", pull.stdout, pull.stderr);
    assert!(
        pull.stdout.contains(&format!("object {}", &name[..12]))
            && pull.stdout.contains("stage 'gen'")
            && pull.stdout.contains("was not stored"),
        "{}",
        pull.stdout
    );
    assert!(records(&b.path("cache")).is_empty());
    let stored: Vec<String> = b
        .objects()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        !stored.iter().any(|p| p.ends_with(&name[2..])),
        "{stored:?}"
    );

    // run --pull says so and computes the stage instead; the rest still comes from the remote.
    let run = b.ok(&["run", P, "--pull", "--remote", &r]);
    assert!(run.stderr.contains("was not stored"), "{}", run.stderr);
    assert_eq!(b.executions(), ["gen"], "{}", run.stderr);
    assert_eq!(b.read("results/all.txt"), a.read("results/all.txt"));
}

#[test]
fn a_remote_record_of_another_key_is_refused() {
    let remote = remote_dir();
    let r = arg(remote.path());
    let a = clone();
    a.ok(&["run", P, "--push", "--remote", &r]);
    let recs = records(remote.path());
    let target = recs
        .iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("\"stage\": \"gen\"")
        })
        .unwrap();
    let other = recs.iter().find(|p| *p != target).unwrap();
    std::fs::copy(other, target).unwrap();
    let b = clone();
    let pull = b.sapipe(&["pull", P, "--remote", &r]);
    assert_eq!(pull.code, 1, "{}", pull.stdout);
    assert!(
        pull.stdout.contains("its record") && pull.stdout.contains("describes key"),
        "{}",
        pull.stdout
    );
    assert!(records(&b.path("cache")).is_empty());
}

/// Starts `args` in `p` with the transfer hook, waits until it holds a transfer midway.
fn held(p: &Project, args: &[&str], hold: &Path) -> std::process::Child {
    let child = p
        .command(args)
        .env("SAPIPE_TEST_HOLD_TRANSFER", hold)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&hold.join("held"));
    child
}

#[test]
fn a_push_killed_midway_leaves_nothing_half_written_and_a_repeat_completes_it() {
    let remote = remote_dir();
    let r = arg(remote.path());
    let a = clone();
    a.ok(&["run", P]);
    let hold = tempfile::tempdir().unwrap();
    let mut child = held(&a, &["push", P, "--remote", &r], hold.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let (_, temps) = check_consistent(remote.path());
    assert!(!temps.is_empty(), "the push was not killed midway");
    assert!(
        records(remote.path()).is_empty(),
        "a record reached the remote before its objects"
    );

    a.ok(&["push", P, "--remote", &r]);
    check_consistent(remote.path());
    assert_eq!(records(remote.path()).len(), 4);
    let b = clone();
    b.ok(&["run", P, "--pull", "--remote", &r]);
    assert!(b.executions().is_empty(), "{:?}", b.executions());
}

#[test]
fn a_pull_killed_midway_leaves_nothing_half_written_and_a_repeat_completes_it() {
    let remote = remote_dir();
    let r = arg(remote.path());
    let a = clone();
    a.ok(&["run", P, "--push", "--remote", &r]);
    let b = clone();
    let hold = tempfile::tempdir().unwrap();
    let mut child = held(&b, &["pull", P, "--remote", &r], hold.path());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(records(&b.path("cache")).is_empty());
    check_consistent(&b.path("cache"));
    b.ok(&["verify"]);

    b.ok(&["pull", P, "--remote", &r]);
    assert_eq!(records(&b.path("cache")).len(), 4);
    let run = b.ok(&["run", P]);
    assert!(b.executions().is_empty(), "{}", run.stderr);
    assert_eq!(b.read("results/all.txt"), a.read("results/all.txt"));
}

#[test]
fn two_pushes_of_the_same_keys_at_once_end_with_one_consistent_copy() {
    let remote = remote_dir();
    let r = arg(remote.path());
    let (a1, a2) = (clone(), clone());
    a1.ok(&["run", P]);
    a2.ok(&["run", P]);
    // a1 holds its first object midway; a2 pushes everything meanwhile; then a1 goes on.
    let hold = tempfile::tempdir().unwrap();
    let child = held(&a1, &["push", P, "--remote", &r], hold.path());
    a2.ok(&["push", P, "--remote", &r]);
    std::fs::write(hold.path().join("release"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, temps) = check_consistent(remote.path());
    assert!(temps.is_empty(), "{temps:?}");
    assert_eq!(records(remote.path()).len(), 4);
    let b = clone();
    b.ok(&["run", P, "--pull", "--remote", &r]);
    assert!(b.executions().is_empty(), "{:?}", b.executions());
}

#[test]
fn remotes_come_from_the_project_file_and_mistakes_say_what_is_valid() {
    let (lab, archive) = (remote_dir(), remote_dir());
    let a = clone();
    a.write(
        ".sapipe/config.yaml",
        &format!(
            "remotes:\n  lab: {}\n  archive: {}\ndefault: lab\n",
            arg(lab.path()),
            arg(archive.path())
        ),
    );
    a.ok(&["run", P, "--stage", "gen"]);
    a.ok(&["push", P, "--stage", "gen"]);
    assert_eq!(records(lab.path()).len(), 1);
    a.ok(&["push", P, "--stage", "gen", "--remote", "archive"]);
    assert_eq!(records(archive.path()).len(), 1);
    // Stages without a current result are named, not silently skipped.
    let partial = a.sapipe(&["push", P, "--remote", "archive"]);
    assert_eq!(partial.code, 1);
    assert!(
        partial.stdout.contains("stage 'join': not pushed"),
        "{}",
        partial.stdout
    );

    #[cfg(not(feature = "s3"))]
    {
        let s3 = a.sapipe(&["push", P, "--remote", "s3://bucket/prefix"]);
        assert_ne!(s3.code, 0);
        assert!(
            s3.stderr.contains("built without S3 support"),
            "{}",
            s3.stderr
        );
    }
    a.write(".sapipe/config.yaml", "remotes:\n  lab: ftp://x\n");
    let bad = a.sapipe(&["pull", P]);
    assert!(
        bad.stderr.contains("remote 'lab'") && bad.stderr.contains("s3://bucket/prefix"),
        "{}",
        bad.stderr
    );
    let none = clone().sapipe(&["pull", P]);
    assert!(none.stderr.contains("no remote"), "{}", none.stderr);
}
