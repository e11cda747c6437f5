//! Compares two versions of an artifact that should be identical, and when they are not, says
//! where they differ: per tensor for safetensors files, per array for `.npy` files, per value
//! for JSON, per column for CSV files with a header (`audit::csv`), per file for directories.
//! Differences are measured as the largest absolute and relative difference, the relative one
//! by the one formula used across reproducibility classes
//! ([`crate::reproducibility::tolerance::relative_difference`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::reproducibility::tolerance::relative_difference;

/// One differing part of an artifact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// What differs: `file.safetensors: tensor alpha1.conv.weight`, `metrics: mean_corr`, ...
    pub what: String,
    pub max_abs: Option<f64>,
    pub max_rel: Option<f64>,
    /// For non-numeric differences (shape, dtype, presence, bytes).
    pub note: Option<String>,
    /// A numeric difference of a model's parameters (a safetensors tensor). Across
    /// reproducibility classes it is reported, not judged: a model is judged on what it
    /// predicts, and training moves parameters near zero by more than any relative tolerance
    /// (measured: a bias by 9e-2 relative while every prediction moved by 1e-3).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parameters: bool,
}

impl Difference {
    pub(crate) fn note(what: String, note: impl Into<String>) -> Self {
        Self {
            what,
            max_abs: None,
            max_rel: None,
            note: Some(note.into()),
            parameters: false,
        }
    }

    /// Whether the difference is numeric with a relative size of at most `rtol`.
    pub fn within_relative(&self, rtol: f64) -> bool {
        self.note.is_none() && self.max_rel.is_some_and(|r| r <= rtol)
    }

    /// Whether the difference is numeric and within the tolerance (absolute or relative).
    pub fn within(&self, tolerance: f64) -> bool {
        match (self.max_abs, self.max_rel) {
            (Some(a), Some(r)) => self.note.is_none() && (a <= tolerance || r <= tolerance),
            _ => false,
        }
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.what)?;
        if let (Some(a), Some(r)) = (self.max_abs, self.max_rel) {
            write!(f, ": max |diff| {a:.3e}, max relative diff {r:.3e}")?;
        }
        if let Some(n) = &self.note {
            write!(f, ": {n}")?;
        }
        Ok(())
    }
}

/// Largest absolute and relative difference of two equally long series (NaN == NaN).
fn max_diffs(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut abs: f64 = 0.0;
    let mut rel: f64 = 0.0;
    for (x, y) in a.iter().zip(b) {
        if x.is_nan() && y.is_nan() {
            continue;
        }
        let d = (x - y).abs();
        abs = abs.max(if d.is_nan() { f64::INFINITY } else { d });
        rel = rel.max(relative_difference(*x, *y));
    }
    (abs, rel)
}

fn numeric(what: String, a: &[f64], b: &[f64]) -> Option<Difference> {
    if a.len() != b.len() {
        return Some(Difference::note(
            what,
            format!("{} values vs {}", a.len(), b.len()),
        ));
    }
    let same = a
        .iter()
        .zip(b)
        .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
    if same {
        return None;
    }
    let (max_abs, max_rel) = max_diffs(a, b);
    Some(Difference {
        what,
        max_abs: Some(max_abs),
        max_rel: Some(max_rel),
        note: None,
        parameters: false,
    })
}

/// Compares two files (or directories) that are expected to be identical; `label` names the
/// artifact in the differences.
pub fn compare_paths(label: &str, a: &Path, b: &Path) -> Vec<Difference> {
    if a.is_dir() || b.is_dir() {
        return compare_dirs(label, a, b);
    }
    let (Ok(x), Ok(y)) = (std::fs::read(a), std::fs::read(b)) else {
        return vec![Difference::note(
            label.to_string(),
            "cannot read one of the two versions",
        )];
    };
    if x == y {
        return Vec::new();
    }
    compare_bytes(label, &x, &y)
}

