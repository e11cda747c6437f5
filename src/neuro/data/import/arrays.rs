//! Reading the user's arrays, whatever their container: a folder of `.npy` files, one `.npz`
//! archive, or one file of variables (MATLAB `.mat`, HDF5 `.h5`, [`super::variables`]), each
//! array under its own name or the one the stage's `names` mapping gives. Opening a container takes its inventory ([`super::inventory`]), so only
//! accepted arrays that are not ignored can be read. Arrays come back with their shape and
//! dtype, and every read is recorded for the import report; errors name the file and the array
//! (`data.npz: array 'images'` or `recordings/images.npy`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, Order, TypeChar};

use crate::neuro::array::{check_npy_header, precheck_npy};

use super::ImportError;
use super::inventory::{Inventory, Layout, rename, take_inventory};
use super::report::{ArrayRead, Skipped};
use super::variables::{VarFile, is_var_file};

/// The element types the importer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    U8,
    F32,
    F64,
    /// Any signed or unsigned integer of 1-8 bytes (index arrays, integer labels).
    Int,
    /// Unicode (`<U..`) or byte (`|S..`) strings of at least one character (split labels).
    Str,
    /// NumPy's `bool` (`|b1`), each byte 0 or 1 (test masks).
    Bool,
}

/// An array as read: shape, and values in its own type (row-major).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    U8(Vec<u8>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Int(Vec<i64>),
    /// Strings without their trailing NULs; bytes that are not UTF-8 read as U+FFFD.
    Str(Vec<String>),
    Bool(Vec<bool>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// Where it came from, for messages.
    pub location: String,
    pub shape: Vec<usize>,
    pub dtype: String,
    pub values: Values,
}

impl Loaded {
    /// Values as f32 (uint8 scaled by 1/255 when `scale_u8`; bool as 0 or 1; strings, which
    /// are not numbers, as NaN).
    pub fn to_f32(&self, scale_u8: bool) -> Vec<f32> {
        match &self.values {
            Values::U8(v) => {
                let s = if scale_u8 { 255.0 } else { 1.0 };
                v.iter().map(|&x| x as f32 / s).collect()
            }
            Values::F32(v) => v.clone(),
            Values::F64(v) => v.iter().map(|&x| x as f32).collect(),
            Values::Int(v) => v.iter().map(|&x| x as f32).collect(),
            Values::Str(v) => vec![f32::NAN; v.len()],
            Values::Bool(v) => v.iter().map(|&b| f32::from(u8::from(b))).collect(),
        }
    }
}

/// Where arrays are read from.
enum Place {
    Dir(PathBuf),
    Npz {
        path: PathBuf,
        archive: npyz::npz::NpzArchive<BufReader<File>>,
    },
    /// A `.mat` or `.h5` file of variables.
    Vars {
        path: PathBuf,
        file: VarFile,
    },
}

/// An opened source: its place, its inventory, and the arrays read so far.
pub struct Container {
    place: Place,
    inventory: Inventory,
    reads: Vec<ArrayRead>,
    /// The source's own name of each array the `names` mapping renames.
    renamed: BTreeMap<String, String>,
}

impl Container {
    /// Opens a folder of `.npy` files or an `.npz` archive and takes its inventory: every file
    /// (or archive entry) must be accepted or named in `ignore`, and every `ignore` entry must
    /// name one.
    pub fn open(path: &Path, ignore: &[String]) -> Result<Self, ImportError> {
        Self::open_named(path, ignore, &BTreeMap::new())
    }

