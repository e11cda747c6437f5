//! HDF5 sources through libhdf5 (cargo feature `hdf5`): `.h5`/`.hdf5` files, whose root
//! datasets are the arrays, row-major as NumPy/h5py write them, and MATLAB v7.3 `.mat` files,
//! which are HDF5 behind a 512-byte header: there each root dataset is a variable with a
//! `MATLAB_class` attribute, stored with its dims reversed (MATLAB size [N, H, W] is the HDF5
//! shape [W, H, N]), so its shape is reversed back and its values read column-major
//! ([`super::matlab`]). Groups at the root (`#refs#`, `#subsystem#`) hold MATLAB's internals
//! and are not variables.

use std::path::Path;

#[cfg(feature = "hdf5")]
use h5::types::{
    FixedAscii, FixedUnicode, IntSize, TypeDescriptor as TD, VarLenAscii, VarLenUnicode,
};
#[cfg(feature = "hdf5")]
use hdf5_metno as h5;

use super::arrays::Values;
#[cfg(feature = "hdf5")]
use super::matlab::MatData;
use super::matlab::MatVar;

/// An opened HDF5 file and the names of its root datasets.
pub struct H5File {
    #[cfg(feature = "hdf5")]
    file: h5::File,
    pub datasets: Vec<String>,
}

/// What this build cannot do without libhdf5, for messages.
#[cfg(not(feature = "hdf5"))]
const NO_HDF5: &str = "this sapipe was built without HDF5 support (cargo feature `hdf5`, which \
                       needs libhdf5: scripts/setup-hdf5); .npy folders, .npz archives and \
                       MATLAB v5 .mat files (save -v7) need nothing extra";

#[cfg(not(feature = "hdf5"))]
impl H5File {
    pub fn open(_path: &Path) -> Result<Self, String> {
        Err(NO_HDF5.to_owned())
    }

    pub fn read_array(&self, _name: &str) -> Result<(Vec<usize>, Values, String), String> {
        Err(NO_HDF5.to_owned())
    }

    pub fn read_matlab(&self, _name: &str) -> Result<MatVar, String> {
        Err(NO_HDF5.to_owned())
    }
}

