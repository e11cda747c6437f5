//! Whether a model's training had converged, judged so that it fails closed ([`judge`]): a
//! model is **converged** only when its training was recorded (`info.json`'s epochs and
//! per-neuron best epochs), its best epoch lies at least [`PATIENCE`] epochs before the last
//! for most neurons, and most neurons' held-out CORR beats what a predictor that learned
//! nothing reaches ([`null_corr`]). Otherwise it **learned nothing**, is **under-trained** (its
//! numbers say how far training got within the budget, not what the architecture can do), or
//! its training is **not recorded**; claims involving it decide nothing.
//!
//! [`Convergence`] is what the `evaluate` stage stores per model; its `under_trained` is the
//! earlier rule (most neurons still improving at the last epoch), kept in the artifact's
//! layout, no longer used to decide.

use serde::{Deserialize, Serialize};

use crate::neuro::stats::middle;
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
    /// Median over neurons of the epochs trained (fewer than `epochs` where early stopping
    /// ended them); absent where `info.json` does not record it (every neuron trained all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_epochs_trained: Option<usize>,
    pub under_trained: bool,
}

/// Epochs by which the best epoch must precede the last, for most neurons, to count as
/// converged: with 1, a curve that rose to the second-to-last epoch and dipped by noise at the
/// last would pass.
pub const PATIENCE: usize = 2;
/// The one-sided level of the unfitted-predictor null of [`null_corr`].
pub const NULL_ALPHA: f64 = 0.05;

/// How a model's training ended, as [`judge`] decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "training", rename_all = "snake_case")]
pub enum Training {
    Converged,
    /// The median best epoch is within [`PATIENCE`] epochs of the last.
    UnderTrained {
        median_best_epoch: usize,
        epochs: usize,
    },
    /// At most half the neurons beat the null CORR of an unfitted predictor.
    LearnedNothing {
        above_null: usize,
        neurons: usize,
        null: f64,
    },
    /// No epochs or best epochs recorded.
    NotRecorded,
}

impl Training {
    pub fn text(&self) -> String {
        match self {
            Training::Converged => "converged".into(),
            Training::UnderTrained {
                median_best_epoch,
                epochs,
            } => format!(
                "under-trained (median best epoch {median_best_epoch} of {epochs}; converged \
                 needs it at least {PATIENCE} before the last)"
            ),
            Training::LearnedNothing {
                above_null,
                neurons,
                null,
            } => format!(
                "learned nothing ({above_null} of {neurons} neurons have CORR above {null:.3}, \
                 what a predictor independent of the responses exceeds 5% of the time)"
            ),
            Training::NotRecorded => "training not recorded".into(),
        }
    }
}

/// The CORR a predictor independent of the responses exceeds with probability [`NULL_ALPHA`]
/// on `images` images: the one-sided critical value of Pearson's r under independence,
/// t / √(n − 2 + t²) with t Student's (1 − NULL_ALPHA) quantile on n − 2 degrees of freedom.
/// `None` below 3 images.
pub fn null_corr(images: usize) -> Option<f64> {
    if images < 3 {
        return None;
    }
    let df = images as f64 - 2.0;
    let t = super::student::quantile(1.0 - NULL_ALPHA, df);
    Some(t / (df + t * t).sqrt())
}

/// Judges a model's training from what `evaluate` stored (`convergence`) and its per-neuron
/// CORR on the `images` held-out images of the evaluated split (never selected on when the
/// split is the test split, so the null is exact there). Learned nothing comes first: it
/// applies whether or not training was recorded.
pub fn judge(convergence: Option<&Convergence>, corr: &[Option<f64>], images: usize) -> Training {
    if let Some(null) = null_corr(images) {
        let above = corr.iter().filter(|c| c.is_some_and(|c| c > null)).count();
        if !corr.is_empty() && 2 * above <= corr.len() {
            return Training::LearnedNothing {
                above_null: above,
                neurons: corr.len(),
                null,
            };
        }
    }
    let Some((c, best)) = convergence.and_then(|c| Some((c, c.median_best_epoch?))) else {
        return Training::NotRecorded;
    };
    if best + PATIENCE > c.epochs {
        return Training::UnderTrained {
            median_best_epoch: best,
            epochs: c.epochs,
        };
    }
    Training::Converged
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
    Some(Convergence {
        epochs,
        neurons,
        improving_at_end: improving,
        median_best_epoch: middle(&info.best_epoch),
        median_epochs_trained: middle(&info.epochs_trained),
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

    fn recorded(epochs: usize, median_best_epoch: usize) -> Convergence {
        Convergence {
            epochs,
            neurons: 8,
            improving_at_end: 0,
            median_best_epoch: Some(median_best_epoch),
            median_epochs_trained: None,
            under_trained: false,
        }
    }

    #[test]
    fn issue_27_convergence_fails_closed() {
        let good = vec![Some(0.6); 8];
        // Best epoch 8 of 10: exactly PATIENCE before the last.
        assert_eq!(
            judge(Some(&recorded(10, 8)), &good, 100),
            Training::Converged
        );
        // Best epoch 9 of 10: the old rule (not the last epoch) passed it.
        assert_eq!(
            judge(Some(&recorded(10, 9)), &good, 100),
            Training::UnderTrained {
                median_best_epoch: 9,
                epochs: 10
            }
        );
        // No curves: not converged.
        assert_eq!(judge(None, &good, 100), Training::NotRecorded);
        // A chance-level model with a fine-looking curve learned nothing: on 100 images the
        // null is r = 0.165; 4 of 8 neurons above it is not most.
        let chance = [0.2, 0.1, -0.05, 0.17, 0.02, 0.3, 0.0, 0.25].map(Some);
        let Training::LearnedNothing {
            above_null, null, ..
        } = judge(Some(&recorded(10, 3)), &chance, 100)
        else {
            panic!("{:?}", judge(Some(&recorded(10, 3)), &chance, 100));
        };
        assert_eq!(above_null, 4);
        assert!((null - 0.1654).abs() < 1e-3, "{null}");
        let undefined = vec![None; 8];
        assert!(matches!(
            judge(None, &undefined, 100),
            Training::LearnedNothing { .. }
        ));
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
        assert_eq!(
            c.median_epochs_trained, None,
            "not recorded: every neuron trained all"
        );
        let stopped = PredictionInfo {
            epochs_trained: vec![2, 3, 1],
            ..info(vec![false, false, false])
        };
        assert_eq!(of(&stopped).unwrap().median_epochs_trained, Some(2));
        assert!(
            !of(&info(vec![true, false, false, true]))
                .unwrap()
                .under_trained
        );
        assert_eq!(of(&info(vec![])), None);
    }
}
