//! A real S3-protocol server for the remote-cache tests: moto's server mode on a free
//! localhost port (installed by `scripts/setup-s3-server`), a bucket made, stopped on drop.
//! Without it a test prints "SKIPPED: ..." and returns, unless `SAPIPE_REQUIRE_S3=1`
//! (scripts/test sets it after installing the server), where it fails instead.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket every test server holds.
pub const BUCKET: &str = "sapipe-test";

/// A moto S3 server on a free localhost port, stopped on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto_server() -> Option<PathBuf> {
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

/// A raw HTTP request to the server (moto accepts an unsigned request creating a bucket);
/// the reply, or what went wrong sending it.
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> String {
    let mut s = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(e) => return format!("(connect: {e})"),
    };
    if let Err(e) = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .and_then(|()| s.write_all(body))
    {
        return format!("(send: {e})");
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

pub fn start(test: &str) -> Option<Server> {
    let Some(bin) = moto_server() else {
        assert!(
            std::env::var("SAPIPE_REQUIRE_S3").as_deref() != Ok("1"),
            "{test}: SAPIPE_REQUIRE_S3=1 but moto_server is not installed (scripts/setup-s3-server)"
        );
        sapipe::testing::skip(
            test,
            "no S3 server (install one with scripts/setup-s3-server)",
        );
        return None;
    };
    // Port 0: the server binds a free port itself and names it on stderr. Choosing a free port
    // here and handing it over raced with the other tests' servers and probes (CI once got an
    // empty reply from a port that was not, or not yet, this test's server).
    // Through the environment's interpreter, not the `moto_server` script: pip pins that
    // script's shebang to the clone path it was installed through, and the per-user
    // environment outlives clones.
    let mut child = Command::new(bin.with_file_name("python3"))
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the startup lines, then keeps draining the request log so the server never blocks
    // on a full pipe.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let port = line
                .split("http://127.0.0.1:")
                .nth(1)
                .and_then(|rest| rest.trim().parse::<u16>().ok());
            if let (Some(port), Some(tx)) = (port, tx.take_if(|_| port.is_some())) {
                let _ = tx.send(port);
            }
        }
    });
    let port = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(port) => port,
        Err(e) => {
            let _ = child.kill();
            panic!("{test}: moto_server never said which port it listens on ({e})")
        }
    };
    let server = Server { child, port };
    // Listening is not answering: repeat the bucket's creation until the server replies.
    let t0 = Instant::now();
    loop {
        let reply = http(port, "PUT", &format!("/{BUCKET}"), b"");
        if reply.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{test}: moto_server on port {port} never created the bucket; last reply: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
}

impl Server {
    /// The server's URL, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Test credentials, region and the endpoint of `endpoint`'s server on a command.
pub fn credentials(c: &mut Command, endpoint: &str) {
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint);
}

/// Runs `code` in Python with `c`, a boto3 S3 client of `endpoint` (moto brings boto3), signed
/// as any client would, and `sys.argv[1:]` = `args`; its stdout.
pub fn boto3(endpoint: &str, code: &str, args: &[&str]) -> String {
    let python = moto_server().unwrap().with_file_name("python3");
    let script = format!(
        "import sys, boto3\nc = boto3.client('s3', endpoint_url={endpoint:?}, \
         region_name='us-east-1', aws_access_key_id='testing', \
         aws_secret_access_key='testing')\n{code}"
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes `bytes` as object `key` of the test bucket, through boto3: what another machine
/// sharing the remote could serve.
pub fn put_object(endpoint: &str, key: &str, bytes: &[u8]) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    boto3(
        endpoint,
        "c.put_object(Bucket=sys.argv[1], Key=sys.argv[2], Body=open(sys.argv[3], 'rb').read())",
        &[BUCKET, key, &file.path().display().to_string()],
    );
}