#[cfg(feature = "hdf5")]
impl H5File {
    /// Opens `path` read-only and lists its root datasets.
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = h5::File::open(path).map_err(|e| format!("not a readable HDF5 file: {e}"))?;
        let links = file
            .iter_visit_default(Vec::new(), |_, name, info, links| {
                links.push((name.to_owned(), info.link_type));
                true
            })
            .map_err(|e| format!("cannot list its contents: {e}"))?;
        let mut datasets = Vec::new();
        for (name, link) in links {
            if link == h5::LinkType::External {
                return Err(outside(&format!("'{name}' is an external link")));
            }
            if let Ok(ds) = file.dataset(&name) {
                in_this_file(&file, &ds, &name)?;
                datasets.push(name);
            }
        }
        Ok(H5File { file, datasets })
    }

    /// Root dataset `name` as written by NumPy/h5py: row-major shape, values, and its dtype.
    pub fn read_array(&self, name: &str) -> Result<(Vec<usize>, Values, String), String> {
        let ds = self.file.dataset(name).map_err(|e| e.to_string())?;
        let td = descriptor(&ds)?;
        let values = read_values(&ds, &td)?;
        Ok((ds.shape(), values, td.to_string()))
    }

    /// Root dataset `name` as a MATLAB v7.3 variable: its class from `MATLAB_class`, its dims
    /// (the HDF5 shape reversed) and its values column-major.
    pub fn read_matlab(&self, name: &str) -> Result<MatVar, String> {
        let ds = self.file.dataset(name).map_err(|e| e.to_string())?;
        let class = ds
            .attr("MATLAB_class")
            .and_then(|a| a.read_scalar::<FixedAscii<64>>())
            .map(|c| c.as_str().to_owned())
            .map_err(|_| {
                "no MATLAB_class attribute: not a variable as MATLAB -v7.3 writes it".to_owned()
            })?;
        let mut dims = ds.shape();
        dims.reverse();
        // MATLAB's sizes have at least two dimensions.
        while dims.len() < 2 {
            dims.push(1);
        }
        let td = descriptor(&ds)?;
        let known = [
            "double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
            "uint64", "logical", "char", "cell", "struct",
        ];
        let class_name: &'static str = known.into_iter().find(|k| *k == class).unwrap_or("unknown");
        let data = match class.as_str() {
            "char" => {
                check_size(&ds)?;
                let units: Vec<u16> = ds.read_raw::<u16>().map_err(|e| e.to_string())?;
                MatData::Chars(
                    char::decode_utf16(units)
                        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                        .collect(),
                )
            }
            "logical" => MatData::Numeric(match read_values(&ds, &td)? {
                Values::U8(v) => Values::Bool(
                    v.into_iter()
                        .map(|b| match b {
                            0 => Ok(false),
                            1 => Ok(true),
                            v => Err(format!("logical variable holds {v}")),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                other => other,
            }),
            "cell" => MatData::Unsupported(
                "a cell array (in a v7.3 file; save split labels as a char matrix, \
                 char(labels), or as integers 0/1/2)"
                    .into(),
            ),
            c if known[..10].contains(&c) => MatData::Numeric(read_values(&ds, &td)?),
            other => MatData::Unsupported(format!("a MATLAB {other}")),
        };
        Ok(MatVar {
            name: name.to_owned(),
            class: class_name,
            dims,
            data,
        })
    }
}

/// Why data outside the file is refused (issue 30, case 7): an import's key holds the bytes of
/// the files it reads, so data that HDF5 fetches from other files would change unseen.
#[cfg(feature = "hdf5")]
fn outside(what: &str) -> String {
    format!(
        "{what}: its data is in another file, which would not enter the import's key (its \
         changes would go unseen); external links, external storage and virtual datasets are \
         refused: copy the data into this file (h5py: `g[name] = f[name][()]`)"
    )
}

/// Refuses a root dataset whose values live in other files: one reached through a link into
/// another file, one with external storage (raw data in other files) or a virtual dataset
/// (mapped from other datasets, possibly in other files).
#[cfg(feature = "hdf5")]
fn in_this_file(file: &h5::File, ds: &h5::Dataset, name: &str) -> Result<(), String> {
    use h5::dataset::Layout;
    if ds.filename() != file.filename() {
        return Err(outside(&format!(
            "dataset '{name}' is a link into {}",
            ds.filename()
        )));
    }
    let dcpl = ds
        .dcpl()
        .map_err(|e| format!("dataset '{name}': cannot read its storage properties: {e}"))?;
    let external = dcpl
        .get_external()
        .map_err(|e| format!("dataset '{name}': cannot read its storage properties: {e}"))?;
    if let Some(first) = external.first() {
        return Err(outside(&format!(
            "dataset '{name}' keeps its values in external storage ({}{})",
            first.name,
            if external.len() > 1 { ", ..." } else { "" }
        )));
    }
    match dcpl.layout() {
        Layout::Compact | Layout::Chunked | Layout::Contiguous => Ok(()),
        #[allow(unreachable_patterns)]
        _ => Err(outside(&format!("dataset '{name}' is a virtual dataset"))),
    }
}

#[cfg(feature = "hdf5")]
fn descriptor(ds: &h5::Dataset) -> Result<TD, String> {
    ds.dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| format!("unsupported HDF5 datatype: {e}"))
}

/// The most elements a dataset may declare (4 G; a full-scale recording holds about 85 M).
#[cfg(feature = "hdf5")]
const MAX_ELEMENTS: u64 = 1 << 32;

/// Checks a dataset's declared shape before anything is allocated for it (issue 30, case 9:
/// huge dimensions aborted the process on a failed allocation): its element count must fit
/// in 64 bits and [`MAX_ELEMENTS`], and its bytes may exceed what it stores in the file only
/// by what compression could explain (1,024 times, past the first MiB: a dataset whose storage
/// was never written reads as fill values).
#[cfg(feature = "hdf5")]
fn check_size(ds: &h5::Dataset) -> Result<(), String> {
    let shape = ds.shape();
    let item = ds.dtype().map(|t| t.size() as u64).unwrap_or(1).max(1);
    let count = shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| {
            format!("its dataset declares shape {shape:?}: more than {MAX_ELEMENTS} elements")
        })?;
    let stored = ds.storage_size();
    let bytes = count.saturating_mul(item);
    if bytes > (1 << 20) + stored.saturating_mul(1024) {
        return Err(format!(
            "its dataset declares shape {shape:?} ({bytes} bytes), far more than the {stored} \
             bytes it stores in the file: the file is damaged"
        ));
    }
    Ok(())
}

