//! S3 remotes (issue 18) against a real S3-protocol server that the test starts on localhost:
//! moto's server mode, installed by `scripts/setup-s3-server`. Without it the tests print
//! "SKIPPED: ..." and return, unless `SAPIPE_REQUIRE_S3=1` (scripts/test sets it after
//! installing the server), where they fail instead.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::s3::{BUCKET, Server, start};
use crate::common::{Project, walk};

const P: &str = "pipelines/shared.yaml";
use crate::common::SHARED as PIPELINE;

fn clone(server: &Server) -> (Project, String) {
    let p = Project::new();
    p.write(P, PIPELINE);
    (p, server.endpoint())
}

/// `sapipe args` in `p`, with the server's credentials and endpoint.
fn s3_command(p: &Project, endpoint: &str, args: &[&str]) -> Command {
    let mut c = p.command(args);
    common::s3::credentials(&mut c, endpoint);
    c
}

fn s3(p: &Project, endpoint: &str, args: &[&str]) -> common::Run {
    s3_command(p, endpoint, args).output().unwrap().into()
}

fn ok(p: &Project, endpoint: &str, args: &[&str]) -> common::Run {
    let r = s3(p, endpoint, args);
    assert_eq!(r.code, 0, "sapipe {args:?}:\n{}\n{}", r.stdout, r.stderr);
    r
}

/// Runs `sapipe args` with the transfer hook, kills it once a transfer is held midway.
fn kill_when_held(p: &Project, endpoint: &str, args: &[&str]) {
    let hold = tempfile::tempdir().unwrap();
    let mut child = s3_command(p, endpoint, args)
        .env("SAPIPE_TEST_HOLD_TRANSFER", hold.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !hold.path().join("held").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "sapipe {args:?} never held a transfer"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn json(r: &common::Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn s3_push_pull_and_run_pull_share_results_between_clones() {
    let Some(server) = start("s3_push_pull_and_run_pull_share_results_between_clones") else {
        return;
    };
    let remote = format!("s3://{BUCKET}/lab");
    let (a, e) = clone(&server);
    ok(&a, &e, &["run", P]);
    let pushed = json(&ok(&a, &e, &["push", P, "--remote", &remote, "--json"]));
    assert_eq!(pushed["stages"].as_array().unwrap().len(), 4, "{pushed}");
    let again = json(&ok(&a, &e, &["push", P, "--remote", &remote, "--json"]));
    assert_eq!(again["objects_moved"], 0, "{again}");

    let (b, _) = clone(&server);
    let run = ok(&b, &e, &["run", P, "--pull", "--remote", &remote]);
    assert!(b.executions().is_empty(), "{}", run.stderr);
    assert_eq!(b.read("results/all.txt"), a.read("results/all.txt"));
    ok(&b, &e, &["verify"]);

    b.write(P, &PIPELINE.replace("scale: 2.0", "scale: 3.0"));
    ok(&b, &e, &["run", P, "--push", "--remote", &remote]);
    a.write(P, &PIPELINE.replace("scale: 2.0", "scale: 3.0"));
    let pulled = json(&ok(&a, &e, &["pull", P, "--remote", &remote, "--json"]));
    assert_eq!(pulled["stages"], serde_json::json!(["count_b"]), "{pulled}");
}

#[test]
fn s3_corrupt_objects_are_refused_and_a_killed_pull_is_repeated() {
    let Some(server) = start("s3_corrupt_objects_are_refused_and_a_killed_pull_is_repeated") else {
        return;
    };
    let remote = format!("s3://{BUCKET}/lab");
    let (a, e) = clone(&server);
    ok(&a, &e, &["run", P, "--push", "--remote", &remote]);

    // A pull killed midway through a download, then repeated.
    let (b, _) = clone(&server);
    kill_when_held(&b, &e, &["pull", P, "--remote", &remote]);
    assert!(walk(&b.path("cache/records")).is_empty());
    ok(&b, &e, &["verify"]);
    ok(&b, &e, &["pull", P, "--remote", &remote]);
    ok(&b, &e, &["run", P]);
    assert!(b.executions().is_empty(), "{:?}", b.executions());

    // The largest object replaced on the server by other bytes of the same size.
    let (victim, hex) = common::largest_object(&a.path("cache/objects"));
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[1000] ^= 0x55;
    let key = format!("lab/objects/{}/{}", &hex[..2], &hex[2..]);
    common::s3::put_object(&e, &key, &bytes);
    let (c, _) = clone(&server);
    let pull = s3(&c, &e, &["pull", P, "--remote", &remote]);
    assert_eq!(pull.code, 1, "{}\n{}", pull.stdout, pull.stderr);
    assert!(
        pull.stdout.contains(&format!("object {}", &hex[..12]))
            && pull.stdout.contains("stage 'gen'"),
        "{}",
        pull.stdout
    );
    assert!(walk(&c.path("cache/records")).is_empty());
    assert!(!c.objects().iter().any(|p| p.ends_with(&hex[2..])));
}

#[test]
fn two_s3_pushes_of_the_same_keys_at_once_end_consistent() {
    let Some(server) = start("two_s3_pushes_of_the_same_keys_at_once_end_consistent") else {
        return;
    };
    let remote = format!("s3://{BUCKET}/race");
    let ((a1, e), (a2, _)) = (clone(&server), clone(&server));
    ok(&a1, &e, &["run", P]);
    ok(&a2, &e, &["run", P]);
    let spawn = |p: &Project| {
        s3_command(p, &e, &["push", P, "--remote", &remote])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (c1, c2) = (spawn(&a1), spawn(&a2));
    for c in [c1, c2] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (b, _) = clone(&server);
    ok(&b, &e, &["run", P, "--pull", "--remote", &remote]);
    assert!(b.executions().is_empty(), "{:?}", b.executions());
    ok(&b, &e, &["verify"]);
}

/// Objects and records under `prefix` in the test bucket, listed through boto3.
fn listed(endpoint: &str, prefix: &str) -> Vec<String> {
    common::s3::boto3(
        endpoint,
        "[print(o['Key']) for p in c.get_paginator('list_objects_v2').paginate(\
         Bucket=sys.argv[1], Prefix=sys.argv[2]) for o in p.get('Contents', [])]",
        &[BUCKET, prefix],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn an_s3_push_killed_midway_leaves_no_record_and_a_repeat_completes_it() {
    let Some(server) = start("an_s3_push_killed_midway_leaves_no_record_and_a_repeat_completes_it")
    else {
        return;
    };
    let remote = format!("s3://{BUCKET}/killed");
    let (a, e) = clone(&server);
    ok(&a, &e, &["run", P]);
    kill_when_held(&a, &e, &["push", P, "--remote", &remote]);
    let keys = listed(&e, "killed/");
    assert!(
        keys.iter().any(|k| k.starts_with("killed/objects/")),
        "the push was not killed midway: {keys:?}"
    );
    assert!(
        !keys.iter().any(|k| k.starts_with("killed/records/")),
        "a record reached the remote before its objects: {keys:?}"
    );

    let pushed = json(&ok(&a, &e, &["push", P, "--remote", &remote, "--json"]));
    assert_eq!(pushed["stages"].as_array().unwrap().len(), 4, "{pushed}");
    let (b, _) = clone(&server);
    ok(&b, &e, &["run", P, "--pull", "--remote", &remote]);
    assert!(b.executions().is_empty(), "{:?}", b.executions());
    ok(&b, &e, &["verify"]);
    assert_eq!(b.read("results/all.txt"), a.read("results/all.txt"));
}