    /// [`Container::open`] with the `names` mapping: the importer's array name (`images`) to
    /// the source's own (`stim`), for each array the source names differently. Every key must
    /// be an accepted array, and every value name something in the source.
    pub fn open_named(
        path: &Path,
        ignore: &[String],
        names: &BTreeMap<String, String>,
    ) -> Result<Self, ImportError> {
        let bad = |message: &str| ImportError::Source {
            path: path.to_owned(),
            message: message.to_owned(),
        };
        if path.as_os_str().is_empty() {
            return Err(bad(
                "no source given: set `source` to a folder of .npy files or an .npz archive",
            ));
        }
        if !path.exists() {
            return Err(bad(&format!("not found (expected {SOURCES})")));
        }
        let source = path.display().to_string();
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .and_then(|rd| {
                    rd.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                        .collect::<std::io::Result<Vec<String>>>()
                })
                .map_err(|e| bad(&format!("cannot list the folder: {e}")))?;
            let entries = rename(&entries, Layout::Folder, names, &source)?;
            let inventory = take_inventory(&entries, Layout::Folder, ignore, &source)?;
            return Ok(Container {
                place: Place::Dir(path.to_owned()),
                inventory,
                reads: Vec::new(),
                renamed: names.clone(),
            });
        }
        if is_var_file(path) {
            let file = VarFile::open(path).map_err(|m| bad(&m))?;
            let entries = rename(&file.names(), Layout::Variables, names, &source)?;
            let inventory = take_inventory(&entries, Layout::Variables, ignore, &source)?;
            return Ok(Container {
                place: Place::Vars {
                    path: path.to_owned(),
                    file,
                },
                inventory,
                reads: Vec::new(),
                renamed: names.clone(),
            });
        }
        if path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase)
            .as_deref()
            != Some("npz")
        {
            return Err(bad(&format!("expected {SOURCES}")));
        }
        let mut archive = npyz::npz::NpzArchive::open(path)
            .map_err(|e| bad(&format!("cannot open the .npz archive: {e}")))?;
        let entries: Vec<String> = archive
            .zip_archive()
            .file_names()
            .map(str::to_owned)
            .collect();
        let entries = rename(&entries, Layout::Archive, names, &source)?;
        let inventory = take_inventory(&entries, Layout::Archive, ignore, &source)?;
        Ok(Container {
            place: Place::Npz {
                path: path.to_owned(),
                archive,
            },
            inventory,
            reads: Vec::new(),
            renamed: names.clone(),
        })
    }

    /// The folder or archive, for messages about several of its arrays.
    pub fn source(&self) -> String {
        match &self.place {
            Place::Dir(dir) => dir.display().to_string(),
            Place::Npz { path, .. } | Place::Vars { path, .. } => path.display().to_string(),
        }
    }

    /// The source's own name of array `name`.
    fn own<'a>(&'a self, name: &'a str) -> &'a str {
        self.renamed.get(name).map_or(name, String::as_str)
    }

    /// How array `name` is called in messages when the source calls it otherwise:
    /// ` (images)` after `'stim'`.
    fn role(&self, name: &str) -> String {
        if self.renamed.contains_key(name) {
            format!(" ({name})")
        } else {
            String::new()
        }
    }

    /// Whether the source's index arrays count from 1 (MATLAB `.mat` files).
    pub fn one_based(&self) -> bool {
        matches!(&self.place, Place::Vars { file, .. } if file.one_based())
    }

    /// How array `name` is referred to in messages.
    pub fn location(&self, name: &str) -> String {
        let (own, role) = (self.own(name), self.role(name));
        match &self.place {
            Place::Dir(dir) => format!("{}{role}", dir.join(format!("{own}.npy")).display()),
            Place::Npz { path, .. } => format!("{}: array '{own}'{role}", path.display()),
            Place::Vars { path, .. } => format!("{}: variable '{own}'{role}", path.display()),
        }
    }

    /// How array `name` is referred to in the report, relative to the source:
    /// `split.npy`, or `rec.npz: array 'split'`.
    pub fn short(&self, name: &str) -> String {
        let own = self.own(name);
        match &self.place {
            Place::Dir(_) => format!("{own}.npy"),
            Place::Npz { path, .. } => format!("{}: array '{own}'", file_name(path)),
            Place::Vars { path, .. } => format!("{}: variable '{own}'", file_name(path)),
        }
    }

    /// The accepted arrays present and not ignored, sorted.
    pub fn names(&self) -> Vec<String> {
        self.inventory.arrays.iter().cloned().collect()
    }

    /// Whether accepted array `name` is present and not ignored.
    pub fn has(&self, name: &str) -> bool {
        self.inventory.arrays.contains(name)
    }

    /// A file beside the arrays (folders only), e.g. `split.json`, unless ignored.
    pub fn side_file(&self, file: &str) -> Option<PathBuf> {
        match &self.place {
            Place::Dir(dir) if self.inventory.side_files.contains(file) => Some(dir.join(file)),
            _ => None,
        }
    }

    /// The arrays read so far, in order.
    pub fn reads(&self) -> &[ArrayRead] {
        &self.reads
    }

    /// What the inventory skipped, and why.
    pub fn skipped(&self) -> &[Skipped] {
        &self.inventory.skipped
    }

    /// Reads array `name` if present (and not ignored), accepting only the element kinds in
    /// `allowed`.
    pub fn read(&mut self, name: &str, allowed: &[Kind]) -> Result<Option<Loaded>, ImportError> {
        if !self.has(name) {
            return Ok(None);
        }
        let location = self.location(name);
        let own = self.own(name).to_owned();
        let (loaded, file, in_archive) = match &mut self.place {
            Place::Vars { path, file } => {
                let (shape, values, dtype) =
                    file.read(&own, name).map_err(|message| ImportError::Read {
                        location: location.clone(),
                        message,
                    })?;
                let values = accept(values, &dtype, &location, allowed)?;
                let loaded = Loaded {
                    location: location.clone(),
                    shape,
                    dtype,
                    values,
                };
                let short = format!("{}: variable '{own}'", file_name(path));
                (loaded, short, false)
            }
            Place::Dir(dir) => {
                let path = dir.join(format!("{own}.npy"));
                let loaded = read_npy(&path, location.clone(), allowed)?;
                (loaded, format!("{own}.npy"), false)
            }
            Place::Npz { path, archive } => {
                let Some(loaded) = super::npz::read_entry(archive, &own, &location, allowed)?
                else {
                    return Ok(None);
                };
                if own == name {
                    (loaded, file_name(path), true)
                } else {
                    (loaded, format!("{}: array '{own}'", file_name(path)), false)
                }
            }
        };
        self.reads.push(ArrayRead {
            array: name.to_owned(),
            file,
            in_archive,
            shape: loaded.shape.clone(),
            dtype: loaded.dtype.clone(),
        });
        Ok(Some(loaded))
    }

    /// Reads a required array; its absence is an error listing what is there.
    pub fn require(&mut self, name: &str, allowed: &[Kind]) -> Result<Loaded, ImportError> {
        match self.read(name, allowed)? {
            Some(a) => Ok(a),
            None => Err(ImportError::Missing {
                location: self.location(name),
                found: self.names(),
            }),
        }
    }
}

