//! Deflate bombs in `.npz` archives (issue 30, case 9): an entry whose header declares a
//! small array but whose data inflates to 3 GB is refused, whether its archive entry declares
//! those 3 GB (refused before anything is inflated) or lies about its size (refused once the
//! inflated bytes pass what it declares). The archives are written by hand: 3 GB of zeros
//! deflate to about 3 MB.

use flate2::{Compress, Compression, FlushCompress};

use super::tests::{cfg, raw_npy};
use super::*;

const MIB: usize = 1 << 20;

/// Deflates `input` and flushes fully: the output is byte-aligned and refers to nothing
/// before it, so copies of it can follow each other in one stream.
fn deflate_piece(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 4096);
    let before = c.total_in();
    c.compress_vec(input, &mut out, flush).unwrap();
    assert_eq!(c.total_in() - before, input.len() as u64);
    out
}

/// A raw deflate stream of `head` then `mibs` MiB of zeros, and the CRC-32 and length of
/// what it inflates to.
fn deflated(head: &[u8], mibs: usize) -> (Vec<u8>, u32, u64) {
    let mut c = Compress::new(Compression::best(), false);
    let mut stream = deflate_piece(&mut c, head, FlushCompress::Full);
    let zeros = vec![0u8; MIB];
    let piece = deflate_piece(&mut c, &zeros, FlushCompress::Full);
    let mut crc = flate2::Crc::new();
    crc.update(head);
    for _ in 0..mibs {
        stream.extend_from_slice(&piece);
        crc.update(&zeros);
    }
    stream.extend(deflate_piece(&mut c, &[], FlushCompress::Finish));
    (stream, crc.sum(), (head.len() + mibs * MIB) as u64)
}

/// A zip of deflated entries (name, raw deflate stream, CRC-32, declared inflated size).
fn zip(entries: &[(&str, Vec<u8>, u32, u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, x: u16| v.extend(x.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u32| v.extend(x.to_le_bytes());
    for (name, data, crc, size) in entries {
        let offset = out.len() as u32;
        // version 20, no flags, deflate, a DOS time and date of 1980-01-01.
        let common = |v: &mut Vec<u8>| {
            for x in [20u16, 0, 8, 0, 0x21] {
                le16(v, x);
            }
            le32(v, *crc);
            le32(v, data.len() as u32);
            le32(v, u32::try_from(*size).unwrap());
            le16(v, name.len() as u16);
            le16(v, 0);
        };
        le32(&mut out, 0x0403_4b50);
        common(&mut out);
        out.extend(name.as_bytes());
        out.extend(data);
        le32(&mut central, 0x0201_4b50);
        le16(&mut central, 20);
        common(&mut central);
        for x in [0u16, 0, 0] {
            le16(&mut central, x);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend(name.as_bytes());
    }
    let at = out.len() as u32;
    out.extend(&central);
    le32(&mut out, 0x0605_4b50);
    for x in [0u16, 0, entries.len() as u16, entries.len() as u16] {
        le16(&mut out, x);
    }
    le32(&mut out, central.len() as u32);
    le32(&mut out, at);
    le16(&mut out, 0);
    out
}

/// An `.npz` whose `images.npy` declares shape (2, 1, 1) of uint8 and inflates to that header
/// and 3,000 MiB of zeros; its entry declares `declared(true size)` bytes.
fn bomb(declared: impl Fn(u64) -> u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let head = raw_npy("|u1", "(2, 1, 1)", &[]);
    let (stream, crc, size) = deflated(&head, 3000);
    let responses = raw_npy("<f4", "(2, 1)", &[0; 8]);
    let (small, small_crc, small_size) = deflated(&responses, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.npz");
    let bytes = zip(&[
        ("images.npy", stream, crc, declared(size)),
        ("responses.npy", small, small_crc, small_size),
    ]);
    assert!(bytes.len() < 8 * MIB, "{} bytes", bytes.len());
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn case9_a_3gb_deflate_bomb_declaring_its_size_is_refused_by_the_declared_shape() {
    let (_dir, path) = bomb(|size| size);
    let e = import(&path, &cfg()).unwrap_err().to_string();
    assert!(
        e.contains("bomb.npz: array 'images'")
            && e.contains("declares 3145728128 bytes, far more than its header's shape [2, 1, 1]")
            && e.contains("(2 bytes of data)"),
        "{e}"
    );
}

#[test]
fn case9_a_3gb_deflate_bomb_lying_about_its_size_stops_at_the_declared_size() {
    let (_dir, path) = bomb(|_| 130);
    let e = import(&path, &cfg()).unwrap_err().to_string();
    assert!(
        e.contains("bomb.npz: array 'images'") && e.contains("inflates to more than the 130 bytes"),
        "{e}"
    );
}
