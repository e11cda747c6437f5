//! Per-neuron model selection (models.md §4): after every epoch each neuron's validation
//! Pearson r is computed, and each neuron keeps the parameters of its own best epoch (earliest
//! epoch on ties; an undefined r — constant predictions — never beats a defined one).
//! `Selection::Final` keeps the last epoch instead.

use crate::neuro::array::ArrayF32;
use crate::neuro::stats::pearson;

/// Which epoch's parameters a neuron keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// The epoch with the neuron's best validation correlation.
    #[default]
    PerNeuron,
    /// The last epoch.
    Final,
}

impl Selection {
    pub fn id(self) -> &'static str {
        match self {
            Selection::PerNeuron => "per-neuron",
            Selection::Final => "final",
        }
    }
}

impl crate::neuro::choice::Choice for Selection {
    const ALL: &'static [Self] = &[Selection::PerNeuron, Selection::Final];

    fn id(self) -> &'static str {
        Selection::id(self)
    }
}

crate::neuro::choice::choice_serde!(Selection);

/// Per-column Pearson r (`None` where undefined: constant predictions, fewer than two
/// recorded responses) and mean squared error of predictions against responses (`[n, P]`),
/// over the recorded responses of each column (NaN = missing, skipped).
pub fn column_scores(predictions: &ArrayF32, responses: &ArrayF32) -> (Vec<Option<f64>>, Vec<f64>) {
    let p = predictions.shape[1];
    let mut corr = Vec::with_capacity(p);
    let mut mse = Vec::with_capacity(p);
    for j in 0..p {
        let (x, y): (Vec<f64>, Vec<f64>) = predictions
            .column(j)
            .iter()
            .zip(responses.column(j))
            .filter(|(_, r)| !r.is_nan())
            .map(|(&x, y)| (f64::from(x), f64::from(y)))
            .unzip();
        corr.push(pearson(&x, &y).ok());
        let n = x.len().max(1) as f64;
        mse.push(
            x.iter()
                .zip(&y)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                / n,
        );
    }
    (corr, mse)
}

/// The running per-neuron choice of best epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct BestEpochs {
    pub selection: Selection,
    /// 0 until the first epoch is recorded.
    pub epoch: Vec<usize>,
    /// The validation r of each neuron's kept epoch; `None` while undefined.
    pub corr: Vec<Option<f64>>,
}

impl BestEpochs {
    pub fn new(neurons: usize, selection: Selection) -> Self {
        BestEpochs {
            selection,
            epoch: vec![0; neurons],
            corr: vec![None; neurons],
        }
    }

    /// Records an epoch's validation correlations of the neurons still training (`open`; a
    /// stopped neuron's choice is closed); returns which neurons now keep this epoch.
    pub fn record(&mut self, epoch: usize, corr: &[Option<f64>], open: &[bool]) -> Vec<bool> {
        let score = |r: Option<f64>| r.unwrap_or(f64::NEG_INFINITY);
        let improved: Vec<bool> = (0..self.epoch.len())
            .map(|j| {
                open[j]
                    && match self.selection {
                        Selection::Final => true,
                        Selection::PerNeuron => {
                            self.epoch[j] == 0 || score(corr[j]) > score(self.corr[j])
                        }
                    }
            })
            .collect();
        for (j, &better) in improved.iter().enumerate() {
            if better {
                self.epoch[j] = epoch;
                self.corr[j] = corr[j];
            }
        }
        improved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_neuron_keeps_its_own_best_epoch() {
        let mut best = BestEpochs::new(3, Selection::PerNeuron);
        let all = [true; 3];
        assert_eq!(
            best.record(1, &[Some(0.1), None, Some(0.3)], &all),
            vec![true, true, true]
        );
        assert_eq!(
            best.record(2, &[Some(0.2), Some(0.05), Some(0.3)], &all),
            vec![true, true, false]
        );
        assert_eq!(
            best.record(3, &[Some(0.15), None, Some(0.4)], &all),
            vec![false, false, true]
        );
        assert_eq!(best.epoch, vec![2, 2, 3]);
        let mut last = BestEpochs::new(2, Selection::Final);
        last.record(1, &[Some(0.5), Some(0.5)], &[true; 2]);
        last.record(2, &[Some(0.1), Some(0.1)], &[true; 2]);
        assert_eq!(last.epoch, vec![2, 2]);
    }

    #[test]
    fn a_stopped_neurons_choice_is_closed() {
        let mut best = BestEpochs::new(2, Selection::PerNeuron);
        best.record(1, &[Some(0.1), Some(0.1)], &[true, true]);
        assert_eq!(
            best.record(2, &[Some(0.9), Some(0.9)], &[false, true]),
            vec![false, true]
        );
        assert_eq!(best.epoch, vec![1, 2]);
        assert_eq!(best.corr, vec![Some(0.1), Some(0.9)]);
        let mut last = BestEpochs::new(1, Selection::Final);
        last.record(1, &[Some(0.5)], &[true]);
        last.record(2, &[Some(0.4)], &[false]);
        assert_eq!(last.epoch, vec![1]);
    }

    #[test]
    fn column_scores_are_per_neuron() {
        let pred = ArrayF32::new(vec![3, 2], vec![1.0, 0.0, 2.0, 1.0, 3.0, 0.0]);
        let resp = ArrayF32::new(vec![3, 2], vec![1.0, 1.0, 2.0, 0.0, 3.0, 1.0]);
        let (corr, mse) = column_scores(&pred, &resp);
        let (a, b) = (corr[0].unwrap(), corr[1].unwrap());
        assert!(
            (a - 1.0).abs() < 1e-12 && (b + 1.0).abs() < 1e-12,
            "{corr:?}"
        );
        assert_eq!(mse, vec![0.0, 1.0]);
    }

    #[test]
    fn column_scores_skip_missing_responses() {
        let pred = ArrayF32::new(vec![4, 1], vec![1.0, 2.0, 100.0, 3.0]);
        let resp = ArrayF32::new(vec![4, 1], vec![1.0, 2.0, f32::NAN, 3.0]);
        let (corr, mse) = column_scores(&pred, &resp);
        assert!((corr[0].unwrap() - 1.0).abs() < 1e-12, "{corr:?}");
        assert_eq!(mse, vec![0.0]);
        let one = ArrayF32::new(vec![2, 1], vec![1.0, f32::NAN]);
        assert_eq!(column_scores(&one, &one).0, vec![None]);
    }
}
