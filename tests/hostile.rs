//! Hostile caches and remotes (issue 30), on the real binary and command stages (no libtorch):
//! records, heads and lock entries whose keys or digests are not 64 lowercase hex characters
//! (case 1: a digest naming a file outside the cache; case 2: short or non-hex ones) are
//! quarantined or refused by every command, never followed, never a panic or a hang, in the
//! local cache and from a directory remote; symlink outputs (case 5), special files as path
//! parameters (case 6) and publish targets (case 8).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Project, Run, walk};
use serde_json::{Value, json};

const P: &str = "pipelines/demo.yaml";
const PIPELINE: &str = "name: demo
stages:
  gen: { uses: gen, with: { n: 3 } }
  count_a: { uses: count, needs: [gen] }
";

/// Every command a hostile record must not crash, hang or mislead.
const COMMANDS: &[&[&str]] = &[
    &["status", P],
    &["show", P],
    &["verify"],
    &["verify", "--repair"],
    &["gc"],
    &["run", P, "--force", "gen"],
    &["run", P],
];

fn project() -> Project {
    let p = Project::new();
    p.write(P, PIPELINE);
    p.ok(&["run", P]);
    p
}

/// Runs `c`, killing it (and failing) if it takes over a minute: a hang is a failure.
fn within_a_minute(mut c: Command) -> Run {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{c:?} hung (killed after 60 s)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap().into()
}

/// The record file of `stage` under a cache or remote root.
fn record_of(root: &Path, stage: &str) -> PathBuf {
    walk(&root.join("records"))
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains(&format!("\"stage\": \"{stage}\""))
        })
        .unwrap_or_else(|| panic!("no record of {stage} under {}", root.display()))
}

