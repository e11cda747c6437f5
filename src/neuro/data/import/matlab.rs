//! MATLAB `.mat` files: the v5 format (MATLAB's `save -v7` and `-v6`, scipy's `savemat`) read
//! here from its published layout, and the conversion of MATLAB's column-major arrays to the
//! importer's row-major [`Values`] shared with v7.3 files (HDF5, [`super::hdf5`]).
//!
//! A v5 file is a 128-byte header and a sequence of tagged data elements, each variable one
//! `miMATRIX` element, possibly zlib-compressed (`miCOMPRESSED`). Numeric, logical and char
//! arrays are read, and cell arrays of char rows (split labels); structs, objects, sparse and
//! complex arrays are variables the importer cannot use and say so when read. Every length
//! and count is checked against the bytes there are: a truncated or corrupt file is an error,
//! never a panic.

use std::io::Read;

use super::arrays::{Values, to_row_major};

/// A variable as stored: MATLAB's class, dims (MATLAB order) and column-major data.
#[derive(Debug, Clone, PartialEq)]
pub struct MatVar {
    pub name: String,
    pub class: &'static str,
    pub dims: Vec<usize>,
    pub data: MatData,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MatData {
    /// Numbers or logicals, column-major.
    Numeric(Values),
    /// Characters, column-major (a char matrix holds one string per row).
    Chars(Vec<char>),
    /// The cells, column-major.
    Cell(Vec<MatVar>),
    /// A class the importer cannot read, with what it is.
    Unsupported(String),
}

/// The 8 bytes that start an HDF5 file; a v7.3 `.mat` file has them after its 512-byte header.
pub const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Which `.mat` format `head` (the file's first 520 bytes or fewer) is.
pub fn is_v73(head: &[u8]) -> bool {
    head.get(512..520) == Some(HDF5_SIGNATURE)
}

/// Nesting depth at which cells of cells stop being followed (a corrupt file could nest
/// without end).
const MAX_DEPTH: usize = 8;

/// The variables of a v5 `.mat` file, in file order.
pub fn read_v5(bytes: &[u8]) -> Result<Vec<MatVar>, String> {
    if bytes.len() < 128 {
        return Err(format!(
            "not a MATLAB .mat file: {} bytes, shorter than the 128-byte header",
            bytes.len()
        ));
    }
    let big = match &bytes[126..128] {
        b"IM" => false,
        b"MI" => true,
        _ if bytes.starts_with(b"MATLAB") => {
            return Err("not a v5 or v7.3 MATLAB file (its header has no byte-order mark)".into());
        }
        _ => {
            return Err(
                "not a MATLAB .mat file (no 'MATLAB' header; MATLAB v4 files are not read: \
                 save with -v7 or -v7.3)"
                    .into(),
            );
        }
    };
    let mut vars = Vec::new();
    let mut rest = &bytes[128..];
    while rest.len() >= 8 {
        let (kind, data, used) = element(rest, big)?;
        rest = &rest[used.min(rest.len())..];
        let var = match kind {
            MI_COMPRESSED => {
                let mut inflated = Vec::new();
                flate2::read::ZlibDecoder::new(data)
                    .read_to_end(&mut inflated)
                    .map_err(|e| format!("a compressed variable does not inflate: {e}"))?;
                let (kind, data, _) = element(&inflated, big)?;
                if kind != MI_MATRIX {
                    continue;
                }
                matrix(data, big, 0)?
            }
            MI_MATRIX => matrix(data, big, 0)?,
            _ => continue,
        };
        // MATLAB's subsystem data (objects) is a top-level matrix without a name.
        if !var.name.is_empty() {
            vars.push(var);
        }
    }
    check_unique(&vars)?;
    Ok(vars)
}

/// Two variables of one name (which MATLAB never writes) are an error naming both, rather
/// than one silently read (issue 30, case 9).
fn check_unique(vars: &[MatVar]) -> Result<(), String> {
    let mut first = std::collections::HashMap::with_capacity(vars.len());
    for (i, v) in vars.iter().enumerate() {
        if let Some(j) = first.insert(v.name.as_str(), i) {
            return Err(format!(
                "two variables are named '{}' (variables {} and {} of the file): save each \
                 array under its own name",
                v.name,
                j + 1,
                i + 1
            ));
        }
    }
    Ok(())
}

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

fn u32_at(b: &[u8], at: usize, big: bool) -> Result<u32, String> {
    let s: [u8; 4] = b
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or("truncated: a data element ends early")?;
    Ok(if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

/// One data element at the start of `b`: its type, its data, and the bytes it takes with its
/// tag and padding.
fn element(b: &[u8], big: bool) -> Result<(u32, &[u8], usize), String> {
    let first = u32_at(b, 0, big)?;
    if first >> 16 != 0 {
        // Small data element: type and size in one word, up to 4 bytes of data after it.
        let n = (first >> 16) as usize;
        let data = b
            .get(4..4 + n.min(4))
            .filter(|_| n <= 4)
            .ok_or("truncated or corrupt: a small data element does not fit")?;
        return Ok((first & 0xffff, data, 8));
    }
    let n = u32_at(b, 4, big)? as usize;
    let data = b.get(8..8 + n).ok_or_else(|| {
        format!(
            "truncated: a data element declares {n} bytes, {} remain",
            b.len() - 8
        )
    })?;
    let padded = if first == MI_COMPRESSED {
        n
    } else {
        n.div_ceil(8) * 8
    };
    Ok((first, data, 8 + padded))
}

/// The sub-elements of a matrix, in order.
fn sub_elements(mut b: &[u8], big: bool) -> Result<Vec<(u32, &[u8])>, String> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let (kind, data, used) = element(b, big)?;
        out.push((kind, data));
        b = &b[used.min(b.len())..];
    }
    Ok(out)
}

/// MATLAB's class names, by class number.
fn class_name(class: u32) -> &'static str {
    match class {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        _ => "unknown",
    }
}

fn matrix(b: &[u8], big: bool, depth: usize) -> Result<MatVar, String> {
    if b.is_empty() {
        // An empty cell.
        return Ok(MatVar {
            name: String::new(),
            class: "double",
            dims: vec![0, 0],
            data: MatData::Numeric(Values::F64(Vec::new())),
        });
    }
    if depth > MAX_DEPTH {
        return Err(format!("cells nested deeper than {MAX_DEPTH} levels"));
    }
    let subs = sub_elements(b, big)?;
    let [
        (MI_UINT32, flags),
        (MI_INT32, dims),
        (MI_INT8, name),
        rest @ ..,
    ] = &subs[..]
    else {
        return Err("corrupt: a variable lacks its flags, dimensions or name".into());
    };
    let flags = u32_at(flags, 0, big)?;
    let class_id = flags & 0xff;
    let logical = flags & 0x200 != 0;
    let complex = flags & 0x800 != 0;
    let dims: Vec<usize> = (0..dims.len() / 4)
        .map(|i| {
            let d = u32_at(dims, 4 * i, big)? as i32;
            usize::try_from(d).map_err(|_| format!("corrupt: dimension {d}"))
        })
        .collect::<Result<_, _>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("corrupt: its dimensions overflow")?;
    let name = String::from_utf8_lossy(name).into_owned();
    let class = if logical && class_id == 9 {
        "logical"
    } else {
        class_name(class_id)
    };
    let unsupported = |what: String| MatVar {
        name: name.clone(),
        class,
        dims: dims.clone(),
        data: MatData::Unsupported(what),
    };
    let data = match class_id {
        1 => {
            if rest.len() != count || rest.iter().any(|(k, _)| *k != MI_MATRIX) {
                return Err(format!(
                    "corrupt: a cell array of {count} cells holds {} elements",
                    rest.len()
                ));
            }
            let cells = rest
                .iter()
                .map(|(_, d)| matrix(d, big, depth + 1))
                .collect::<Result<_, _>>()?;
            MatData::Cell(cells)
        }
        4 => {
            let chars = match rest.first() {
                None => Vec::new(),
                Some((kind, d)) => chars(*kind, d, big)?,
            };
            if chars.len() != count {
                return Err(format!(
                    "corrupt: a char array of {count} characters holds {}",
                    chars.len()
                ));
            }
            MatData::Chars(chars)
        }
        6..=15 if complex => return Ok(unsupported("a complex array".into())),
        6..=15 => {
            let Some((kind, d)) = rest.first() else {
                return Err("corrupt: a numeric variable has no data".into());
            };
            let values = numbers(class_id, logical, *kind, d, big)?;
            if values.len() != count {
                return Err(format!(
                    "corrupt: {class} array of dims {dims:?} holds {} values, not {count}",
                    values.len()
                ));
            }
            MatData::Numeric(values.into_values())
        }
        _ => return Ok(unsupported(format!("a MATLAB {class}"))),
    };
    Ok(MatVar {
        name,
        class,
        dims,
        data,
    })
}

/// Numbers of a numeric class, decoded from whichever type MATLAB stored them as (it stores
/// doubles that are small integers as `miUINT8`, for instance).
enum Numbers {
    F64(Vec<f64>),
    F32(Vec<f32>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
    Int(Vec<i64>),
}

impl Numbers {
    fn len(&self) -> usize {
        match self {
            Numbers::F64(v) => v.len(),
            Numbers::F32(v) => v.len(),
            Numbers::U8(v) => v.len(),
            Numbers::Bool(v) => v.len(),
            Numbers::Int(v) => v.len(),
        }
    }

