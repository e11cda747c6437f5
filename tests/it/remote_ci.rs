//! Issue 18's end-to-end story on the CI pipeline (libtorch stages included): clone A runs
//! `pipelines/ci.yaml` and pushes; clone B, with an empty cache, runs `run --pull` and executes
//! no stage, its results bit-identical to A's and `audit` passing; B changes one parameter,
//! runs and pushes; A pulls only the new records. Told twice: through a directory remote and
//! through an S3 remote on a real S3-protocol server (moto, `tests/common/s3.rs`).

use crate::common;

use crate::common::{Project, walk};

const P: &str = "pipelines/ci.yaml";
const L: &str = "pipelines/ci.lock";

fn ci() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/ci.yaml")).unwrap()
}

fn clone() -> Project {
    let p = Project::with_project_stages();
    p.write(P, &ci());
    p
}

/// Where the clones share results: a remote and, for S3, the server's endpoint.
struct Remote {
    url: String,
    endpoint: Option<String>,
}

impl Remote {
    /// `sapipe args` in `p`, asserting success.
    fn ok(&self, p: &Project, args: &[&str]) -> common::Run {
        let mut c = p.command(args);
        if let Some(e) = &self.endpoint {
            common::s3::credentials(&mut c, e);
        }
        let r: common::Run = c.output().unwrap().into();
        assert_eq!(r.code, 0, "sapipe {args:?}:\n{}\n{}", r.stdout, r.stderr);
        r
    }
}

fn json(r: &common::Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn a_second_clone_pulls_the_ci_pipeline_executes_nothing_audits_and_shares_its_change_back() {
    let dir = tempfile::tempdir().unwrap();
    story(&Remote {
        url: dir.path().display().to_string(),
        endpoint: None,
    });
}

#[cfg(feature = "s3")]
#[test]
fn the_same_story_through_an_s3_remote() {
    let Some(server) = common::s3::start("the_same_story_through_an_s3_remote") else {
        return;
    };
    story(&Remote {
        url: format!("s3://{}/ci", common::s3::BUCKET),
        endpoint: Some(server.endpoint()),
    });
}

fn story(remote: &Remote) {
    let r = remote.url.clone();
    let a = clone();
    a.ok(&["run", P]);
    remote.ok(&a, &["push", P, "--remote", &r]);

    // B: a clone of A's repository (pipeline and committed lock file), with an empty cache.
    let b = clone();
    b.write(L, &a.read(L));
    let run = remote.ok(&b, &["run", P, "--pull", "--remote", &r]);
    assert!(
        run.ran().is_empty(),
        "B executed {:?}\n{}",
        run.ran(),
        run.stderr
    );
    assert!(run.stdout.contains("0 ran, 5 pulled"), "{}", run.stdout);
    assert_eq!(b.read(L), a.read(L), "the lock file changed");
    for object in walk(&b.path("cache/objects")) {
        let rel = object.strip_prefix(b.path("cache")).unwrap();
        assert_eq!(
            std::fs::read(&object).unwrap(),
            std::fs::read(a.path("cache").join(rel)).unwrap(),
            "{} differs from A's",
            rel.display()
        );
    }
    b.ok(&["verify"]);
    b.ok(&["audit", P]);

    // B changes one parameter, runs, pushes; A pulls only what is new.
    let changed = ci().replace("freeze: [alpha], epochs: 1", "freeze: [alpha], epochs: 2");
    assert_ne!(changed, ci());
    b.write(P, &changed);
    let rerun = remote.ok(&b, &["run", P, "--push", "--remote", &r]);
    assert_eq!(rerun.ran(), ["eval", "rf_sa_incr"], "{}", rerun.stderr);
    a.write(P, &changed);
    let pulled = json(&remote.ok(&a, &["pull", P, "--remote", &r, "--json"]));
    assert_eq!(
        pulled["stages"],
        serde_json::json!(["rf_sa_incr", "eval"]),
        "{pulled}"
    );
    assert_eq!(
        pulled["already"],
        serde_json::json!(["data", "prep", "rf_cnn"]),
        "{pulled}"
    );
    let after = a.ok(&["run", P]);
    assert!(after.ran().is_empty(), "A executed {:?}", after.ran());
}
