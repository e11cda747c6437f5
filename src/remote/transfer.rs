//! Moving bytes: a chunked copy that reports progress (for the byte/rate bars the `report`
//! module draws through [`Meter`]) and a test hook that holds a transfer midway so the tests
//! can kill or race it (`SAPIPE_TEST_HOLD_TRANSFER`, below).

use std::io::{Read, Write};
use std::path::Path;

const CHUNK: usize = 1 << 16;

/// Receives transfer progress; the host decides how to show it. Never prints by itself.
pub trait Meter: Sync {
    /// `bytes` more are planned to move.
    fn planned(&self, bytes: u64);
    /// `bytes` more have moved.
    fn moved(&self, bytes: u64);
}

/// Shows nothing.
pub struct NoMeter;

impl Meter for NoMeter {
    fn planned(&self, _: u64) {}
    fn moved(&self, _: u64) {}
}

/// Copies `from` into `to` in chunks, calling `moved` after each; returns the byte count.
pub fn copy(from: &mut dyn Read, to: &mut dyn Write, moved: &dyn Fn(u64)) -> std::io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
        moved(n as u64);
        after_chunk(total - n as u64, total);
    }
    Ok(total)
}

/// Called by every transfer after each chunk (from `before` to `total` bytes moved): where
/// the test hook below holds a transfer that is midway.
pub fn after_chunk(before: u64, total: u64) {
    if before < CHUNK as u64 && total >= CHUNK as u64 {
        hold_if_asked();
    }
}

/// The fault-injection hook of the remote tests: with `SAPIPE_TEST_HOLD_TRANSFER=DIR`, the
/// first transfer of the process to pass a first full chunk (a transfer longer than one chunk,
/// so never a small record; only that one, however many run in parallel) creates `DIR/held` and waits until `DIR/release` exists. A test then kills
/// the process (an interrupted transfer) or runs another one meanwhile (a race).
fn hold_if_asked() {
    let Some(dir) = std::env::var_os("SAPIPE_TEST_HOLD_TRANSFER") else {
        return;
    };
    static ONCE: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    ONCE.call_once(|| first = true);
    if !first {
        return;
    }
    let dir = Path::new(&dir);
    let _ = std::fs::write(dir.join("held"), std::process::id().to_string());
    tracing::warn!(
        "test hook: holding a transfer until {} exists",
        dir.join("release").display()
    );
    while !dir.join("release").exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A writer that hashes what passes through it (downloads are verified as they arrive).
pub struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: blake3::Hasher::new(),
        }
    }

    pub fn finish(self) -> (W, crate::key::ContentDigest) {
        (
            self.inner,
            crate::key::ContentDigest::from_hash(self.hasher.finalize()),
        )
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_reports_every_byte_and_hashing_matches_the_digest() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Hashing::new(Vec::new());
        let seen = std::sync::atomic::AtomicU64::new(0);
        let n = copy(&mut data.as_slice(), &mut out, &|b| {
            seen.fetch_add(b, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        let (bytes, digest) = out.finish();
        assert_eq!(n, 200_000);
        assert_eq!(seen.into_inner(), 200_000);
        assert_eq!(bytes, data);
        assert_eq!(digest, crate::key::ContentDigest::of_bytes(&data));
    }
}