/// Reads one `.npy` file (header checked against the file's size first), accepting only the
/// element kinds in `allowed`; errors name `location`.
pub fn read_npy(path: &Path, location: String, allowed: &[Kind]) -> Result<Loaded, ImportError> {
    let io = |e: std::io::Error| ImportError::Read {
        location: location.clone(),
        message: e.to_string(),
    };
    let file = File::open(path).map_err(io)?;
    let available = file.metadata().map_err(io)?.len();
    precheck(&file, available, &location)?;
    let file = File::open(path).map_err(io)?;
    let npy = NpyFile::new(BufReader::new(file)).map_err(io)?;
    decode(npy, location, allowed, available)
}

/// What a source may be, for messages.
const SOURCES: &str = "a folder of .npy files, an .npz archive, a MATLAB .mat file (v5/v7 or \
                       v7.3) or an HDF5 .h5/.hdf5 file";

/// `values` if their kind is one of `allowed` (uint8 read as integers where integers are
/// asked for), else the dtype error.
fn accept(
    values: Values,
    dtype: &str,
    location: &str,
    allowed: &[Kind],
) -> Result<Values, ImportError> {
    let kind = match &values {
        Values::U8(_) => Kind::U8,
        Values::F32(_) => Kind::F32,
        Values::F64(_) => Kind::F64,
        Values::Int(_) => Kind::Int,
        Values::Str(_) => Kind::Str,
        Values::Bool(_) => Kind::Bool,
    };
    match values {
        _ if allowed.contains(&kind) => Ok(values),
        Values::U8(v) if allowed.contains(&Kind::Int) => {
            Ok(Values::Int(v.into_iter().map(i64::from).collect()))
        }
        _ => Err(ImportError::Dtype {
            location: location.to_owned(),
            expected: kind_names(allowed),
            found: dtype.to_owned(),
        }),
    }
}

