//! Numeric comparison of two CSV files with a header (a train stage's learning curves, an
//! evaluate stage's per-neuron table): column by column, matched by name, rows by position.
//! A column of numbers (empty fields are undefined and must stay so) is compared numerically
//! and reported with the row of its largest relative difference; any other column must be
//! equal field for field.

use super::compare::Difference;
use crate::reproducibility::tolerance::relative_difference;

/// The records of a CSV text: fields split at commas outside double quotes, `""` inside
/// quotes an escaped quote, `\r\n` or `\n` line ends, blank lines skipped. `None` if a quote
/// is left open.
fn records(text: &str) -> Option<Vec<Vec<String>>> {
    let mut out = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                if !(record.len() == 1 && record[0].is_empty()) {
                    out.push(std::mem::take(&mut record));
                }
                record.clear();
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        out.push(record);
    }
    Some(out)
}

/// A field as a number: `Some(None)` when empty (undefined), `None` when not a number.
fn number(field: &str) -> Option<Option<f64>> {
    let f = field.trim();
    if f.is_empty() {
        return Some(None);
    }
    f.parse::<f64>().ok().map(Some)
}

/// Compares two CSV texts with a header; `None` when either is not one (no header, ragged
/// rows, an open quote), so that the caller compares bytes instead.
pub fn compare_csv(label: &str, x: &str, y: &str) -> Option<Vec<Difference>> {
    let (a, b) = (records(x)?, records(y)?);
    let (ha, hb) = (a.first()?, b.first()?);
    let regular = |r: &Vec<Vec<String>>| r.iter().all(|row| row.len() == r[0].len());
    if ha.len() < 2 || !regular(&a) || !regular(&b) {
        return None;
    }
    if ha != hb {
        return Some(vec![Difference::note(
            label.to_string(),
            format!("header `{}` vs `{}`", ha.join(","), hb.join(",")),
        )]);
    }
    if a.len() != b.len() {
        return Some(vec![Difference::note(
            label.to_string(),
            format!("{} rows vs {}", a.len() - 1, b.len() - 1),
        )]);
    }
    let mut out = Vec::new();
    for (c, name) in ha.iter().enumerate() {
        let what = format!("{label}: column {name}");
        out.extend(compare_column(what, &a[1..], &b[1..], c));
    }
    Some(out)
}

/// Column `c` of two equally long row lists; rows are named 1-based (the header is line 1, so
/// row `r` is line `r + 1`).
fn compare_column(
    what: String,
    a: &[Vec<String>],
    b: &[Vec<String>],
    c: usize,
) -> Option<Difference> {
    let pairs = a.iter().zip(b).map(|(u, v)| (u[c].as_str(), v[c].as_str()));
    let numeric = a.iter().chain(b).all(|row| number(&row[c]).is_some());
    if !numeric {
        let (row, (u, v)) = pairs.enumerate().find(|(_, (u, v))| u != v)?;
        return Some(Difference::note(
            what,
            format!("row {} (line {}): `{u}` vs `{v}`", row + 1, row + 2),
        ));
    }
    let (mut abs, mut largest): (f64, Option<(usize, f64)>) = (0.0, None);
    for (row, (u, v)) in pairs.enumerate() {
        match (number(u).flatten(), number(v).flatten()) {
            (Some(x), Some(y)) => {
                if x.to_bits() == y.to_bits() {
                    continue;
                }
                let rel = relative_difference(x, y);
                abs = abs.max((x - y).abs());
                if largest.is_none_or(|(_, r)| rel > r) {
                    largest = Some((row, rel));
                }
            }
            (None, None) => {}
            _ => {
                return Some(Difference::note(
                    what,
                    format!(
                        "row {} (line {}): `{u}` vs `{v}` (undefined in one version)",
                        row + 1,
                        row + 2
                    ),
                ));
            }
        }
    }
    let (row, rel) = largest?;
    Some(Difference {
        what: format!("{what} (largest at row {}, line {})", row + 1, row + 2),
        max_abs: Some(abs),
        max_rel: Some(rel),
        note: None,
        parameters: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields_and_skips_blank_lines() {
        let r = records("a,b\r\n\"x, \"\"y\"\"\",2\n\n3,\n").unwrap();
        assert_eq!(r, [vec!["a", "b"], vec!["x, \"y\"", "2"], vec!["3", ""]]);
        assert!(records("a,\"b\n").is_none());
    }

    #[test]
    fn names_file_column_and_row_of_the_largest_difference() {
        let old = "stage,neuron,corr,label\nrf,0,0.5,x\nrf,1,0.25,y\nrf,2,,z\n";
        let new = "stage,neuron,corr,label\nrf,0,0.5001,x\nrf,1,0.2501,y\nrf,2,,z\n";
        let d = compare_csv("eval.table", old, new).unwrap();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].what,
            "eval.table: column corr (largest at row 2, line 3)"
        );
        assert!((d[0].max_rel.unwrap() - 0.0001 / 0.2501).abs() < 1e-12);
        assert!((d[0].max_abs.unwrap() - 1e-4).abs() < 1e-12);
        assert!(compare_csv("t", old, old).unwrap().is_empty());
        // A sign flip is a relative difference of 2, however small the number.
        let flipped = old.replace("0.25,", "-0.25,");
        assert_eq!(
            compare_csv("t", old, &flipped).unwrap()[0].max_rel,
            Some(2.0)
        );
    }

    #[test]
    fn text_headers_shapes_and_undefined_values_are_notes() {
        let old = "neuron,corr,label\n0,0.5,x\n";
        let d = compare_csv("t", old, "neuron,corr,label\n0,0.5,y\n").unwrap();
        assert_eq!(
            d[0].to_string(),
            "t: column label: row 1 (line 2): `x` vs `y`"
        );
        let d = compare_csv("t", old, "neuron,r,label\n0,0.5,x\n").unwrap();
        assert_eq!(
            d[0].to_string(),
            "t: header `neuron,corr,label` vs `neuron,r,label`"
        );
        let d = compare_csv("t", old, "neuron,corr,label\n0,0.5,x\n1,0.5,x\n").unwrap();
        assert_eq!(d[0].note.as_deref(), Some("1 rows vs 2"));
        let d = compare_csv("t", old, "neuron,corr,label\n0,,x\n").unwrap();
        assert!(
            d[0].note
                .as_deref()
                .unwrap()
                .contains("undefined in one version")
        );
        assert!(compare_csv("t", "just text", "other text").is_none());
    }
}
