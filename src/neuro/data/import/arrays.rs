//! Reading the user's NumPy arrays, whatever their container: a folder of `.npy` files or one
//! `.npz` archive. Arrays come back with their shape and dtype; errors name the file and the
//! array (`data.npz: array 'images'` or `recordings/images.npy`).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, Order, TypeChar};

use crate::neuro::array::{check_npy_header, precheck_npy};

use super::ImportError;

/// The element types the importer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    U8,
    F32,
    F64,
    /// Any signed or unsigned integer of 1-8 bytes (index arrays).
    Int,
}

/// An array as read: shape, and values in its own type (row-major).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    U8(Vec<u8>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Int(Vec<i64>),
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
    /// Values as f32 (uint8 scaled by 1/255 when `scale_u8`).
    pub fn to_f32(&self, scale_u8: bool) -> Vec<f32> {
        match &self.values {
            Values::U8(v) => {
                let s = if scale_u8 { 255.0 } else { 1.0 };
                v.iter().map(|&x| x as f32 / s).collect()
            }
            Values::F32(v) => v.clone(),
            Values::F64(v) => v.iter().map(|&x| x as f32).collect(),
            Values::Int(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
}

/// Where arrays are read from.
pub enum Container {
    Dir(PathBuf),
    Npz {
        path: PathBuf,
        archive: npyz::npz::NpzArchive<BufReader<File>>,
    },
}

impl Container {
    /// Opens a folder of `.npy` files or an `.npz` archive.
    pub fn open(path: &Path) -> Result<Self, ImportError> {
        let bad = |message: &str| ImportError::Source {
            path: path.to_owned(),
            message: message.to_owned(),
        };
        if path.as_os_str().is_empty() {
            return Err(ImportError::Source {
                path: path.to_owned(),
                message:
                    "no source given: set `source` to a folder of .npy files or an .npz archive"
                        .into(),
            });
        }
        if !path.exists() {
            return Err(bad(
                "not found (expected a folder of .npy files or an .npz archive)",
            ));
        }
        if path.is_dir() {
            return Ok(Container::Dir(path.to_owned()));
        }
        if path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase)
            .as_deref()
            != Some("npz")
        {
            return Err(bad("expected a folder of .npy files or an .npz archive"));
        }
        let archive = npyz::npz::NpzArchive::open(path)
            .map_err(|e| bad(&format!("cannot open the .npz archive: {e}")))?;
        Ok(Container::Npz {
            path: path.to_owned(),
            archive,
        })
    }

    /// How `name` is referred to in messages.
    /// The folder or archive, for messages about several of its arrays.
    pub fn source(&self) -> String {
        match self {
            Container::Dir(dir) => dir.display().to_string(),
            Container::Npz { path, .. } => path.display().to_string(),
        }
    }

    pub fn location(&self, name: &str) -> String {
        match self {
            Container::Dir(dir) => dir.join(format!("{name}.npy")).display().to_string(),
            Container::Npz { path, .. } => format!("{}: array '{name}'", path.display()),
        }
    }

    /// The arrays present (for messages).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Container::Dir(dir) => std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter_map(|e| {
                            let p = e.path();
                            (p.extension().and_then(|x| x.to_str()) == Some("npy"))
                                .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                                .flatten()
                        })
                        .collect()
                })
                .unwrap_or_default(),
            Container::Npz { archive, .. } => archive.array_names().map(str::to_owned).collect(),
        };
        names.sort();
        names
    }

    /// A file beside the arrays (folders only), e.g. `split.json`.
    pub fn side_file(&self, file: &str) -> Option<PathBuf> {
        match self {
            Container::Dir(dir) => Some(dir.join(file)).filter(|p| p.exists()),
            Container::Npz { .. } => None,
        }
    }

    /// Reads array `name` if present, accepting only the element kinds in `allowed`.
    pub fn read(&mut self, name: &str, allowed: &[Kind]) -> Result<Option<Loaded>, ImportError> {
        let location = self.location(name);
        let io = |e: std::io::Error| ImportError::Read {
            location: location.clone(),
            message: e.to_string(),
        };
        match self {
            Container::Dir(dir) => {
                let path = dir.join(format!("{name}.npy"));
                if !path.exists() {
                    return Ok(None);
                }
                let file = File::open(&path).map_err(io)?;
                let available = file.metadata().map_err(io)?.len();
                precheck(&file, available, &location)?;
                let file = File::open(&path).map_err(io)?;
                let npy = NpyFile::new(BufReader::new(file)).map_err(io)?;
                decode(npy, location.clone(), allowed, available).map(Some)
            }
            Container::Npz { archive, .. } => {
                // The header is checked on a first read of the entry: npyz trusts it.
                let entry = npyz::npz::file_name_from_array_name(name);
                let available = match archive.zip_archive().by_name(&entry) {
                    Ok(e) => {
                        let size = e.size();
                        precheck(e, size, &location)?;
                        size
                    }
                    Err(_) => return Ok(None),
                };
                match archive.by_name(name).map_err(io)? {
                    None => Ok(None),
                    Some(npy) => decode(npy, location.clone(), allowed, available).map(Some),
                }
            }
        }
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

fn kind_of(dtype: &DType) -> Option<Kind> {
    let DType::Plain(t) = dtype else {
        return None;
    };
    match (t.type_char(), t.size_field()) {
        (TypeChar::Uint, 1) => Some(Kind::U8),
        (TypeChar::Float, 4) => Some(Kind::F32),
        (TypeChar::Float, 8) => Some(Kind::F64),
        (TypeChar::Int | TypeChar::Uint, 1 | 2 | 4 | 8) => Some(Kind::Int),
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
        })
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

fn precheck(reader: impl Read, available: u64, location: &str) -> Result<(), ImportError> {
    precheck_npy(reader, available).map_err(|message| ImportError::Read {
        location: location.to_string(),
        message,
    })
}

/// Decodes an array of at most `available` bytes (its file's, or its archive entry's, size).
fn decode<R: Read>(
    npy: NpyFile<R>,
    location: String,
    allowed: &[Kind],
    available: u64,
) -> Result<Loaded, ImportError> {
    check_npy_header(npy.shape(), npy.len(), npy.dtype().num_bytes(), available).map_err(
        |message| ImportError::Read {
            location: location.clone(),
            message,
        },
    )?;
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

/// Reorders column-major (Fortran) data to row-major.
fn to_row_major(values: Values, shape: &[usize]) -> Values {
    fn reorder<T: Copy>(v: Vec<T>, shape: &[usize]) -> Vec<T> {
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
            out.push(v[offset]);
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
