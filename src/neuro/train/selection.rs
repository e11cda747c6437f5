//! Per-neuron model selection (models.md §4): after every epoch each neuron's validation
//! Pearson r is computed, and each neuron keeps the parameters of its own best epoch (earliest
//! epoch on ties; an undefined r — constant predictions — never beats a defined one).
//! `Selection::Final` keeps the last epoch instead.

use crate::neuro::array::ArrayF32;

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

    pub fn parse(s: &str) -> Option<Self> {
        [Selection::PerNeuron, Selection::Final]
            .into_iter()
            .find(|m| m.id() == s)
    }
}

/// Pearson correlation of two equally long series; NaN when either is constant or empty.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return f64::NAN;
    }
    let ma = a[..n].iter().sum::<f64>() / n as f64;
    let mb = b[..n].iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a[..n].iter().zip(&b[..n]) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        f64::NAN
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Column `j` of a `[n, P]` array as f64.
fn column(a: &ArrayF32, j: usize) -> Vec<f64> {
    let p = a.shape[1];
    (0..a.shape[0])
        .map(|i| f64::from(a.data[i * p + j]))
        .collect()
}

/// Per-column Pearson r and mean squared error of predictions against responses (`[n, P]`).
pub fn column_scores(predictions: &ArrayF32, responses: &ArrayF32) -> (Vec<f64>, Vec<f64>) {
    let p = predictions.shape[1];
    let mut corr = Vec::with_capacity(p);
    let mut mse = Vec::with_capacity(p);
    for j in 0..p {
        let (x, y) = (column(predictions, j), column(responses, j));
        corr.push(pearson(&x, &y));
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
    pub corr: Vec<f64>,
}

impl BestEpochs {
    pub fn new(neurons: usize, selection: Selection) -> Self {
        BestEpochs {
            selection,
            epoch: vec![0; neurons],
            corr: vec![f64::NAN; neurons],
        }
    }

    /// Records an epoch's validation correlations; returns which neurons now keep this epoch.
    pub fn record(&mut self, epoch: usize, corr: &[f64]) -> Vec<bool> {
        let score = |r: f64| if r.is_nan() { f64::NEG_INFINITY } else { r };
        let improved: Vec<bool> = (0..self.epoch.len())
            .map(|j| match self.selection {
                Selection::Final => true,
                Selection::PerNeuron => self.epoch[j] == 0 || score(corr[j]) > score(self.corr[j]),
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
    fn pearson_matches_known_values() {
        assert!(
            (pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.997_948_715_788_673_3).abs() < 1e-12
        );
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }

    #[test]
    fn each_neuron_keeps_its_own_best_epoch() {
        let mut best = BestEpochs::new(3, Selection::PerNeuron);
        assert_eq!(
            best.record(1, &[0.1, f64::NAN, 0.3]),
            vec![true, true, true]
        );
        assert_eq!(best.record(2, &[0.2, 0.05, 0.3]), vec![true, true, false]);
        assert_eq!(
            best.record(3, &[0.15, f64::NAN, 0.4]),
            vec![false, false, true]
        );
        assert_eq!(best.epoch, vec![2, 2, 3]);
        let mut last = BestEpochs::new(2, Selection::Final);
        last.record(1, &[0.5, 0.5]);
        last.record(2, &[0.1, 0.1]);
        assert_eq!(last.epoch, vec![2, 2]);
    }

    #[test]
    fn column_scores_are_per_neuron() {
        let pred = ArrayF32::new(vec![3, 2], vec![1.0, 0.0, 2.0, 1.0, 3.0, 0.0]);
        let resp = ArrayF32::new(vec![3, 2], vec![1.0, 1.0, 2.0, 0.0, 3.0, 1.0]);
        let (corr, mse) = column_scores(&pred, &resp);
        assert!((corr[0] - 1.0).abs() < 1e-12 && (corr[1] + 1.0).abs() < 1e-12);
        assert_eq!(mse, vec![0.0, 1.0]);
    }
}
