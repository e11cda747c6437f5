//! Training curves of a train stage, read from its `curves` CSV (header
//! `epoch,neuron,train_loss,val_loss,val_corr`, one row per epoch and neuron) and averaged over
//! neurons for the figures.

/// Per-epoch means over neurons; `None` where no neuron has a value that epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingCurve {
    pub epochs: Vec<u64>,
    pub train_loss: Vec<Option<f64>>,
    pub val_loss: Vec<Option<f64>>,
    pub val_corr: Vec<Option<f64>>,
}

const COLUMNS: [&str; 5] = ["epoch", "neuron", "train_loss", "val_loss", "val_corr"];

/// Running sums of one epoch.
#[derive(Default)]
struct EpochSums {
    sums: [f64; 3],
    counts: [usize; 3],
}

/// Parses the CSV; an empty or non-numeric loss/corr field (e.g. an undefined CORR) is skipped.
/// Errors name the line and column.
pub fn parse_curves(text: &str) -> Result<TrainingCurve, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<&str> = match lines.next() {
        Some((_, h)) => h.split(',').map(str::trim).collect(),
        None => return Err("the file is empty; expected a header".into()),
    };
    let index = |name: &str| header.iter().position(|h| *h == name);
    let columns: Vec<usize> = COLUMNS
        .iter()
        .map(|c| {
            index(c).ok_or(format!(
                "header lacks column '{c}'; expected {}",
                COLUMNS.join(",")
            ))
        })
        .collect::<Result<_, _>>()?;
    let mut epochs: std::collections::BTreeMap<u64, EpochSums> = Default::default();
    for (number, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let field = |c: usize| fields.get(columns[c]).copied().unwrap_or("");
        let epoch: u64 = field(0).parse().map_err(|_| {
            format!(
                "line {}: column 'epoch' must be a whole number, found '{}'",
                number + 1,
                field(0)
            )
        })?;
        let sums = epochs.entry(epoch).or_default();
        for k in 0..3 {
            if let Ok(v) = field(k + 2).parse::<f64>()
                && v.is_finite()
            {
                sums.sums[k] += v;
                sums.counts[k] += 1;
            }
        }
    }
    let mean = |s: &EpochSums, k: usize| (s.counts[k] > 0).then(|| s.sums[k] / s.counts[k] as f64);
    Ok(TrainingCurve {
        epochs: epochs.keys().copied().collect(),
        train_loss: epochs.values().map(|s| mean(s, 0)).collect(),
        val_loss: epochs.values().map(|s| mean(s, 1)).collect(),
        val_corr: epochs.values().map(|s| mean(s, 2)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_neurons_per_epoch() {
        let csv = "epoch,neuron,train_loss,val_loss,val_corr\n\
                   1,0,2.0,3.0,0.1\n1,1,4.0,5.0,\n2,0,1.0,2.0,0.3\n2,1,1.0,2.0,0.5\n";
        let c = parse_curves(csv).unwrap();
        assert_eq!(c.epochs, vec![1, 2]);
        assert_eq!(c.train_loss, vec![Some(3.0), Some(1.0)]);
        assert_eq!(c.val_loss, vec![Some(4.0), Some(2.0)]);
        assert_eq!(c.val_corr, vec![Some(0.1), Some(0.4)]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse_curves("epoch,neuron,train_loss\n").unwrap_err();
        assert!(err.contains("'val_loss'"), "{err}");
        let err =
            parse_curves("epoch,neuron,train_loss,val_loss,val_corr\nx,0,1,1,1\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("'epoch'"), "{err}");
        assert!(parse_curves("").is_err());
    }
}
