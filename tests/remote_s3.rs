//! S3 remotes (issue 18) against a real S3-protocol server that the test starts on localhost:
//! moto's server mode, installed by `scripts/setup-s3-server`. Without it the tests print
//! "SKIPPED: ..." and return, unless `SAPIPE_REQUIRE_S3=1` (scripts/test sets it after
//! installing the server), where they fail instead.

#![cfg(feature = "s3")]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Project, walk};

const P: &str = "pipelines/shared.yaml";
use common::SHARED as PIPELINE;
const BUCKET: &str = "sapipe-test";

/// A moto S3 server on a free localhost port, stopped on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> Option<PathBuf> {
    let path = std::env::var_os("SAPIPE_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/.torch-env/bin/moto_server"
            ))
        });
    path.is_file().then_some(path)
}

/// A raw HTTP request to the server (moto accepts an unsigned request creating a bucket).
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn start(test: &str) -> Option<Server> {
    let Some(bin) = moto_server() else {
        assert!(
            std::env::var("SAPIPE_REQUIRE_S3").as_deref() != Ok("1"),
            "{test}: SAPIPE_REQUIRE_S3=1 but moto_server is not installed (scripts/setup-s3-server)"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {test}: no S3 server (install one with scripts/setup-s3-server)"
        );
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port };
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "moto_server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let reply = http(port, "PUT", &format!("/{BUCKET}"), b"");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    Some(server)
}

fn clone(server: &Server) -> (Project, String) {
    let p = Project::new();
    p.write(P, PIPELINE);
    (p, format!("http://127.0.0.1:{}", server.port))
}

/// `sapipe args` in `p`, with the server's credentials and endpoint.
fn s3_command(p: &Project, endpoint: &str, args: &[&str]) -> Command {
    let mut c = p.command(args);
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint);
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
    let hold = tempfile::tempdir().unwrap();
    let mut child = s3_command(&b, &e, &["pull", P, "--remote", &remote])
        .env("SAPIPE_TEST_HOLD_TRANSFER", hold.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !hold.path().join("held").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the pull never held"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
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
    let corrupt = a.path("corrupt.bin");
    std::fs::write(&corrupt, &bytes).unwrap();
    // Through a real S3 client (boto3, which moto brings), signed as any client would.
    let python = moto_server().unwrap().with_file_name("python3");
    let put = Command::new(python)
        .args([
            "-c",
            "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
             aws_access_key_id='testing', aws_secret_access_key='testing').put_object(\
             Bucket=sys.argv[2], Key=sys.argv[3], Body=open(sys.argv[4], 'rb').read())",
            &e,
            BUCKET,
            &key,
            &corrupt.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
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
