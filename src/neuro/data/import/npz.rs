//! Reading one array of an `.npz` archive without trusting the archive (issue 30, case 9): the
//! entry's `.npy` header is checked against the entry's declared size, the declared size
//! against what the header's shape needs (a deflate bomb declares a small array and inflates
//! to gigabytes), and the entry is inflated once, to nowhere and at most that far, so its CRC
//! is checked before the array is decoded.

use std::fs::File;
use std::io::{BufReader, Read};

use npyz::npz::NpzArchive;

use super::ImportError;
use super::arrays::{Kind, Loaded, decode, precheck};

/// The most bytes a `.npy` header may take in an archive entry (NumPy's are 64 to a few
/// hundred bytes; a version-2 header may declare up to 4 GiB, which no array needs).
const HEADER_MAX: u64 = 1 << 16;

/// Reads entry `own` (the array's own name in the archive) of `archive`, accepting only the
/// element kinds in `allowed`; errors name `location`. `None`: the archive has no such entry.
pub(super) fn read_entry(
    archive: &mut NpzArchive<BufReader<File>>,
    own: &str,
    location: &str,
    allowed: &[Kind],
) -> Result<Option<Loaded>, ImportError> {
    let fail = |message: String| ImportError::Read {
        location: location.to_owned(),
        message,
    };
    // The inventory listed the entry, so a failure here is not its absence (which read
    // "not found (present: images)").
    let entry = npyz::npz::file_name_from_array_name(own);
    let unreadable = |e: npyz::zip::result::ZipError| {
        fail(format!("the archive lists it, but it cannot be read: {e}"))
    };
    // The header is checked on a first read of the entry: npyz trusts it.
    let declared = match archive.zip_archive().by_name(&entry) {
        Ok(e) => {
            let size = e.size();
            precheck(e, size, location)?;
            size
        }
        Err(e) => return Err(unreadable(e)),
    };
    let limit = match archive.by_name(own) {
        Ok(Some(npy)) => match needed(&npy) {
            Some((data, shape, dtype)) if declared > data.saturating_add(HEADER_MAX) => {
                return Err(fail(format!(
                    "its archive entry declares {declared} bytes, far more than its header's \
                     shape {shape:?} of {dtype} needs ({data} bytes of data): the archive is \
                     damaged, or a decompression bomb"
                )));
            }
            _ => declared,
        },
        Ok(None) => return Ok(None),
        Err(e) => return Err(fail(e.to_string())),
    };
    let entry = archive.zip_archive().by_name(&entry).map_err(unreadable)?;
    check_entry(entry, limit, location)?;
    let Some(npy) = archive.by_name(own).map_err(|e| fail(e.to_string()))? else {
        return Ok(None);
    };
    decode(npy, location.to_owned(), allowed, declared).map(Some)
}

/// The bytes of data a header's shape and dtype need, with the shape and dtype for messages;
/// `None` when they overflow (which [`decode`] reports).
fn needed<R: Read>(npy: &npyz::NpyFile<R>) -> Option<(u64, Vec<u64>, String)> {
    let dtype = npy.dtype();
    let item = dtype.num_bytes()? as u64;
    let count = npy
        .shape()
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))?;
    let shown = match &dtype {
        npyz::DType::Plain(t) => t.to_string(),
        other => other.descr(),
    };
    Some((count.checked_mul(item)?, npy.shape().to_vec(), shown))
}

/// Inflates an archive entry once, to nowhere, before it is decoded: its CRC is checked at its
/// end (the decoder stops after the array's bytes and would never see it), and it may inflate
/// to at most `limit` bytes (its declared size, checked against the header's shape), so a
/// deflate bomb whose entry lies about its size stops there too.
fn check_entry(entry: impl Read, limit: u64, location: &str) -> Result<(), ImportError> {
    let fail = |message: String| ImportError::Read {
        location: location.to_owned(),
        message,
    };
    let inflated = std::io::copy(&mut entry.take(limit + 1), &mut std::io::sink())
        .map_err(|e| fail(format!("its compressed data is corrupt ({e})")))?;
    if inflated > limit {
        return Err(fail(format!(
            "it inflates to more than the {limit} bytes its archive entry declares: the \
             archive is damaged, or a decompression bomb"
        )));
    }
    Ok(())
}
