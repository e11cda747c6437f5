//! Integration tests of the engine (issue 2): the real `sapipe` binary on tiny pipelines of
//! command stages.

use crate::common;

use crate::common::{DIAMOND, Project, strs};

const P: &str = "pipelines/demo.yaml";

fn diamond() -> Project {
    let p = Project::new();
    p.write(P, DIAMOND);
    p
}

#[test]
fn first_run_executes_every_stage_and_second_run_none() {
    let p = diamond();
    let first = p.ok(&["run", P]);
    assert_eq!(first.ran(), strs(&["count_a", "count_b", "gen", "join"]));
    assert!(first.stdout.contains("4 ran, 0 cached"), "{}", first.stdout);
    let second = p.ok(&["run", P]);
    assert!(second.ran().is_empty(), "{}", second.stderr);
    assert!(second.stdout.contains("0 ran, 4 cached"));
    assert_eq!(p.executions(), strs(&["count_a", "count_b", "gen", "join"]));
    assert_eq!(p.read("cache/../executions.log").lines().count(), 4);
}

#[test]
fn changing_one_parameter_reruns_that_stage_and_its_dependants_only() {
    let p = diamond();
    p.ok(&["run", P]);
    p.write(
        P,
        &DIAMOND.replace("with: { scale: 2.0 }", "with: { scale: 3.0 }"),
    );
    let r = p.ok(&["run", P]);
    // count_b's output bytes do not depend on scale, so join is cut off early.
    assert_eq!(r.ran(), strs(&["count_b"]));
    p.write(P, &DIAMOND.replace("with: { n: 3 }", "with: { n: 5 }"));
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["count_a", "count_b", "gen", "join"]));
}

#[test]
fn upstream_rerun_with_identical_bytes_reruns_nothing_downstream() {
    let p = diamond();
    p.ok(&["run", P]);
    p.write(
        P,
        &DIAMOND.replace("with: { n: 3 }", "with: { n: 3, comment: rerun me }"),
    );
    let status = p.ok(&["status", P]);
    assert!(
        status
            .stdout
            .contains("gen      will run: parameter `comment` \"\" -> \"rerun me\""),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("count_a  may run: upstream gen will run first"),
        "{}",
        status.stdout
    );
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["gen"]));
    assert!(r.stdout.contains("1 ran, 3 cached"));
}

#[test]
fn an_explicit_default_gives_the_same_key_as_an_omitted_one() {
    let p = diamond();
    p.ok(&["run", P]);
    let lock_before = p.read("pipelines/demo.lock");
    p.write(
        P,
        &DIAMOND.replace(
            "count_a: { uses: count, needs: [gen] }",
            "count_a: { uses: count, needs: [gen], with: { scale: 1 } }",
        ),
    );
    let status = p.ok(&["status", P]);
    assert!(
        status.stdout.contains("0 of 4 stages will run; 0 may run"),
        "{}",
        status.stdout
    );
    assert!(p.ok(&["run", P]).ran().is_empty());
    assert_eq!(p.read("pipelines/demo.lock"), lock_before);
}

#[test]
fn status_and_explain_name_the_changed_component_with_old_and_new_values() {
    let p = diamond();
    p.ok(&["run", P]);
    p.write(
        P,
        &DIAMOND.replace("with: { scale: 2.0 }", "with: { scale: 2.5 }"),
    );
    let status = p.ok(&["status", P]);
    assert!(
        status
            .stdout
            .contains("count_b  will run: parameter `scale` 2.0 -> 2.5"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("gen      up to date"),
        "{}",
        status.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&p.ok(&["status", P, "--json"]).stdout).unwrap();
    let b = json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "count_b")
        .unwrap();
    assert_eq!(b["state"], "will_run");
    assert_eq!(b["reasons"][0]["reason"], "param");
    assert_eq!(b["reasons"][0]["old"], 2.0);
    assert_eq!(b["reasons"][0]["new"], 2.5);
    assert!(
        b.get("slurm").is_none(),
        "a local run has no Slurm jobs: {b}"
    );
    let explain = p.ok(&["explain", P, "count_b"]);
    assert!(
        explain.stdout.contains("param   scale = 2.5"),
        "{}",
        explain.stdout
    );
    assert!(
        explain
            .stdout
            .contains("changed:\n  parameter `scale` 2.0 -> 2.5"),
        "{}",
        explain.stdout
    );
    // A changed command file content is named too.
    p.write(
        "stages/gen.yaml",
        &p.read("stages/gen.yaml").replace("seq 1", "seq 1 1"),
    );
    let explain = p.ok(&["explain", P, "gen"]);
    assert!(
        explain
            .stdout
            .contains("command `echo $SAPIPE_STAGE >> executions.log; seq 1 {params.n}"),
        "{}",
        explain.stdout
    );
}

