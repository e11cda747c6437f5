//! A throwaway sapipe project in a temp directory, and helpers to run the real binary on it.

#![allow(dead_code)]

pub mod s3;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stages the run executed (from its progress lines), sorted.
    pub fn ran(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .stderr
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("ran "))
            .map(|l| l.trim().split(' ').next().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    }
}

impl Run {
    /// Asserts that the command failed and said `text` on stderr.
    pub fn failed_with(&self, text: &str) {
        assert_ne!(self.code, 0, "expected a failure:\n{}", self.stdout);
        assert!(
            self.stderr.contains(text),
            "expected {text:?} in:\n{}",
            self.stderr
        );
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sapipe")
}

/// Stage definitions shared by the tests: all `command` stages using only POSIX tools.
const DEFINITIONS: &[(&str, &str)] = &[
    (
        "gen",
        r#"name: gen
kind: command
description: Writes n numbered lines.
command: "echo $SAPIPE_STAGE >> executions.log; seq 1 {params.n} > {outputs.text}"
params:
  n: { type: int, default: 3, min: 0 }
  comment: { type: string, default: "", doc: "does not change the output" }
outputs:
  text: { type: file }
"#,
    ),
    (
        "count",
        r#"name: count
kind: command
command: "echo $SAPIPE_STAGE >> executions.log; wc -l < {inputs.text} | tr -d ' ' > {outputs.count}; mkdir -p {outputs.detail}/sub; cp {inputs.text} {outputs.detail}/sub/copy.txt"
params:
  scale: { type: float, default: 1.0 }
inputs:
  text: {}
outputs:
  count: { type: file }
  detail: { type: dir }
"#,
    ),
    (
        "join",
        r#"name: join
kind: command
command: "echo $SAPIPE_STAGE >> executions.log; cat {inputs.counts} > {outputs.all}"
inputs:
  counts: { many: true }
outputs:
  all: { type: file }
"#,
    ),
    (
        "slow",
        r#"name: slow
kind: command
command: "echo $SAPIPE_STAGE >> executions.log; touch started.$SAPIPE_STAGE; sleep {params.seconds}; cat {inputs.text} > {outputs.text}"
params:
  seconds: { type: float, default: 1.0 }
inputs:
  text: {}
outputs:
  text: { type: file }
"#,
    ),
    (
        "fail",
        r#"name: fail
kind: command
command: "echo about to fail; echo $SAPIPE_STAGE >> executions.log; exit 3"
inputs:
  text: {}
outputs:
  text: { type: file }
"#,
    ),
    (
        "random",
        r#"name: random
kind: command
description: Nondeterministic on purpose (audit fixture).
command: "head -c 32 /dev/urandom > {outputs.bytes}"
outputs:
  bytes: { type: file }
"#,
    ),
];

/// gen -> count_a, count_b -> join: the shape most tests use.
pub const DIAMOND: &str = "name: demo
seed: 7
stages:
  gen: { uses: gen, with: { n: 3 } }
  count_a: { uses: count, needs: [gen] }
  count_b: { uses: count, needs: [gen], with: { scale: 2.0 } }
  join: { uses: join, needs: [count_a, count_b], inputs: { counts: [count_a.count, count_b.count] } }
";

/// The remote tests' pipeline: `gen` writes ~590 KB (several transfer chunks), `count` a folder holding a copy of it.
pub const SHARED: &str = "name: shared
stages:
  gen: { uses: gen, with: { n: 100000 } }
  count_a: { uses: count, needs: [gen] }
  count_b: { uses: count, needs: [gen], with: { scale: 2.0 } }
  join: { uses: join, needs: [count_a, count_b], inputs: { counts: [count_a.count, count_b.count] }, publish: { all: results/all.txt } }
";

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("stages")).unwrap();
        std::fs::create_dir_all(dir.path().join("pipelines")).unwrap();
        let p = Project { dir };
        for (name, text) in DEFINITIONS {
            p.write(&format!("stages/{name}.yaml"), text);
        }
        p
    }

    /// An empty temp folder (outside the repository): no stages/, no pipelines/, no marker.
    pub fn bare() -> Self {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A project with sapipe's own stage definitions (`stages/`), for the built-in kinds.
    pub fn with_project_stages() -> Self {
        let p = Project::new();
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/stages")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            p.write(
                &format!("stages/{name}"),
                &std::fs::read_to_string(&path).unwrap(),
            );
        }
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .current_dir(self.root())
            .env_remove("SAPIPE_CACHE")
            .env("RUST_LOG", "warn");
        c
    }

    pub fn sapipe(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("sapipe runs").into()
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.sapipe(args);
        assert_eq!(
            r.code, 0,
            "sapipe {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// Lines of executions.log (one per command execution).
    pub fn executions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .read("executions.log")
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    }

    pub fn objects(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = walk(&self.path("cache/objects"));
        v.sort();
        v
    }
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The largest file under a sharded `objects/` folder, with the digest its path names.
pub fn largest_object(objects: &Path) -> (PathBuf, String) {
    let mut all = walk(objects);
    all.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    let path = all.pop().expect("an object");
    let shard = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let hex = format!("{shard}{}", path.file_name().unwrap().to_string_lossy());
    (path, hex)
}

/// `.npy` bytes: a header for `descr` and `shape` (a Python tuple), then `data` as given: for
/// dtypes and malformed files that a NumPy writer would not produce.
pub fn raw_npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out.extend(data);
    out
}
