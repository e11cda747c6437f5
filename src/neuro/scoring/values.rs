//! One model's per-neuron values, as `sapipe compare` reads them: from a CSV file with a
//! header and the columns `neuron,value` or `neuron,seed,value` (one row per neuron, or per
//! neuron and seed), or from the project's results. Neurons are named by any text and paired
//! by name; an empty value, `NA`, `NaN` or `null` is undefined for that neuron (and seed).
//! Errors name the file, the line and the column, and say what would be valid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::verdict::BySeed;

/// Why a values file does not read.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line 1: header `{found}`: expected `neuron,value` or `neuron,seed,value`")]
    Header { path: PathBuf, found: String },
    #[error("{path}: line {line}: {found} fields where the header has {expected}")]
    Fields {
        path: PathBuf,
        line: usize,
        found: usize,
        expected: usize,
    },
    #[error("{path}: line {line}, column {column} ({name}): `{found}` is not {expected}")]
    Field {
        path: PathBuf,
        line: usize,
        column: usize,
        name: &'static str,
        found: String,
        expected: &'static str,
    },
    #[error("{path}: line {line}: neuron `{neuron}`{seed} already given on line {first}")]
    Duplicate {
        path: PathBuf,
        line: usize,
        neuron: String,
        seed: String,
        first: usize,
    },
    #[error("{path}: no rows after the header: give one row per neuron (`neuron,value`)")]
    Empty { path: PathBuf },
}

/// One neuron's (seed, value) entries; `None` seed in a file without seeds.
pub type Entries = Vec<(Option<String>, Option<f64>)>;

/// One model's values: neuron -> its entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelValues {
    pub neurons: BTreeMap<String, Entries>,
}

/// A neuron name's sort key: numbers in numeric order before other names.
fn order(name: &str) -> (u8, u64, String) {
    match name.parse::<u64>() {
        Ok(n) => (0, n, String::new()),
        Err(_) => (1, 0, name.to_owned()),
    }
}

impl ModelValues {
    /// Adds a value of `neuron` (in `seed`).
    pub fn push(&mut self, neuron: String, seed: Option<String>, value: Option<f64>) {
        self.neurons.entry(neuron).or_default().push((seed, value));
    }

    /// Both models' values per neuron, paired by neuron name (every neuron either has, in
    /// numeric then text order): (names, left, right), a neuron one lacks being empty there.
    pub fn pair(left: &Self, right: &Self) -> (Vec<String>, BySeed, BySeed) {
        let mut names: Vec<&String> = left.neurons.keys().chain(right.neurons.keys()).collect();
        names.sort_by_key(|n| order(n));
        names.dedup();
        let values = |m: &Self, n: &String| -> Vec<Option<f64>> {
            m.neurons
                .get(n)
                .map_or(Vec::new(), |v| v.iter().map(|(_, x)| *x).collect())
        };
        let l = names.iter().map(|n| values(left, n)).collect();
        let r = names.iter().map(|n| values(right, n)).collect();
        (names.into_iter().cloned().collect(), l, r)
    }
}

/// Reads a values CSV file.
pub fn read_csv(path: &Path) -> Result<ModelValues, ValuesError> {
    let text = std::fs::read_to_string(path).map_err(|source| ValuesError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_csv(path, &text)
}

/// A value cell: a finite number, or undefined (`None`) when empty, NA, NaN or null.
fn value(cell: &str) -> Result<Option<f64>, ()> {
    if cell.is_empty() || ["na", "nan", "null"].contains(&cell.to_ascii_lowercase().as_str()) {
        return Ok(None);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(()),
    }
}

/// Parses the text of a values CSV file (`path` names it in errors).
pub fn parse_csv(path: &Path, text: &str) -> Result<ModelValues, ValuesError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let header = lines.next().map_or("", |(_, l)| l);
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let with_seed = match columns
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["neuron", "value"] => false,
        ["neuron", "seed", "value"] => true,
        _ => {
            return Err(ValuesError::Header {
                path: path.to_owned(),
                found: header.to_owned(),
            });
        }
    };
    let mut values = ModelValues::default();
    let mut seen: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        if fields.len() != columns.len() {
            return Err(ValuesError::Fields {
                path: path.to_owned(),
                line,
                found: fields.len(),
                expected: columns.len(),
            });
        }
        let bad = |column: usize, name: &'static str, expected: &'static str| ValuesError::Field {
            path: path.to_owned(),
            line,
            column,
            name,
            found: fields[column - 1].to_owned(),
            expected,
        };
        let neuron = fields[0].to_owned();
        if neuron.is_empty() {
            return Err(bad(1, "neuron", "a neuron name or number"));
        }
        let seed = with_seed.then(|| fields[1].to_owned());
        if seed.as_deref() == Some("") {
            return Err(bad(2, "seed", "a seed name or number"));
        }
        let column = columns.len();
        let v = value(fields[column - 1]).map_err(|()| {
            bad(
                column,
                "value",
                "a finite number (or empty, NA, NaN, null for undefined)",
            )
        })?;
        if let Some(first) = seen.insert((neuron.clone(), seed.clone()), line) {
            return Err(ValuesError::Duplicate {
                path: path.to_owned(),
                line,
                neuron,
                seed: seed.map_or(String::new(), |s| format!(" seed `{s}`")),
                first,
            });
        }
        values.push(neuron, seed, v);
    }
    if values.neurons.is_empty() {
        return Err(ValuesError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ModelValues, String> {
        parse_csv(Path::new("a.csv"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn rows_with_and_without_seeds() {
        let v = parse("neuron,value\n2,0.5\n10,NA\n1,-0.25\n").unwrap();
        assert_eq!(v.neurons["2"], vec![(None, Some(0.5))]);
        assert_eq!(v.neurons["10"], vec![(None, None)]);
        let s = parse("Neuron, Seed, Value\r\nv1,1,0.5\r\nv1,2,0.7\r\n\r\n").unwrap();
        assert_eq!(s.neurons["v1"].len(), 2);
        let (names, l, r) = ModelValues::pair(&v, &s);
        assert_eq!(names, ["1", "2", "10", "v1"]);
        assert_eq!(l[3], Vec::<Option<f64>>::new());
        assert_eq!(r[3], vec![Some(0.5), Some(0.7)]);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        assert_eq!(
            parse("id,score\n1,2\n").unwrap_err(),
            "a.csv: line 1: header `id,score`: expected `neuron,value` or `neuron,seed,value`"
        );
        assert_eq!(
            parse("neuron,value\n1,0.5\n2,high\n").unwrap_err(),
            "a.csv: line 3, column 2 (value): `high` is not a finite number (or empty, NA, NaN, null for undefined)"
        );
        assert_eq!(
            parse("neuron,seed,value\n1,0.5\n").unwrap_err(),
            "a.csv: line 2: 2 fields where the header has 3"
        );
        assert_eq!(
            parse("neuron,seed,value\n1,1,0.5\n1,1,0.6\n").unwrap_err(),
            "a.csv: line 3: neuron `1` seed `1` already given on line 2"
        );
        assert!(parse("neuron,value\n").unwrap_err().contains("no rows"));
        assert!(
            parse("neuron,value\n,1\n")
                .unwrap_err()
                .contains("column 1 (neuron)")
        );
        assert!(
            parse("neuron,value\n1,inf\n")
                .unwrap_err()
                .contains("column 2")
        );
    }
}