fn compare_bytes(label: &str, x: &[u8], y: &[u8]) -> Vec<Difference> {
    if let (Ok(sx), Ok(sy)) = (
        safetensors::SafeTensors::deserialize(x),
        safetensors::SafeTensors::deserialize(y),
    ) {
        return compare_safetensors(label, &sx, &sy);
    }
    if let (Some(ax), Some(ay)) = (npy_values(x), npy_values(y)) {
        if ax.0 != ay.0 {
            return vec![Difference::note(
                label.to_string(),
                format!("shape {:?} vs {:?}", ax.0, ay.0),
            )];
        }
        return numeric(label.to_string(), &ax.1, &ay.1)
            .into_iter()
            .collect();
    }
    if let (Ok(jx), Ok(jy)) = (
        serde_json::from_slice::<serde_json::Value>(x),
        serde_json::from_slice::<serde_json::Value>(y),
    ) {
        let mut out = Vec::new();
        compare_json(label, &jx, &jy, &mut out);
        return out;
    }
    if let (Ok(tx), Ok(ty)) = (std::str::from_utf8(x), std::str::from_utf8(y))
        && let Some(found) = super::csv::compare_csv(label, tx, ty)
    {
        return found;
    }
    vec![Difference::note(
        label.to_string(),
        format!("bytes differ ({} vs {} bytes)", x.len(), y.len()),
    )]
}

fn compare_safetensors(
    label: &str,
    a: &safetensors::SafeTensors,
    b: &safetensors::SafeTensors,
) -> Vec<Difference> {
    let mut names: Vec<String> = a
        .names()
        .into_iter()
        .chain(b.names())
        .map(String::from)
        .collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let what = format!("{label}: tensor {name}");
        match (a.tensor(&name), b.tensor(&name)) {
            (Ok(x), Ok(y)) => {
                if x.shape() != y.shape() || x.dtype() != y.dtype() {
                    out.push(Difference::note(
                        what,
                        format!(
                            "{:?} {:?} vs {:?} {:?}",
                            x.dtype(),
                            x.shape(),
                            y.dtype(),
                            y.shape()
                        ),
                    ));
                } else if x.data() != y.data() {
                    match (tensor_values(&x), tensor_values(&y)) {
                        (Some(vx), Some(vy)) => {
                            out.extend(numeric(what, &vx, &vy).map(|d| Difference {
                                parameters: true,
                                ..d
                            }))
                        }
                        _ => out.push(Difference::note(what, "bytes differ")),
                    }
                }
            }
            (Ok(_), Err(_)) => out.push(Difference::note(what, "missing from the new version")),
            (Err(_), Ok(_)) => out.push(Difference::note(what, "not in the recorded version")),
            (Err(_), Err(_)) => {}
        }
    }
    out
}

fn tensor_values(t: &safetensors::tensor::TensorView) -> Option<Vec<f64>> {
    use safetensors::Dtype;
    let d = t.data();
    Some(match t.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        Dtype::I64 => d
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64)
            .collect(),
        _ => return None,
    })
}

/// Shape and values of a little-endian float `.npy` file.
fn npy_values(bytes: &[u8]) -> Option<(Vec<u64>, Vec<f64>)> {
    let npy = npyz::NpyFile::new(bytes).ok()?;
    let shape = npy.shape().to_vec();
    let values = match npy.into_vec::<f32>() {
        Ok(v) => v.into_iter().map(f64::from).collect(),
        Err(_) => npyz::NpyFile::new(bytes).ok()?.into_vec::<f64>().ok()?,
    };
    Some((shape, values))
}