fn write_json(path: &Path, v: &Value) {
    let _ = std::fs::remove_file(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// A file outside the cache that a hostile record names, and its content.
struct Victim {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Victim {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("precious.txt");
        std::fs::write(&path, "precious\n").unwrap();
        Victim { _dir: dir, path }
    }

    /// `xx/<absolute path>`: joined as a sharded name, it was the absolute path itself.
    fn digest(&self) -> String {
        format!("xx{}", self.path.display())
    }

    fn assert_untouched(&self, after: &str) {
        assert_eq!(
            std::fs::read_to_string(&self.path).ok().as_deref(),
            Some("precious\n"),
            "after {after}: the outside file was moved, removed or changed"
        );
    }
}

fn no_panic(r: &Run, what: &str) {
    assert_ne!(r.code, 101, "{what} panicked:\n{}\n{}", r.stdout, r.stderr);
    assert!(
        !r.stderr.contains("panicked"),
        "{what} panicked:\n{}",
        r.stderr
    );
}

/// Each command on a cache holding `tamper`'s hostile file (written afresh before each):
/// no panic, no hang, nothing outside touched, the hostile value named; afterwards the
/// pipeline runs and the cache verifies.
fn every_command_survives(p: &Project, victim: &Victim, tamper: &dyn Fn(), named: &str) {
    for args in COMMANDS {
        tamper();
        let r = within_a_minute(p.command(args));
        let what = format!("sapipe {}", args.join(" "));
        no_panic(&r, &what);
        victim.assert_untouched(&what);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            all.contains(named) || args[0] == "run" || args[0] == "gc",
            "{what} does not name the corrupt entry ({named}):\n{all}"
        );
    }
    p.ok(&["run", P]);
    p.ok(&["verify"]);
    victim.assert_untouched("the final run");
}

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

fn pushed_remote(victim: &Victim) -> (Project, tempfile::TempDir) {
    let p = project();
    let remote = tempfile::tempdir().unwrap();
    p.ok(&["push", P, "--remote", &remote.path().display().to_string()]);
    victim.assert_untouched("push");
    (p, remote)
}

#[test]
fn case1_case2_pull_from_a_directory_remote_refuses_hostile_records() {
    let victim = Victim::new();
    let (_a, remote) = pushed_remote(&victim);
    let r = remote.path().display().to_string();
    let record = record_of(remote.path(), "gen");
    let good: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let mut outside = good.clone();
    outside["outputs"]["text"]["digest"] = json!(victim.digest());
    let mut short_key = good.clone();
    short_key["key"] = json!("a");
    let mut short_digest = good.clone();
    short_digest["outputs"]["detail"]["digest"] = json!("b");
    for (hostile, named) in [
        (&outside, "invalid content digest"),
        (&short_key, "invalid stage key"),
        (&short_digest, "invalid content digest"),
    ] {
        write_json(&record, hostile);
        let b = Project::new();
        b.write(P, PIPELINE);
        let pull = within_a_minute(b.command(&["pull", P, "--remote", &r]));
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
        let run = within_a_minute(b.command(&["run", P, "--pull", "--remote", &r]));
        no_panic(&run, "run --pull");
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(b.executions(), ["gen"], "{}", run.stderr);
        b.ok(&["verify"]);
        victim.assert_untouched("run --pull");
    }
}

#[cfg(unix)]
#[test]
fn case5_a_symlink_output_is_refused_naming_the_output_and_its_target_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    let victim = Victim::new();
    std::fs::set_permissions(&victim.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.write(
        "stages/linker.yaml",
        &format!(
            "name: linker\nkind: command\ncommand: \"ln -s {} {{outputs.out}}\"\noutputs:\n  out: {{ type: file }}\n",
            victim.path.display()
        ),
    );
    p.write(
        "stages/dirlinker.yaml",
        &format!(
            "name: dirlinker\nkind: command\ncommand: \"mkdir -p {{outputs.out}} && ln -s {} {{outputs.out}}/x\"\noutputs:\n  out: {{ type: dir }}\n",
            victim.path.display()
        ),
    );
    for uses in ["linker", "dirlinker"] {
        p.write(
            P,
            &format!("name: demo\nstages:\n  s: {{ uses: {uses} }}\n"),
        );
        let r = p.sapipe(&["run", P]);
        no_panic(&r, uses);
        r.failed_with("output 'out' is or holds a symbolic link");
        let mode = std::fs::metadata(&victim.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o644,
            "{uses}: sapipe changed the link target's mode"
        );
        assert!(walk(&p.path("cache/records")).is_empty());
        victim.assert_untouched(uses);
    }
}

#[cfg(unix)]
#[test]
fn case6_a_fifo_or_device_as_a_path_parameter_is_refused_before_hashing() {
    let p = Project::new();
    p.write(
        "stages/reader.yaml",
        "name: reader\nkind: command\ncommand: \"cat {params.source} > {outputs.out}\"\nparams:\n  source: { type: path }\noutputs:\n  out: { type: file }\n",
    );
    let fifo = p.path("data.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir_all(p.path("folder")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(p.path("folder/inner.fifo"))
            .status()
            .unwrap()
            .success()
    );
    for (source, shown) in [
        ("data.fifo", "is a FIFO"),
        ("/dev/zero", "is a device"),
        ("folder", "is a FIFO"),
    ] {
        p.write(
            P,
            &format!(
                "name: demo\nstages:\n  s: {{ uses: reader, with: {{ source: {source} }} }}\n"
            ),
        );
        for args in [&["status", P][..], &["run", P]] {
            let r = within_a_minute(p.command(args));
            no_panic(&r, source);
            r.failed_with("parameter 'source'");
            r.failed_with(shown);
        }
    }
}

#[cfg(unix)]
#[test]
fn case8_publish_never_follows_a_symlink_nor_overwrites_the_project() {
    let p = Project::new();
    let victim = Victim::new();
    let outside = victim.path.parent().unwrap().to_owned();
    std::fs::create_dir_all(p.path("results")).unwrap();
    std::os::unix::fs::symlink(&outside, p.path("results/linked")).unwrap();
    p.write(
        P,
        "name: demo\nstages:\n  gen: { uses: gen, publish: { text: results/linked/precious.txt } }\n",
    );
    let r = p.sapipe(&["run", P]);
    no_panic(&r, "run");
    r.failed_with("results/linked is a symbolic link");
    victim.assert_untouched("publish");

    for target in [
        "stages/gen.yaml",
        "pipelines/demo.yaml",
        "sapipe.toml",
        "cache/x",
        ".",
    ] {
        p.write(
            P,
            &format!(
                "name: demo\nstages:\n  gen: {{ uses: gen, publish: {{ text: {target} }} }}\n"
            ),
        );
        let r = p.sapipe(&["status", P]);
        r.failed_with("field 'publish', output 'text'");
        assert!(p.read("stages/gen.yaml").starts_with("name: gen"));
    }
}

/// Whether process `pid` is alive (not gone, not a zombie).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split(' ').nth(2).is_some_and(|state| state != "Z"))
}

