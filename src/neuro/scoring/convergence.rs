//! Whether a model's training had converged: per neuron, was validation CORR still improving
//! at the last epoch (the last epoch better than every earlier one)? A model is
//! **under-trained** when more than half of its neurons were ([`UNDER_TRAINED_SHARE`]): its
//! numbers say how far training got within the budget, not what the architecture can do.

use serde::{Deserialize, Serialize};

use crate::neuro::train::predictions::PredictionInfo;

/// Share of neurons still improving at the end above which a model is under-trained.
pub const UNDER_TRAINED_SHARE: f64 = 0.5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    pub epochs: usize,
    pub neurons: usize,
    /// Neurons whose validation CORR was still improving at the last epoch.
    pub improving_at_end: usize,
    /// Median over neurons of the selected (best) epoch.
    pub median_best_epoch: Option<usize>,
    pub under_trained: bool,
}

/// Per neuron: is the last epoch's validation CORR above every earlier epoch's? `corr[e][j]`
/// is epoch e + 1's value for neuron j (`None` = undefined, below any defined value).
pub fn improving_at_end(corr: &[Vec<Option<f64>>]) -> Vec<bool> {
    let Some((last, earlier)) = corr.split_last() else {
        return Vec::new();
    };
    let score = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
    (0..last.len())
        .map(|j| last[j].is_some() && earlier.iter().all(|e| score(last[j]) > score(e[j])))
        .collect()
}

/// The convergence a train stage's `info.json` records; `None` if it does not say.
pub fn of(info: &PredictionInfo) -> Option<Convergence> {
    let epochs = info.epochs?;
    let neurons = info.improving_at_end.len();
    if neurons == 0 {
        return None;
    }
    let improving = info.improving_at_end.iter().filter(|&&b| b).count();
    let mut best = info.best_epoch.clone();
    best.sort_unstable();
    Some(Convergence {
        epochs,
        neurons,
        improving_at_end: improving,
        median_best_epoch: best.get(best.len() / 2).copied(),
        under_trained: improving as f64 > UNDER_TRAINED_SHARE * neurons as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn still_improving_means_the_last_epoch_beats_every_earlier_one() {
        let corr = vec![
            vec![Some(0.1), Some(0.3), None],
            vec![Some(0.2), Some(0.4), Some(0.1)],
            vec![Some(0.3), Some(0.35), Some(0.1)],
        ];
        assert_eq!(improving_at_end(&corr), vec![true, false, false]);
        assert_eq!(improving_at_end(&corr[..1]), vec![true, true, false]);
        assert!(improving_at_end(&[]).is_empty());
    }

    #[test]
    fn most_neurons_improving_at_the_end_is_under_trained() {
        let info = |improving: Vec<bool>| PredictionInfo {
            epochs: Some(3),
            best_epoch: vec![3; improving.len()],
            improving_at_end: improving,
            ..serde_json::from_value(serde_json::json!({ "model": "rf-cnn" })).unwrap()
        };
        let c = of(&info(vec![true, true, false])).unwrap();
        assert_eq!(
            (c.improving_at_end, c.neurons, c.under_trained),
            (2, 3, true)
        );
        assert!(
            !of(&info(vec![true, false, false, true]))
                .unwrap()
                .under_trained
        );
        assert_eq!(of(&info(vec![])), None);
    }
}