/// The last component of `path`, for the report.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn kind_of(dtype: &DType) -> Option<Kind> {
    let DType::Plain(t) = dtype else {
        return None;
    };
    match (t.type_char(), t.size_field()) {
        (TypeChar::Uint, 1) => Some(Kind::U8),
        (TypeChar::Float, 4) => Some(Kind::F32),
        (TypeChar::Float, 8) => Some(Kind::F64),
        (TypeChar::Int | TypeChar::Uint, 1 | 2 | 4 | 8) => Some(Kind::Int),
        (TypeChar::Bool, 1) => Some(Kind::Bool),
        // `<U0` and `|S0` hold nothing: not labels.
        (TypeChar::UnicodeStr | TypeChar::ByteStr, n) if n > 0 => Some(Kind::Str),
        _ => None,
    }
}

fn kind_names(allowed: &[Kind]) -> String {
    let names: Vec<&str> = allowed
        .iter()
        .map(|k| match k {
            Kind::U8 => "uint8",
            Kind::F32 => "float32",
            Kind::F64 => "float64",
            Kind::Int => "an integer type",
            Kind::Str => "strings (<U.. or |S..)",
            Kind::Bool => "bool",
        })
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

pub(super) fn precheck(
    reader: impl Read,
    available: u64,
    location: &str,
) -> Result<(), ImportError> {
    precheck_npy(reader, available).map_err(|message| ImportError::Read {
        location: location.to_string(),
        message,
    })
}

/// Decodes an array of at most `available` bytes (its file's, or its archive entry's, size):
/// the dtype must be one of `allowed`, and the header's shape times the item size must fit in
/// the bytes there are, before anything is allocated.
pub(super) fn decode<R: Read>(
    npy: NpyFile<R>,
    location: String,
    allowed: &[Kind],
    available: u64,
) -> Result<Loaded, ImportError> {
    let dtype = npy.dtype();
    let shown = match &dtype {
        DType::Plain(t) => t.to_string(),
        other => other.descr(),
    };
    let kind = kind_of(&dtype)
        .filter(|k| allowed.contains(k) || (*k == Kind::U8 && allowed.contains(&Kind::Int)))
        .ok_or_else(|| ImportError::Dtype {
            location: location.clone(),
            expected: kind_names(allowed),
            found: shown.clone(),
        })?;
    let header = |message: String| ImportError::Read {
        location: location.clone(),
        message,
    };
    // An item size that overflows (`<U4611686018427387904`) must not pass as one byte.
    let item_bytes = dtype.num_bytes().filter(|&b| b > 0).ok_or_else(|| {
        header(format!(
            "its header declares dtype {shown}, whose item size does not fit in 64 bits"
        ))
    })?;
    check_npy_header(npy.shape(), npy.len(), Some(item_bytes), available).map_err(header)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let order = npy.order();
    let read_err = |e: std::io::Error| ImportError::Read {
        location: location.clone(),
        message: e.to_string(),
    };
    let values = match kind {
        Kind::U8 if !allowed.contains(&Kind::U8) => Values::Int(
            npy.into_vec::<u8>()
                .map_err(read_err)?
                .into_iter()
                .map(i64::from)
                .collect(),
        ),
        Kind::U8 => Values::U8(npy.into_vec::<u8>().map_err(read_err)?),
        Kind::F32 => Values::F32(npy.into_vec::<f32>().map_err(read_err)?),
        Kind::F64 => Values::F64(npy.into_vec::<f64>().map_err(read_err)?),
        Kind::Int => Values::Int(read_ints(npy, &dtype).map_err(read_err)?),
        Kind::Str => Values::Str(read_strings(npy, &dtype).map_err(read_err)?),
        // npyz refuses a byte other than 0 or 1 ("invalid value for bool").
        Kind::Bool => Values::Bool(npy.into_vec::<bool>().map_err(read_err)?),
    };
    let values = if order == Order::Fortran {
        to_row_major(values, &shape)
    } else {
        values
    };
    Ok(Loaded {
        location,
        shape,
        dtype: shown,
        values,
    })
}

/// Strings of a `<U..` (UTF-32 code points, either byte order) or `|S..` (bytes) array, without
/// their trailing NULs; what is not a character reads as U+FFFD.
fn read_strings<R: Read>(npy: NpyFile<R>, dtype: &DType) -> std::io::Result<Vec<String>> {
    let DType::Plain(t) = dtype else {
        return Err(std::io::Error::other("not a plain dtype"));
    };
    Ok(if t.type_char() == TypeChar::UnicodeStr {
        npy.into_vec::<Vec<u32>>()?
            .into_iter()
            .map(|points| {
                points
                    .into_iter()
                    .map(|p| char::from_u32(p).unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect()
            })
            .collect()
    } else {
        npy.into_vec::<Vec<u8>>()?
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    })
}

fn read_ints<R: Read>(npy: NpyFile<R>, dtype: &DType) -> std::io::Result<Vec<i64>> {
    let DType::Plain(t) = dtype else {
        return Err(std::io::Error::other("not a plain dtype"));
    };
    let signed = t.type_char() == TypeChar::Int;
    Ok(match (signed, t.size_field()) {
        (true, 1) => npy.into_vec::<i8>()?.into_iter().map(i64::from).collect(),
        (true, 2) => npy.into_vec::<i16>()?.into_iter().map(i64::from).collect(),
        (true, 4) => npy.into_vec::<i32>()?.into_iter().map(i64::from).collect(),
        (true, _) => npy.into_vec::<i64>()?,
        (false, 1) => npy.into_vec::<u8>()?.into_iter().map(i64::from).collect(),
        (false, 2) => npy.into_vec::<u16>()?.into_iter().map(i64::from).collect(),
        (false, 4) => npy.into_vec::<u32>()?.into_iter().map(i64::from).collect(),
        // Indices beyond i64 are out of range anyway; saturate so the range check names them.
        (false, _) => npy
            .into_vec::<u64>()?
            .into_iter()
            .map(|v| i64::try_from(v).unwrap_or(i64::MAX))
            .collect(),
    })
}

/// Reorders column-major (Fortran, MATLAB) data of `shape` to row-major.
pub(super) fn to_row_major(values: Values, shape: &[usize]) -> Values {
    fn reorder<T: Clone>(v: Vec<T>, shape: &[usize]) -> Vec<T> {
        let n = v.len();
        if shape.len() < 2 || n == 0 {
            return v;
        }
        let mut out = Vec::with_capacity(n);
        let mut index = vec![0usize; shape.len()];
        for _ in 0..n {
            // Column-major offset of the current row-major multi-index.
            let mut offset = 0;
            let mut stride = 1;
            for (i, &d) in index.iter().zip(shape) {
                offset += i * stride;
                stride *= d;
            }
            out.push(v[offset].clone());
            for axis in (0..shape.len()).rev() {
                index[axis] += 1;
                if index[axis] < shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        out
    }
    match values {
        Values::U8(v) => Values::U8(reorder(v, shape)),
        Values::F32(v) => Values::F32(reorder(v, shape)),
        Values::F64(v) => Values::F64(reorder(v, shape)),
        Values::Int(v) => Values::Int(reorder(v, shape)),
        Values::Str(v) => Values::Str(reorder(v, shape)),
        Values::Bool(v) => Values::Bool(reorder(v, shape)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_reordered() {
        // [[1, 2, 3], [4, 5, 6]] stored column-major.
        let v = to_row_major(Values::Int(vec![1, 4, 2, 5, 3, 6]), &[2, 3]);
        assert_eq!(v, Values::Int(vec![1, 2, 3, 4, 5, 6]));
    }

    #[test]
    fn kinds_are_listed_for_messages() {
        assert_eq!(
            kind_names(&[Kind::U8, Kind::F32, Kind::F64]),
            "uint8, float32 or float64"
        );
        assert_eq!(kind_names(&[Kind::Int]), "an integer type");
    }
}