/// Waits up to 10 s for every pid in `file` (one a line) to be gone; the ones still alive.
fn survivors(p: &Project, file: &str) -> Vec<String> {
    let t0 = Instant::now();
    loop {
        let left: Vec<String> = p
            .read(file)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|pid| !pid.is_empty() && alive(pid))
            .collect();
        if left.is_empty() || t0.elapsed() > Duration::from_secs(10) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A stage whose shell and a background child both record their pids, then wait.
const SLEEPER: &str = "name: sleeper\nkind: command\ncommand: \"echo $$ >> pids; sleep 30 & echo $! >> pids; wait; touch {outputs.out}\"\nparams:\n  tag: { type: int, default: 0 }\noutputs:\n  out: { type: file }\n";

/// Starts `run` on the sleeper pipeline of `p`, waits until its stage has started, then sends
/// SIGKILL to sapipe alone.
fn kill_sapipe_mid_stage(p: &Project) {
    let mut child = p
        .command(&["run", P])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while p.read("pids").lines().count() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the stage never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Issue 30, case 4: after a SIGKILL of sapipe its stage commands (in their own process
/// groups) survived, in 61 of 130 trials.
#[cfg(unix)]
#[test]
fn case4_stage_commands_die_when_sapipe_is_killed() {
    let p = Project::new();
    p.write("stages/sleeper.yaml", SLEEPER);
    p.write(P, "name: demo\nstages:\n  a: { uses: sleeper }\n");
    for trial in 0..3 {
        let _ = std::fs::remove_file(p.path("pids"));
        kill_sapipe_mid_stage(&p);
        let left = survivors(&p, "pids");
        assert!(
            left.is_empty(),
            "trial {trial}: {left:?} outlived a killed sapipe"
        );
    }
    assert!(walk(&p.path("cache/records")).is_empty());
}

/// Issue 30, case 4: a SIGINT landing while the next stage was being spawned (0-12 ms after
/// exec) left its `sh` and children running. Signals land at delays spread over a run of
/// quick stages, so over the trials every point of a spawn is hit.
#[cfg(unix)]
#[test]
fn case4_a_signal_at_any_point_of_a_spawn_leaves_no_stage_running() {
    let p = Project::new();
    p.write("stages/sleeper.yaml", SLEEPER);
    let stages: String = (0..8)
        .map(|i| format!("  s{i}: {{ uses: sleeper, with: {{ tag: {i} }} }}\n"))
        .collect();
    p.write(P, &format!("name: demo\nstages:\n{stages}"));
    for trial in 0..40u64 {
        let _ = std::fs::remove_dir_all(p.path("cache"));
        let _ = std::fs::remove_file(p.path("pids"));
        let child = p
            .command(&["run", P, "--jobs", "4"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(500 * trial));
        // SAFETY: signals the sapipe process we spawned, by its pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let out = child.wait_with_output().unwrap();
        assert_ne!(out.status.code(), Some(101));
        let left = survivors(&p, "pids");
        assert!(left.is_empty(), "trial {trial}: {left:?} outlived SIGINT");
        assert!(walk(&p.path("cache/records")).is_empty());
    }
}

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
