//! The learning curves a train stage writes (`curves.csv`): one row per epoch and neuron,
//! header `epoch,neuron,train_loss,val_loss,val_corr`. [`to_csv`] is its one writer and
//! [`from_csv`] its one reader; an undefined validation CORR (constant predictions) is an
//! empty field.

use std::fmt::Write as _;

/// One line of the learning curves.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveRow {
    pub epoch: usize,
    pub neuron: usize,
    /// The epoch's mean training MSE of this neuron.
    pub train_loss: f64,
    pub val_loss: f64,
    /// Validation Pearson r; `None` where undefined.
    pub val_corr: Option<f64>,
}

/// The header, in column order.
pub const COLUMNS: [&str; 5] = ["epoch", "neuron", "train_loss", "val_loss", "val_corr"];

/// Why a curves file does not read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CurvesError {
    #[error("the file is empty; expected the header {columns}", columns = COLUMNS.join(","))]
    Empty,
    #[error("header lacks column '{0}'; expected {columns}", columns = COLUMNS.join(","))]
    MissingColumn(&'static str),
    #[error("line {line}: column '{column}': {message}, found '{found}'")]
    Field {
        line: usize,
        column: &'static str,
        message: &'static str,
        found: String,
    },
}

/// The CSV text of `rows`, in their order.
pub fn to_csv(rows: &[CurveRow]) -> String {
    let mut out = COLUMNS.join(",") + "\n";
    for r in rows {
        let corr = r.val_corr.map(|c| c.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{corr}",
            r.epoch, r.neuron, r.train_loss, r.val_loss
        );
    }
    out
}

/// Reads a curves CSV (columns found by name; blank lines skipped). Errors name the line and
/// column. A `val_corr` that is empty or not finite reads as undefined.
pub fn from_csv(text: &str) -> Result<Vec<CurveRow>, CurvesError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<&str> = match lines.next() {
        Some((_, h)) => h.split(',').map(str::trim).collect(),
        None => return Err(CurvesError::Empty),
    };
    let mut index = [0; 5];
    for (slot, name) in index.iter_mut().zip(COLUMNS) {
        *slot = header
            .iter()
            .position(|h| *h == name)
            .ok_or(CurvesError::MissingColumn(name))?;
    }
    lines
        .map(|(number, line)| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let field = |c: usize| fields.get(index[c]).copied().unwrap_or("");
            let error = |c: usize, message: &'static str| CurvesError::Field {
                line: number + 1,
                column: COLUMNS[c],
                message,
                found: field(c).to_owned(),
            };
            let whole = |c: usize| {
                field(c)
                    .parse::<usize>()
                    .map_err(|_| error(c, "must be a whole number"))
            };
            let number_at = |c: usize| {
                field(c)
                    .parse::<f64>()
                    .map_err(|_| error(c, "must be a number"))
            };
            let corr = match field(4) {
                "" => None,
                _ => Some(number_at(4)?).filter(|v| v.is_finite()),
            };
            Ok(CurveRow {
                epoch: whole(0)?,
                neuron: whole(1)?,
                train_loss: number_at(2)?,
                val_loss: number_at(3)?,
                val_corr: corr,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_with_undefined_correlations() {
        let rows = vec![
            CurveRow {
                epoch: 1,
                neuron: 0,
                train_loss: 0.5,
                val_loss: 0.25,
                val_corr: Some(0.125),
            },
            CurveRow {
                epoch: 1,
                neuron: 1,
                train_loss: 0.75,
                val_loss: 1.5,
                val_corr: None,
            },
        ];
        let text = to_csv(&rows);
        assert_eq!(
            text,
            "epoch,neuron,train_loss,val_loss,val_corr\n1,0,0.5,0.25,0.125\n1,1,0.75,1.5,\n"
        );
        assert_eq!(from_csv(&text).unwrap(), rows);
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(from_csv(""), Err(CurvesError::Empty));
        assert_eq!(
            from_csv("epoch,neuron,train_loss,val_loss\n"),
            Err(CurvesError::MissingColumn("val_corr"))
        );
        let err = from_csv("epoch,neuron,train_loss,val_loss,val_corr\nx,0,1,1,1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: column 'epoch': must be a whole number, found 'x'"
        );
        let legacy = from_csv("epoch,neuron,train_loss,val_loss,val_corr\n1,0,1,1,NaN\n");
        assert_eq!(legacy.unwrap()[0].val_corr, None);
    }
}