#[test]
fn code_files_of_command_stages_enter_the_key() {
    let p = Project::new();
    p.write("scripts/make.sh", "echo one > \"$1\"\n");
    p.write("stages/script.yaml", "name: script\nkind: command\ncommand: \"sh scripts/make.sh {outputs.out}\"\ncode: [scripts/make.sh]\noutputs:\n  out: {}\n");
    p.write(P, "name: s\nstages:\n  s: { uses: script }\n");
    p.ok(&["run", P]);
    assert!(p.ok(&["run", P]).ran().is_empty());
    p.write("scripts/make.sh", "echo two > \"$1\"\n");
    let st = p.ok(&["status", P]);
    assert!(
        st.stdout
            .contains("will run: code file scripts/make.sh content changed"),
        "{}",
        st.stdout
    );
    assert_eq!(p.ok(&["run", P]).ran(), strs(&["s"]));
}

#[test]
fn a_failed_stage_is_never_recorded_and_keep_going_runs_independent_branches() {
    let p = Project::new();
    let pipe = "name: f
stages:
  gen: { uses: gen }
  bad: { uses: fail, needs: [gen] }
  after: { uses: count, needs: [bad], inputs: { text: bad.text } }
  other: { uses: count, needs: [gen] }
";
    p.write(P, pipe);
    let r = p.sapipe(&["run", P, "--jobs", "1"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("error: stage 'bad' failed: the command failed (exit status 3)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("about to fail"),
        "the log tail is shown: {}",
        r.stdout
    );
    let r = p.sapipe(&["run", P, "--keep-going"]);
    assert_eq!(r.code, 1);
    assert!(r.ran().contains(&"other".to_string()), "{}", r.stderr);
    assert!(
        r.stderr.contains("skipped  after (upstream 'bad' failed)"),
        "{}",
        r.stderr
    );
    let st = p.ok(&["status", P]);
    assert!(
        st.stdout.contains("bad    will run: no record"),
        "{}",
        st.stdout
    );
    let lock = p.read("pipelines/demo.lock");
    assert!(
        lock.contains("gen:") && lock.contains("other:") && !lock.contains("bad:"),
        "{lock}"
    );
}

#[test]
fn sigkill_during_a_stage_leaves_a_consistent_cache_and_the_rerun_skips_completed_stages() {
    let p = Project::new();
    p.write(P, "name: k\nstages:\n  gen: { uses: gen }\n  slow: { uses: slow, needs: [gen], with: { seconds: 30 } }\n");
    let mut child = p
        .command(&["run", P])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = p.path("started.slow");
    let t0 = std::time::Instant::now();
    while !started.exists() {
        assert!(t0.elapsed().as_secs() < 30, "the slow stage never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let verify = p.ok(&["verify"]);
    assert!(
        verify.stdout.contains("the cache is intact"),
        "{}",
        verify.stdout
    );
    let st = p.ok(&["status", P]);
    assert!(st.stdout.contains("gen   up to date"), "{}", st.stdout);
    assert!(
        st.stdout.contains("slow  will run: no record"),
        "{}",
        st.stdout
    );
    p.write(P, "name: k\nstages:\n  gen: { uses: gen }\n  slow: { uses: slow, needs: [gen], with: { seconds: 0 } }\n");
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["slow"]));
}

#[test]
fn two_concurrent_runs_on_one_cache_finish_correctly_and_compute_each_key_once() {
    // Start both runs, then wait for both.
    let p2 = Project::new();
    p2.write(P, "name: c\nstages:\n  gen: { uses: gen }\n  slow: { uses: slow, needs: [gen], with: { seconds: 1.5 } }\n  count: { uses: count, needs: [slow], inputs: { text: slow.text } }\n");
    let c1 = p2
        .command(&["run", P])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let c2 = p2
        .command(&["run", P])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let r1: common::Run = c1.wait_with_output().unwrap().into();
    let r2: common::Run = c2.wait_with_output().unwrap().into();
    assert_eq!((r1.code, r2.code), (0, 0), "{}\n{}", r1.stderr, r2.stderr);
    assert_eq!(
        p2.executions(),
        strs(&["count", "gen", "slow"]),
        "each key is computed once"
    );
    assert!(p2.ok(&["verify"]).stdout.contains("the cache is intact"));
    assert!(p2.ok(&["run", P]).ran().is_empty());
}

#[test]
fn verify_detects_a_flipped_byte_and_repair_makes_the_stage_rerun() {
    let p = diamond();
    p.ok(&["run", P]);
    let objects = p.objects();
    let victim = objects
        .iter()
        .find(|o| std::fs::read(o).unwrap().starts_with(b"1\n2\n3"))
        .unwrap();
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[0] ^= 0x01;
    let mut perms = std::fs::metadata(victim).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(victim, perms).unwrap();
    std::fs::write(victim, bytes).unwrap();
    let v = p.sapipe(&["verify"]);
    assert_eq!(v.code, 1);
    assert!(
        v.stdout.contains(&format!(
            "{}: content does not match its digest",
            victim.display()
        )),
        "{}",
        v.stdout
    );
    assert!(v.stdout.contains("record of stage 'gen'"), "{}", v.stdout);
    p.ok(&["verify", "--repair"]);
    assert!(p.ok(&["verify"]).stdout.contains("the cache is intact"));
    assert!(p.ok(&["run", P]).ran().contains(&"gen".to_string()));
}

#[test]
fn gc_dry_run_lists_exactly_the_unreachable_entries() {
    let p = diamond();
    p.ok(&["run", P]);
    let first_objects = p.objects();
    p.write(P, &DIAMOND.replace("with: { n: 3 }", "with: { n: 4 }"));
    p.ok(&["run", P]);
    let all = p.objects();
    let dry = p.ok(&["gc", "--dry-run", "--keep-recent", "0s"]);
    let listed: Vec<&str> = dry
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("would remove "))
        .filter(|l| l.starts_with('/'))
        .collect();
    let listed_objects: Vec<String> = listed
        .iter()
        .filter(|l| l.contains("/objects/"))
        .map(|s| s.to_string())
        .collect();
    // Unreachable blobs: those of the first run that the second run did not reproduce.
    let second_reach: Vec<_> = all.iter().filter(|o| !first_objects.contains(o)).collect();
    let mut expected: Vec<String> = first_objects
        .iter()
        .filter(|o| {
            let content = std::fs::read(o).unwrap();
            // The outputs common to both runs (counts of different inputs differ; copies differ)
            !second_reach
                .iter()
                .any(|s| std::fs::read(s).unwrap() == content)
        })
        .map(|o| std::fs::canonicalize(o).unwrap().display().to_string())
        .collect();
    expected.sort();
    let mut listed_objects = listed_objects;
    listed_objects.sort();
    assert!(!expected.is_empty());
    assert_eq!(listed_objects, expected);
    assert!(
        listed.iter().any(|l| l.contains("/records/")),
        "old records are listed"
    );
    assert_eq!(p.objects(), all, "a dry run removes nothing");
    let real = p.ok(&["gc", "--keep-recent", "0s"]);
    assert!(
        real.stdout
            .contains(&format!("removed {} entries", listed.len())),
        "{}",
        real.stdout
    );
    assert!(p.ok(&["verify"]).stdout.contains("the cache is intact"));
    assert!(
        p.ok(&["run", P]).ran().is_empty(),
        "gc keeps what the lock file reaches"
    );
}

#[test]
fn many_inputs_and_directory_outputs_reach_downstream_stages() {
    let p = diamond();
    p.ok(&["run", P]);
    let show = p.ok(&["show", P, "join"]);
    let path = show
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("output  all: "))
        .unwrap()
        .to_string();
    assert_eq!(std::fs::read_to_string(path).unwrap(), "3\n3\n");
    let show = p.ok(&["show", P, "count_a", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let detail = v[0]["files"]["detail"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("{detail}/sub/copy.txt")).unwrap(),
        "1\n2\n3\n"
    );
    // `show --json` also names the files a stage's inputs were bound to (a notebook finds a
    // checkpoint's prepared dataset the same way), upstream by upstream for `many` inputs.
    let join: serde_json::Value =
        serde_json::from_str(&p.ok(&["show", P, "join", "--json"]).stdout).unwrap();
    let bound = join[0]["inputs"].as_object().unwrap();
    let all: Vec<&serde_json::Value> = bound.values().flat_map(|v| v.as_array().unwrap()).collect();
    assert_eq!(all.len(), 2, "{join}");
    let counted: serde_json::Value =
        serde_json::from_str(&p.ok(&["show", P, "count_a", "--json"]).stdout).unwrap();
    let from_gen = &counted[0]["inputs"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()[0];
    assert_eq!(from_gen["stage"], "gen");
    let upstream: serde_json::Value =
        serde_json::from_str(&p.ok(&["show", P, "gen", "--json"]).stdout).unwrap();
    assert_eq!(
        from_gen["path"],
        upstream[0]["files"][from_gen["output"].as_str().unwrap()]
    );
    for input in all {
        assert!(
            std::path::Path::new(input["path"].as_str().unwrap()).exists(),
            "{input}"
        );
    }
}

#[test]
fn publish_copies_outputs_into_the_project() {
    let p = Project::new();
    p.write(P, "name: pub\nstages:\n  gen: { uses: gen }\n  count: { uses: count, needs: [gen], publish: { detail: results/pub/detail, count: results/pub/count.txt } }\n");
    p.ok(&["run", P]);
    assert_eq!(p.read("results/pub/count.txt"), "3\n");
    assert_eq!(p.read("results/pub/detail/sub/copy.txt"), "1\n2\n3\n");
}

#[test]
fn stage_selection_runs_targets_and_their_dependencies_only() {
    let p = diamond();
    let r = p.ok(&["run", P, "--stage", "count_a"]);
    assert_eq!(r.ran(), strs(&["count_a", "gen"]));
    let r = p.ok(&["run", P, "--force", "gen"]);
    assert_eq!(r.ran(), strs(&["count_b", "gen", "join"]));
}

#[test]
fn dag_renders_text_dot_and_mermaid() {
    let p = diamond();
    let text = p.ok(&["dag", P]).stdout;
    assert!(text.contains("join  [join]  <- count_a, count_b"), "{text}");
    let dot = p.ok(&["dag", P, "--format", "dot"]).stdout;
    assert!(dot.contains("\"gen\" -> \"count_a\";"), "{dot}");
    let mermaid = p.ok(&["dag", P, "--format", "mermaid"]).stdout;
    assert!(mermaid.contains("s_count_b --> s_join"), "{mermaid}");
}

#[test]
fn lock_file_diff_after_a_parameter_change_touches_only_the_affected_stages() {
    let p = diamond();
    p.ok(&["run", P]);
    let before = p.read("pipelines/demo.lock");
    p.write(
        P,
        &DIAMOND.replace("with: { scale: 2.0 }", "with: { scale: 4.0 }"),
    );
    p.ok(&["run", P]);
    let after = p.read("pipelines/demo.lock");
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(before.lines().count(), after.lines().count());
    assert_eq!(
        changed.len(),
        1,
        "only count_b's key line changes: {changed:?}"
    );
    let block_of = |text: &str, line: &str| {
        let idx = text.lines().position(|l| l == line).unwrap();
        text.lines()
            .take(idx)
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(block_of(&after, changed[0].1), "  count_b:");
}
