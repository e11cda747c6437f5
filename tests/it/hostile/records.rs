//! Hostile records, heads, lock entries and remote records (cases 1 and 2).

use super::*;

#[test]
fn case1_a_record_digest_naming_an_outside_file_is_never_followed() {
    let p = project();
    let victim = Victim::new();
    let record = record_of(&p.path("cache"), "gen");
    let mut hostile: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    hostile["outputs"]["text"]["digest"] = json!(victim.digest());
    hostile["outputs"]["text"]["bytes"] = json!(9);
    let tamper = || write_json(&record, &hostile);

    tamper();
    let show = p.sapipe(&["show", P, "gen", "--json"]);
    no_panic(&show, "show");
    assert!(
        !show.stdout.contains(&victim.path.display().to_string()),
        "show names the outside file:\n{}",
        show.stdout
    );
    assert!(
        show.stderr.contains(&record.display().to_string())
            && show.stderr.contains("invalid content digest"),
        "{}",
        show.stderr
    );
    // The record itself was quarantined, not the file it names.
    let quarantined = walk(&p.path("cache/quarantine"));
    assert!(
        quarantined.iter().any(|q| std::fs::read_to_string(q)
            .unwrap_or_default()
            .contains("precious.txt")),
        "{quarantined:?}"
    );

    tamper();
    let verify = p.sapipe(&["verify"]);
    assert_eq!(
        verify.code, 1,
        "verify calls the cache intact:\n{}",
        verify.stdout
    );
    assert!(
        verify.stdout.contains("corrupt stage record"),
        "{}",
        verify.stdout
    );

    every_command_survives(&p, &victim, &tamper, "invalid content digest");
}

#[test]
fn case2_short_or_non_hex_keys_and_digests_panic_no_command() {
    let p = project();
    let victim = Victim::new();
    let record = record_of(&p.path("cache"), "gen");
    let good: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();

    let mut short_key = good.clone();
    short_key["key"] = json!("a");
    every_command_survives(
        &p,
        &victim,
        &|| write_json(&record, &short_key),
        "invalid stage key",
    );

    let mut short_digest = good.clone();
    short_digest["outputs"]["text"]["digest"] = json!("b");
    every_command_survives(
        &p,
        &victim,
        &|| write_json(&record, &short_digest),
        "invalid content digest",
    );

    let mut non_hex = good.clone();
    non_hex["outputs"]["detail"] = json!({"digest": "Z".repeat(64), "type": "dir", "bytes": 1});
    every_command_survives(
        &p,
        &victim,
        &|| write_json(&record, &non_hex),
        "invalid content digest",
    );

    let head = p.path("cache/heads/demo/gen.json");
    assert!(head.is_file());
    let tamper_head = || write_json(&head, &json!({"key": "a"}));
    for args in COMMANDS {
        tamper_head();
        let r = within_a_minute(p.command(args));
        no_panic(&r, &format!("{args:?} with a head {{\"key\":\"a\"}}"));
    }
    tamper_head();
    let explain = p.sapipe(&["explain", P, "gen"]);
    no_panic(&explain, "explain");
    assert!(
        explain.stderr.contains(&head.display().to_string())
            && explain.stderr.contains("invalid stage key"),
        "{}",
        explain.stderr
    );
    p.ok(&["run", P]);
    p.ok(&["verify"]);
}

#[test]
fn case2_a_lock_entry_with_a_short_key_is_an_error_naming_the_lock_file() {
    let p = project();
    let lock = p.read("pipelines/demo.lock");
    let key_line = lock
        .lines()
        .find(|l| l.trim_start().starts_with("key: "))
        .unwrap();
    p.write(
        "pipelines/demo.lock",
        &lock.replacen(key_line, "    key: a", 1),
    );
    for args in [&["status", P][..], &["run", P], &["gc"], &["audit", P]] {
        let r = within_a_minute(p.command(args));
        no_panic(&r, &format!("{args:?}"));
        r.failed_with("demo.lock");
        r.failed_with("invalid stage key \"a\"");
    }
}

/// The hostile versions of a pushed record `good` (case 1: a digest naming `victim`; case 2:
/// a key `a`, a one-character digest, a non-hex digest; case 3: another well-formed digest),
/// each with what its refusal names.
fn hostile_records(good: &Value, victim: &Victim) -> Vec<(Value, &'static str)> {
    let mut outside = good.clone();
    outside["outputs"]["text"]["digest"] = json!(victim.digest());
    let mut short_key = good.clone();
    short_key["key"] = json!("a");
    let mut short_digest = good.clone();
    short_digest["outputs"]["detail"]["digest"] = json!("b");
    let mut non_hex = good.clone();
    non_hex["outputs"]["text"]["digest"] = json!("Z".repeat(64));
    // Case 3: a well-formed digest that is not the one the record was written with.
    let mut swapped = good.clone();
    swapped["outputs"]["text"]["digest"] = json!("0".repeat(64));
    vec![
        (outside, "invalid content digest"),
        (short_key, "invalid stage key"),
        (short_digest, "invalid content digest"),
        (non_hex, "invalid content digest"),
        (swapped, "do not match its seal"),
    ]
}

/// Each hostile version of the record `good` of stage `gen`, served by the remote `remote`
/// (written there by `serve`; `env` adds what commands need to reach it): `pull` into a fresh
/// clone refuses it (exit 1, naming the stage and the fault, no panic, no hang, no record
/// stored, the outside file untouched), and `run --pull` computes that stage instead.
pub(super) fn a_remote_refuses_hostile_records(
    remote: &str,
    good: &Value,
    serve: &dyn Fn(&Value),
    env: &dyn Fn(&mut Command),
) {
    let victim = Victim::new();
    for (hostile, named) in hostile_records(good, &victim) {
        serve(&hostile);
        let b = Project::new();
        b.write(P, PIPELINE);
        let command = |args: &[&str]| {
            let mut c = b.command(args);
            env(&mut c);
            within_a_minute(c)
        };
        let pull = command(&["pull", P, "--remote", remote]);
        no_panic(&pull, "pull");
        assert_eq!(pull.code, 1, "{}\n{}", pull.stdout, pull.stderr);
        assert!(
            pull.stdout.contains("stage 'gen'") && pull.stdout.contains(named),
            "{}",
            pull.stdout
        );
        assert!(walk(&b.path("cache/records")).is_empty());
        victim.assert_untouched("pull");

        // run --pull computes that stage instead, and ends.
        let run = command(&["run", P, "--pull", "--remote", remote]);
        no_panic(&run, "run --pull");
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(b.executions(), ["gen"], "{}", run.stderr);
        b.ok(&["verify"]);
        victim.assert_untouched("run --pull");
    }
}

#[test]
fn case1_case2_pull_from_a_directory_remote_refuses_hostile_records() {
    let p = project();
    let remote = tempfile::tempdir().unwrap();
    let r = remote.path().display().to_string();
    p.ok(&["push", P, "--remote", &r]);
    let record = record_of(remote.path(), "gen");
    let good: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    a_remote_refuses_hostile_records(&r, &good, &|v| write_json(&record, v), &|_| {});
}