/// The values of a dataset of numbers, booleans or strings.
#[cfg(feature = "hdf5")]
fn read_values(ds: &h5::Dataset, td: &TD) -> Result<Values, String> {
    check_size(ds)?;
    let e = |e: h5::Error| e.to_string();
    let ints = |v: Vec<i64>| Ok(Values::Int(v));
    match td {
        TD::Unsigned(IntSize::U1) => Ok(Values::U8(ds.read_raw::<u8>().map_err(e)?)),
        TD::Float(s) if *s as usize == 4 => Ok(Values::F32(ds.read_raw::<f32>().map_err(e)?)),
        TD::Float(s) if *s as usize == 8 => Ok(Values::F64(ds.read_raw::<f64>().map_err(e)?)),
        TD::Integer(_) => ints(ds.read_raw::<i64>().map_err(e)?),
        TD::Unsigned(_) => ints(
            ds.read_raw::<u64>()
                .map_err(e)?
                .into_iter()
                .map(|v| i64::try_from(v).unwrap_or(i64::MAX))
                .collect(),
        ),
        TD::Boolean => Ok(Values::Bool(ds.read_raw::<bool>().map_err(e)?)),
        TD::VarLenUnicode => strings::<VarLenUnicode>(ds),
        TD::VarLenAscii => strings::<VarLenAscii>(ds),
        // Fixed-length strings of up to 256 bytes, converted by libhdf5 to 256.
        TD::FixedAscii(n) if *n <= 256 => strings::<FixedAscii<256>>(ds),
        TD::FixedUnicode(n) if *n <= 256 => strings::<FixedUnicode<256>>(ds),
        other => Err(format!(
            "HDF5 datatype {other} is not read; accepted: integers, float32, float64, bool \
             and strings"
        )),
    }
}

/// A dataset of strings, read as `T`.
#[cfg(feature = "hdf5")]
fn strings<T: h5::H5Type + AsRef<str>>(ds: &h5::Dataset) -> Result<Values, String> {
    let v = ds.read_raw::<T>().map_err(|e| e.to_string())?;
    Ok(Values::Str(
        v.iter().map(|s| s.as_ref().to_owned()).collect(),
    ))
}

#[cfg(all(test, feature = "hdf5"))]
mod tests {
    use super::*;

    /// Issue 30, case 9: an `.h5` declaring huge dimensions aborted the process (exit 134,
    /// failed allocation) where `.npy` and `.mat` refuse such shapes.
    #[test]
    fn case9_huge_declared_dimensions_are_refused_before_allocating() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("rec.h5");
        {
            let f = h5::File::create(&path).unwrap();
            f.new_dataset::<f64>()
                .shape([1usize << 20, 1 << 20])
                .create("images")
                .unwrap();
            f.new_dataset::<f64>()
                .shape([1usize << 16, 1 << 16])
                .create("responses")
                .unwrap();
            f.new_dataset::<f64>()
                .shape([4usize])
                .create("fine")
                .unwrap()
                .write_raw(&[1.0, 2.0, 3.0, 4.0])
                .unwrap();
        }
        let file = H5File::open(&path).unwrap();
        let e = file.read_array("images").unwrap_err();
        assert!(e.contains("more than 4294967296 elements"), "{e}");
        let e = file.read_array("responses").unwrap_err();
        assert!(
            e.contains("the file is damaged") && e.contains("[65536, 65536]"),
            "{e}"
        );
        assert_eq!(file.read_array("fine").unwrap().0, vec![4]);
    }

    /// Issue 30, case 7: HDF5 external links and external storage were read but not hashed,
    /// so after the outside data changed `status` said up to date. Both are refused, naming the
    /// link or dataset (the caller names the file).
    #[test]
    fn case7_hdf5_external_links_and_external_storage_are_refused_naming_them() {
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("other.h5");
        h5::File::create(&other)
            .unwrap()
            .new_dataset::<f64>()
            .shape([2usize])
            .create("images")
            .unwrap()
            .write_raw(&[1.0, 2.0])
            .unwrap();
        let linked = d.path().join("linked.h5");
        {
            let f = h5::File::create(&linked).unwrap();
            f.link_external(&other.display().to_string(), "/images", "images")
                .unwrap();
        }
        let e = H5File::open(&linked).err().unwrap();
        assert!(
            e.contains("'images' is an external link") && e.contains("another file"),
            "{e}"
        );

        let raw = d.path().join("raw.bin");
        std::fs::write(&raw, [0u8; 16]).unwrap();
        let external = d.path().join("external.h5");
        {
            h5::File::create(&external)
                .unwrap()
                .new_dataset::<f64>()
                .shape([2usize])
                .external(&raw.display().to_string(), 0, 16)
                .create("responses")
                .unwrap();
        }
        let e = H5File::open(&external).err().unwrap();
        assert!(
            e.contains("dataset 'responses' keeps its values in external storage")
                && e.contains("raw.bin"),
            "{e}"
        );
    }
}
