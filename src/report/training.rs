//! Training curves of a train stage, read from its `curves` CSV (the format of
//! [`crate::neuro::train::curves`]) and averaged over neurons per epoch for the figures.

use std::collections::BTreeMap;

use crate::neuro::stats::mean_of;
use crate::neuro::train::curves::{self, CurveRow, CurvesError};

/// Per-epoch means over neurons; `None` where no neuron has a value that epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingCurve {
    pub epochs: Vec<u64>,
    pub train_loss: Vec<Option<f64>>,
    pub val_loss: Vec<Option<f64>>,
    pub val_corr: Vec<Option<f64>>,
}

/// Reads a train stage's curves CSV ([`curves::from_csv`]) and averages it over neurons per
/// epoch; a non-finite value is left out of its mean. Errors name the line and column.
pub fn parse_curves(text: &str) -> Result<TrainingCurve, CurvesError> {
    Ok(TrainingCurve::from_rows(&curves::from_csv(text)?))
}

impl TrainingCurve {
    /// Per-epoch means over neurons of `rows`.
    pub fn from_rows(rows: &[CurveRow]) -> Self {
        let mut epochs: BTreeMap<usize, [Vec<Option<f64>>; 3]> = BTreeMap::new();
        for r in rows {
            let e = epochs.entry(r.epoch).or_default();
            e[0].push(Some(r.train_loss));
            e[1].push(Some(r.val_loss));
            e[2].push(r.val_corr);
        }
        let column = |k: usize| -> Vec<Option<f64>> {
            epochs
                .values()
                .map(|e| mean_of(e[k].iter().copied()))
                .collect()
        };
        TrainingCurve {
            epochs: epochs.keys().map(|&e| e as u64).collect(),
            train_loss: column(0),
            val_loss: column(1),
            val_corr: column(2),
        }
    }
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
}
