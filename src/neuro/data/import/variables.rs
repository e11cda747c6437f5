//! Sources that are one file of named variables: MATLAB `.mat` (v5, read by
//! [`super::matlab`], and v7.3, an HDF5 file read by [`super::hdf5`]) and HDF5 `.h5`/`.hdf5`.
//! Each gives its arrays as the NumPy sources do: row-major shape and values.
//!
//! MATLAB has no 1-D arrays: a vector of n values is [1, n] or [n, 1], read as [n] for the
//! arrays that are lists (`train`, `validation`, `test`, `split`, `is_test`); it drops
//! trailing singleton dimensions, so `test_repeats` of one neuron, [R, N_test], is read as
//! [R, N_test, 1]. MATLAB's indices are 1-based: [`VarFile::one_based`] tells the split to
//! convert the index arrays of a `.mat` file.

use std::path::Path;

use super::arrays::Values;
use super::hdf5::H5File;
use super::matlab::{MatData, MatVar, is_v73, read_v5, to_loaded};

/// The arrays that are lists of one entry per image or index.
const VECTORS: [&str; 5] = ["train", "validation", "test", "split", "is_test"];

pub enum VarFile {
    MatV5(Vec<MatVar>),
    MatV73(H5File),
    Hdf5(H5File),
}

/// Whether `path`'s extension is one of a variables file (`.mat`, `.h5`, `.hdf5`).
pub fn is_var_file(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase)
            .as_deref(),
        Some("mat" | "h5" | "hdf5")
    )
}

impl VarFile {
    /// Opens a `.mat` (v5 or v7.3, told apart by their headers) or `.h5`/`.hdf5` file.
    pub fn open(path: &Path) -> Result<Self, String> {
        let mat = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("mat"));
        if !mat {
            return H5File::open(path).map(VarFile::Hdf5);
        }
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        if is_v73(&bytes) {
            drop(bytes);
            H5File::open(path)
                .map(VarFile::MatV73)
                .map_err(|e| format!("a MATLAB v7.3 (HDF5) file: {e}"))
        } else {
            read_v5(&bytes).map(VarFile::MatV5)
        }
    }

    /// The variables (or root datasets), in file order.
    pub fn names(&self) -> Vec<String> {
        match self {
            VarFile::MatV5(vars) => vars.iter().map(|v| v.name.clone()).collect(),
            VarFile::MatV73(f) | VarFile::Hdf5(f) => f.datasets.clone(),
        }
    }

    /// Whether index arrays count from 1 (MATLAB).
    pub fn one_based(&self) -> bool {
        !matches!(self, VarFile::Hdf5(_))
    }

    /// Variable `var`, read as array `name` (whose role decides how MATLAB's shapes are
    /// taken): row-major shape and values, and its type for the report.
    pub fn read(&self, var: &str, name: &str) -> Result<(Vec<usize>, Values, String), String> {
        let mat = match self {
            VarFile::Hdf5(f) => return f.read_array(var),
            VarFile::MatV73(f) => f.read_matlab(var)?,
            VarFile::MatV5(vars) => vars
                .iter()
                .find(|v| v.name == var)
                .cloned()
                .ok_or_else(|| format!("no variable '{var}'"))?,
        };
        let dtype = match &mat.data {
            MatData::Cell(_) => "cell of char".to_owned(),
            _ => mat.class.to_owned(),
        };
        let (mut shape, values) = to_loaded(&mat)?;
        match shape[..] {
            [1, n] | [n, 1] if VECTORS.contains(&name) => shape = vec![n],
            [_, _] if name == "test_repeats" => shape.push(1),
            _ => {}
        }
        Ok((shape, values, dtype))
    }
}
