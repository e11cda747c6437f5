//! A real S3-protocol server for the remote-cache tests: moto's server mode on a free
//! localhost port (installed by `scripts/setup-s3-server`), a bucket made, stopped on drop.
//! Without it a test prints "SKIPPED: ..." and returns, unless `SAPIPE_REQUIRE_S3=1`
//! (scripts/test sets it after installing the server), where it fails instead.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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

/// A raw HTTP request to the server (moto accepts an unsigned request creating a bucket).
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> String {
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

pub fn start(test: &str) -> Option<Server> {
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
    // Through the environment's interpreter, not the `moto_server` script: pip pins that
    // script's shebang to the clone path it was installed through, and the per-user
    // environment outlives clones.
    let child = Command::new(bin.with_file_name("python3"))
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
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
