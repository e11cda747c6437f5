//! Hostile caches and remotes (issue 30), on the real binary and command stages (no libtorch):
//! records, heads and lock entries whose keys or digests are not 64 lowercase hex characters
//! (case 1: a digest naming a file outside the cache; case 2: short or non-hex ones) are
//! quarantined or refused by every command, never followed, never a panic or a hang, in the
//! local cache and from a directory or an S3 remote; objects holding other bytes and records
//! naming other objects (case 3); symlink outputs (case 5), special files as path parameters
//! (case 6) and publish targets (case 8).
//!
//! The shared harness is here; the cases by concern: `records` (1, 2: records, heads, lock
//! entries, a directory remote), `s3` (the same records from an S3 remote), `identity` (3),
//! `files` (5, 6, 8: what outputs, path parameters and publish targets may be), `processes`
//! (4: no stage outlives sapipe), `bounds` (10, 11: limits and leftovers).

mod bounds;
mod files;
mod identity;
mod processes;
mod records;
#[cfg(feature = "s3")]
mod s3;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Project, Run, walk};
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