    fn into_values(self) -> Values {
        match self {
            Numbers::F64(v) => Values::F64(v),
            Numbers::F32(v) => Values::F32(v),
            Numbers::U8(v) => Values::U8(v),
            Numbers::Bool(v) => Values::Bool(v),
            Numbers::Int(v) => Values::Int(v),
        }
    }
}

fn numbers(class: u32, logical: bool, kind: u32, d: &[u8], big: bool) -> Result<Numbers, String> {
    let width = match kind {
        MI_INT8 | MI_UINT8 => 1,
        MI_INT16 | MI_UINT16 => 2,
        MI_INT32 | MI_UINT32 | MI_SINGLE => 4,
        MI_DOUBLE | MI_INT64 | MI_UINT64 => 8,
        other => return Err(format!("corrupt: numeric data of element type {other}")),
    };
    if !d.len().is_multiple_of(width) {
        return Err("corrupt: numeric data of a partial element".into());
    }
    let word = |c: &[u8]| -> [u8; 8] {
        let mut w = [0u8; 8];
        if big {
            w[8 - width..].copy_from_slice(c);
        } else {
            w[..width].copy_from_slice(c);
        }
        w
    };
    let as_u64 = |c: &[u8]| {
        if big {
            u64::from_be_bytes(word(c))
        } else {
            u64::from_le_bytes(word(c))
        }
    };
    // Each value as f64 (floats, and integers as MATLAB stores them).
    let float = |c: &[u8]| -> f64 {
        let u = as_u64(c);
        let shift = 64 - 8 * width as u32;
        match kind {
            MI_SINGLE => f64::from(f32::from_bits(u as u32)),
            MI_DOUBLE => f64::from_bits(u),
            MI_INT8 | MI_INT16 | MI_INT32 | MI_INT64 => (((u << shift) as i64) >> shift) as f64,
            _ => u as f64,
        }
    };
    let int = |c: &[u8]| -> Result<i64, String> {
        let u = as_u64(c);
        let shift = 64 - 8 * width as u32;
        match kind {
            MI_SINGLE | MI_DOUBLE => {
                let f = float(c);
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    Ok(f as i64)
                } else {
                    Err(format!("integer variable holds {f}"))
                }
            }
            MI_INT8 | MI_INT16 | MI_INT32 | MI_INT64 => Ok(((u << shift) as i64) >> shift),
            _ => Ok(i64::try_from(u).unwrap_or(i64::MAX)),
        }
    };
    let chunks = d.chunks_exact(width);
    Ok(match class {
        6 => Numbers::F64(chunks.map(float).collect()),
        7 => Numbers::F32(chunks.map(|c| float(c) as f32).collect()),
        9 if logical => Numbers::Bool(
            chunks
                .map(|c| match int(c)? {
                    0 => Ok(false),
                    1 => Ok(true),
                    v => Err(format!("logical variable holds {v}")),
                })
                .collect::<Result<_, _>>()?,
        ),
        9 => Numbers::U8(
            chunks
                .map(|c| u8::try_from(int(c)?).map_err(|_| "uint8 variable out of range".into()))
                .collect::<Result<_, String>>()?,
        ),
        _ => Numbers::Int(chunks.map(int).collect::<Result<_, _>>()?),
    })
}

fn chars(kind: u32, d: &[u8], big: bool) -> Result<Vec<char>, String> {
    let units = |w: usize| {
        d.chunks_exact(w).map(move |c| {
            let mut x = [0u8; 4];
            x[..w].copy_from_slice(c);
            if big {
                x[..w].reverse();
            }
            u32::from_le_bytes(x)
        })
    };
    Ok(match kind {
        MI_UTF8 => String::from_utf8_lossy(d).chars().collect(),
        MI_UINT8 | MI_INT8 => d.iter().map(|&b| char::from(b)).collect(),
        MI_UTF16 | MI_UINT16 => char::decode_utf16(units(2).map(|u| u as u16))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
        MI_UTF32 | MI_UINT32 => units(4)
            .map(|u| char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
        other => return Err(format!("corrupt: char data of element type {other}")),
    })
}

/// A variable as the importer reads it: row-major shape and values, or why it cannot be read.
/// Char matrices become one string per row and cell arrays of char rows one string per cell,
/// both of shape [rows] (strings without trailing blanks).
pub fn to_loaded(var: &MatVar) -> Result<(Vec<usize>, Values), String> {
    match &var.data {
        MatData::Numeric(values) => Ok((var.dims.clone(), to_row_major(values.clone(), &var.dims))),
        MatData::Chars(chars) => {
            let [rows, cols] = var.dims[..] else {
                return Err(format!(
                    "a char array of dims {:?}; labels must be a char matrix, one per row",
                    var.dims
                ));
            };
            let strings = (0..rows)
                .map(|r| {
                    let s: String = (0..cols).map(|c| chars[r + c * rows]).collect();
                    s.trim_end_matches([' ', '\0']).to_owned()
                })
                .collect();
            Ok((vec![rows], Values::Str(strings)))
        }
        MatData::Cell(cells) => {
            let strings = cells
                .iter()
                .map(|c| match (&c.data, &c.dims[..]) {
                    (MatData::Chars(chars), [1, _] | [0, 0]) => Ok(chars
                        .iter()
                        .collect::<String>()
                        .trim_end_matches([' ', '\0'])
                        .to_owned()),
                    _ => Err(format!(
                        "a cell array holding a {} of dims {:?}; accepted: a cell array of \
                         strings (char rows)",
                        c.class, c.dims
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((vec![strings.len()], Values::Str(strings)))
        }
        MatData::Unsupported(what) => Err(format!(
            "{what}, which is not read; accepted: numeric and logical arrays, char matrices \
             and cell arrays of strings"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_files_are_errors() {
        assert!(read_v5(b"hello").unwrap_err().contains("shorter than"));
        let mut header = vec![b' '; 128];
        header[..6].copy_from_slice(b"MATLAB");
        header[126..].copy_from_slice(b"IM");
        // A matrix element declaring more bytes than there are.
        let mut b = header.clone();
        b.extend(14u32.to_le_bytes());
        b.extend(1000u32.to_le_bytes());
        b.extend([0u8; 16]);
        assert!(read_v5(&b).unwrap_err().contains("truncated"));
        // Garbage inside a matrix.
        let mut b = header;
        b.extend(14u32.to_le_bytes());
        b.extend(16u32.to_le_bytes());
        b.extend([0xffu8; 16]);
        assert!(read_v5(&b).is_err());
    }

    /// A v5 double scalar variable `name` = `value`.
    fn scalar(name: &str, value: f64) -> Vec<u8> {
        let mut m = Vec::new();
        let mut sub = |kind: u32, data: &[u8]| {
            m.extend(kind.to_le_bytes());
            m.extend((data.len() as u32).to_le_bytes());
            m.extend(data);
            m.resize(m.len().next_multiple_of(8), 0);
        };
        sub(MI_UINT32, &[6, 0, 0, 0, 0, 0, 0, 0]); // flags: mxDOUBLE_CLASS
        sub(MI_INT32, &[1, 0, 0, 0, 1, 0, 0, 0]); // dims 1 x 1
        sub(MI_INT8, name.as_bytes());
        sub(MI_DOUBLE, &value.to_le_bytes());
        let mut out = MI_MATRIX.to_le_bytes().to_vec();
        out.extend((m.len() as u32).to_le_bytes());
        out.extend(m);
        out
    }

    /// Issue 30, case 9: a `.mat` with two `images` variables was accepted silently.
    #[test]
    fn case9_two_variables_of_one_name_are_an_error_naming_both() {
        let mut b = vec![b' '; 128];
        b[..6].copy_from_slice(b"MATLAB");
        b[126..].copy_from_slice(b"IM");
        b.extend(scalar("images", 1.0));
        b.extend(scalar("responses", 2.0));
        assert_eq!(read_v5(&b).unwrap().len(), 2);
        b.extend(scalar("images", 3.0));
        let e = read_v5(&b).unwrap_err();
        assert!(
            e.contains("two variables are named 'images' (variables 1 and 3"),
            "{e}"
        );
    }
}
