//! A plain n-dimensional `f32` array (row-major) and its `.npy` file format.
//!
//! This is the exchange type between the neural stages: datasets, predictions and metrics
//! inputs are `ArrayF32`s on disk as NumPy `.npy` files, so users can open every artifact
//! with `numpy.load`. It has no libtorch dependency.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

/// Failure reading or writing an array file; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum ArrayError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        // Shown in the message, so not also a `#[source]` (anyhow would print it twice).
        source: std::io::Error,
    },
    #[error("{path}: expected {expected}, found {found}")]
    Format {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

/// Checks a `.npy` header before anything is allocated: the element count of `shape` must not
/// overflow, must be what the reader will read (`len`), and its bytes must fit in the
/// `available` bytes of the file. Returns what is wrong, in words.
pub fn check_npy_header(
    shape: &[u64],
    len: u64,
    item_bytes: Option<usize>,
    available: u64,
) -> Result<(), String> {
    let count = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
    let bytes = count.and_then(|c| c.checked_mul(item_bytes.unwrap_or(1) as u64));
    match (count, bytes) {
        (Some(c), Some(b)) if c == len && b <= available => Ok(()),
        (Some(c), Some(b)) if c == len => Err(format!(
            "its header declares shape {shape:?} ({b} bytes of data), but the file holds only \
             {available} bytes"
        )),
        _ => Err(format!(
            "its header declares shape {shape:?}, whose size does not fit in 64 bits"
        )),
    }
}

/// Reads the shape a `.npy` header declares (from the start of the file) and checks that its
/// element count neither overflows nor exceeds the file's `available` bytes, before a reader
/// that trusts the header (and would overflow or allocate it) sees it. A header that does not
/// parse here is left to that reader to report.
pub fn precheck_npy(reader: impl std::io::Read, available: u64) -> Result<(), String> {
    use std::io::Read;
    let mut head = Vec::new();
    let _ = reader.take(1 << 16).read_to_end(&mut head);
    let Some(shape) = declared_shape(&head) else {
        return Ok(());
    };
    match shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d)) {
        Some(count) if count <= available => Ok(()),
        Some(count) => Err(format!(
            "its header declares shape {shape:?} ({count} elements), but the file holds only \
             {available} bytes"
        )),
        None => Err(format!(
            "its header declares shape {shape:?}, whose size does not fit in 64 bits"
        )),
    }
}

/// The `'shape': (a, b, ...)` entry of a `.npy` header's dictionary.
fn declared_shape(head: &[u8]) -> Option<Vec<u64>> {
    let text = String::from_utf8_lossy(head.get(8..)?);
    let after = &text[text.find("'shape'")? + "'shape'".len()..];
    let open = after.find('(')?;
    let close = after.find(')')?;
    after
        .get(open + 1..close)?
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<u64>().ok())
        .collect()
}

/// A row-major `f32` array with an explicit shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayF32 {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl ArrayF32 {
    /// An array of the given shape; panics (a bug, not a user error) if the sizes disagree.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape {shape:?} does not match {} elements",
            data.len()
        );
        Self { shape, data }
    }

    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Self {
            shape,
            data: vec![0.0; n],
        }
    }

    /// Number of elements in one entry of the leading axis.
    pub fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }

    /// The `i`-th entry of the leading axis as a flat slice.
    pub fn row(&self, i: usize) -> &[f32] {
        let n = self.row_len();
        &self.data[i * n..(i + 1) * n]
    }

    /// Entry `j` of the last axis at every position of the others, in order: one neuron's
    /// values of an `[images, neurons]` array, or its repeat-major trials of an
    /// `[repeats, images, neurons]` one.
    pub fn column(&self, j: usize) -> Vec<f32> {
        let last = self.shape.last().copied().unwrap_or(1).max(1);
        self.data.iter().skip(j).step_by(last).copied().collect()
    }

    /// A new array with the rows (leading-axis entries) at `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Self {
        let n = self.row_len();
        let mut data = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        let mut shape = self.shape.clone();
        shape[0] = indices.len();
        Self { shape, data }
    }

    /// Writes the array as a little-endian `<f4` `.npy` file.
    pub fn write_npy(&self, path: &Path) -> Result<(), ArrayError> {
        let io = |source| ArrayError::Io {
            path: path.to_owned(),
            source,
        };
        let file = BufWriter::new(File::create(path).map_err(io)?);
        let shape: Vec<u64> = self.shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(file)
            .begin_nd()
            .map_err(io)?;
        writer.extend(self.data.iter().copied()).map_err(io)?;
        writer.finish().map_err(io)
    }

    /// Reads a C-order `.npy` file of dtype `<f4`; any other dtype is a [`ArrayError::Format`].
    pub fn read_npy(path: &Path) -> Result<Self, ArrayError> {
        let io = |source| ArrayError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let available = file.metadata().map_err(io)?.len();
        let bad_header = |found| ArrayError::Format {
            path: path.to_owned(),
            expected: "an array whose data fits its header".into(),
            found,
        };
        precheck_npy(&file, available).map_err(bad_header)?;
        let file = File::open(path).map_err(io)?;
        let npy = npyz::NpyFile::new(BufReader::new(file)).map_err(io)?;
        check_npy_header(npy.shape(), npy.len(), npy.dtype().num_bytes(), available)
            .map_err(bad_header)?;
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        if npy.order() != npyz::Order::C {
            return Err(ArrayError::Format {
                path: path.to_owned(),
                expected: "C (row-major) order".into(),
                found: "Fortran order".into(),
            });
        }
        let dtype = npy.dtype();
        let data: Vec<f32> = npy.into_vec().map_err(|_| ArrayError::Format {
            path: path.to_owned(),
            expected: "dtype float32 (<f4)".into(),
            found: dtype.descr().to_string(),
        })?;
        Ok(Self { shape, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_keeps_shape_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let a = ArrayF32::new(vec![2, 3], vec![1.0, -2.5, 3.0, f32::NAN, 0.0, 7.25]);
        a.write_npy(&path).unwrap();
        let b = ArrayF32::read_npy(&path).unwrap();
        assert_eq!(b.shape, vec![2, 3]);
        assert_eq!(a.data[..3], b.data[..3]);
        assert!(b.data[3].is_nan());
    }

    #[test]
    fn npy_headers_are_checked_against_the_file_size() {
        assert!(check_npy_header(&[2, 3], 6, Some(4), 200).is_ok());
        let e = check_npy_header(&[4, 1 << 20, 4], 1 << 24, Some(1), 128).unwrap_err();
        assert!(e.contains("but the file holds only 128 bytes"), "{e}");
        // 4 * 2^62 * 4 wraps to 0 in u64: the reader would read nothing.
        let e = check_npy_header(&[4, 1 << 62, 4], 0, Some(1), 128).unwrap_err();
        assert!(e.contains("does not fit in 64 bits"), "{e}");
        let header = b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (4, 4611686018427387904, 4), }";
        let e = precheck_npy(&header[..], 200).unwrap_err();
        assert!(e.contains("[4, 4611686018427387904, 4]"), "{e}");
        let header =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        assert!(precheck_npy(&header[..], 200).is_ok());
    }

    #[test]
    fn select_rows_reorders() {
        let a = ArrayF32::new(vec![3, 2], vec![0., 1., 2., 3., 4., 5.]);
        assert_eq!(a.select_rows(&[2, 0]).data, vec![4., 5., 0., 1.]);
    }
}