fn compare_json(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<Difference>,
) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => compare_json(&p, u, v, out),
                    _ => out.push(Difference::note(p, "present in only one version")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            let nums: Option<(Vec<f64>, Vec<f64>)> = x
                .iter()
                .zip(y)
                .map(|(u, v)| Some((u.as_f64()?, v.as_f64()?)))
                .collect::<Option<Vec<_>>>()
                .map(|v| v.into_iter().unzip());
            match nums {
                Some((u, v)) => out.extend(numeric(path.to_string(), &u, &v)),
                None => {
                    for (i, (u, v)) in x.iter().zip(y).enumerate() {
                        compare_json(&format!("{path}[{i}]"), u, v, out);
                    }
                }
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            out.extend(numeric(
                path.to_string(),
                &[x.as_f64().unwrap_or(f64::NAN)],
                &[y.as_f64().unwrap_or(f64::NAN)],
            ));
        }
        (x, y) if x != y => out.push(Difference::note(path.to_string(), format!("{x} vs {y}"))),
        _ => {}
    }
}

/// Compares JSON metric maps (stage records' metrics).
pub fn compare_metrics(
    a: &serde_json::Map<String, serde_json::Value>,
    b: &serde_json::Map<String, serde_json::Value>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    compare_json(
        "metrics",
        &serde_json::Value::Object(a.clone()),
        &serde_json::Value::Object(b.clone()),
        &mut out,
    );
    out
}

fn compare_dirs(label: &str, a: &Path, b: &Path) -> Vec<Difference> {
    let list = |d: &Path| -> BTreeMap<String, std::path::PathBuf> {
        walkdir::WalkDir::new(d)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path()
                        .strip_prefix(d)
                        .map(|r| r.display().to_string())
                        .unwrap_or_default(),
                    e.into_path(),
                )
            })
            .collect()
    };
    let (la, lb) = (list(a), list(b));
    let names: std::collections::BTreeSet<&String> = la.keys().chain(lb.keys()).collect();
    let mut out = Vec::new();
    for n in names {
        let what = format!("{label}/{n}");
        match (la.get(n), lb.get(n)) {
            (Some(x), Some(y)) => out.extend(compare_paths(&what, x, y)),
            _ => out.push(Difference::note(what, "present in only one version")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safetensors_file(dir: &Path, name: &str, w: &[f32]) -> std::path::PathBuf {
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![w.len()], &bytes)
                .unwrap();
        let other: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let keep =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &other).unwrap();
        let data = safetensors::serialize(
            vec![("alpha1.conv.weight", view), ("readout.bias", keep)],
            None,
        )
        .unwrap();
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    #[test]
    fn names_the_differing_tensor_with_its_largest_differences() {
        let dir = tempfile::tempdir().unwrap();
        let a = safetensors_file(dir.path(), "a", &[1.0, 2.0, 4.0]);
        let b = safetensors_file(dir.path(), "b", &[1.0, 2.5, 4.0]);
        let d = compare_paths("checkpoint", &a, &b);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].what, "checkpoint: tensor alpha1.conv.weight");
        assert_eq!(d[0].max_abs, Some(0.5));
        assert_eq!(d[0].max_rel, Some(0.2));
        assert!(d[0].within(0.3) && !d[0].within(0.1));
        assert!(compare_paths("checkpoint", &a, &a).is_empty());
    }

    #[test]
    fn compares_npy_arrays_and_json_values() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
        crate::neuro::array::ArrayF32::new(vec![2], vec![1.0, 2.0])
            .write_npy(&a)
            .unwrap();
        crate::neuro::array::ArrayF32::new(vec![2], vec![1.0, 3.0])
            .write_npy(&b)
            .unwrap();
        let d = compare_paths("pred.npy", &a, &b);
        assert_eq!(d[0].max_abs, Some(1.0));
        let m1 = serde_json::json!({"corr": 0.5, "label": "x"});
        let m2 = serde_json::json!({"corr": 0.25, "label": "y"});
        let d = compare_metrics(m1.as_object().unwrap(), m2.as_object().unwrap());
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].to_string(),
            "metrics.corr: max |diff| 2.500e-1, max relative diff 5.000e-1"
        );
        assert_eq!(d[1].to_string(), "metrics.label: \"x\" vs \"y\"");
    }
}
