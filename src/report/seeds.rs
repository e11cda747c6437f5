//! Seed repeats in reports: the models of one evaluation that are one model trained with
//! different seeds (stages named as `repeat:` instances, e.g. `train@ff-cnn,seed2`, with the
//! same model, label, training fraction and training kind) form one [`Replicates`]. Tables show
//! each metric's mean ± s.d. across seeds ([`Spread`]); comparisons see each neuron over its
//! seeds ([`by_neuron`]) and average them per neuron: neurons are the unit, never
//! neurons × seeds (which would shrink intervals by about √seeds).
//!
//! A model evaluated once is a group of one, shown and compared exactly as before.

use crate::neuro::scoring::evaluation::{ModelEvaluation, ModelInfo};
use crate::neuro::stats::{mean_of, sample_sd};
use crate::spec::repeat::seed_of;

/// One metric of a model across its seeds: the mean and s.d. of the per-seed values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub mean: Option<f64>,
    /// `None` with fewer than two defined seeds.
    pub sd: Option<f64>,
    /// Seeds where the metric is defined.
    pub seeds: usize,
}

impl Spread {
    /// The spread of per-seed values; one value is itself (whatever it is), several are
    /// reduced over those that are defined and finite.
    pub fn of(values: &[Option<f64>]) -> Self {
        if let [single] = values {
            return Self {
                mean: *single,
                sd: None,
                seeds: usize::from(single.is_some()),
            };
        }
        let defined: Vec<f64> = values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        Self {
            mean: mean_of(values.iter().copied()),
            sd: sample_sd(&defined),
            seeds: defined.len(),
        }
    }

    /// `0.412 ± 0.013` with `digits` decimals; just the mean without an s.d.; `missing`
    /// without a mean.
    pub fn text(&self, digits: usize, missing: &str) -> String {
        match (self.mean, self.sd) {
            (None, _) => missing.to_string(),
            (Some(m), None) => format!("{m:.digits$}"),
            (Some(m), Some(s)) => format!("{m:.digits$} ± {s:.digits$}"),
        }
    }
}

/// One model of an evaluation, over the seeds it was trained with.
#[derive(Debug, Clone)]
pub struct Replicates<'a> {
    /// The stage name without its seed (the stage itself when it is not a `repeat:` instance).
    pub base: String,
    /// (seed, evaluated model) in the evaluation's order; the seed is `None` for a stage that
    /// is not a `repeat:` instance.
    pub members: Vec<(Option<u64>, &'a ModelEvaluation)>,
}

/// Whether two evaluated models are the same model (all but the seed).
fn same_model(a: &ModelInfo, b: &ModelInfo) -> bool {
    a.model == b.model
        && a.label == b.label
        && a.fraction == b.fraction
        && a.incremental == b.incremental
}

/// The models in `models` grouped by seed repeats, in the order of each group's first model.
pub fn group<'a>(models: impl IntoIterator<Item = &'a ModelEvaluation>) -> Vec<Replicates<'a>> {
    let mut groups: Vec<Replicates<'a>> = Vec::new();
    for m in models {
        let Some((base, seed)) = seed_of(&m.model.stage) else {
            groups.push(Replicates {
                base: m.model.stage.clone(),
                members: vec![(None, m)],
            });
            continue;
        };
        let joins = |g: &&mut Replicates<'a>| {
            g.base == base
                && same_model(&g.first().model, &m.model)
                && g.members.iter().all(|(s, _)| s.is_some_and(|s| s != seed))
        };
        match groups.iter_mut().find(|g| joins(g)) {
            Some(g) => g.members.push((Some(seed), m)),
            None => groups.push(Replicates {
                base,
                members: vec![(Some(seed), m)],
            }),
        }
    }
    groups
}

impl<'a> Replicates<'a> {
    pub fn first(&self) -> &'a ModelEvaluation {
        self.members[0].1
    }

    /// `metric` of each seed, reduced to its [`Spread`].
    pub fn spread(&self, metric: impl Fn(&ModelEvaluation) -> Option<f64>) -> Spread {
        let values: Vec<Option<f64>> = self.members.iter().map(|(_, m)| metric(m)).collect();
        Spread::of(&values)
    }

    /// What the Stage column shows: the stage, or `train@ff-cnn (seeds 1, 2)`.
    pub fn stages(&self) -> String {
        match self.members.as_slice() {
            [(_, m)] => m.model.stage.clone(),
            all => {
                let seeds: Vec<String> = all
                    .iter()
                    .filter_map(|(s, _)| s.map(|s| s.to_string()))
                    .collect();
                format!("{} (seeds {})", self.base, seeds.join(", "))
            }
        }
    }
}

/// Each neuron's values over the seeds of `group`: `values(model)` is one seed's per-neuron
/// values, and neuron i gets one entry per seed (`None` where undefined in that seed).
/// Comparisons average them per neuron ([`crate::neuro::scoring::verdict`]): neurons, not
/// neurons × seeds, are the unit.
pub fn by_neuron(
    group: &Replicates,
    values: impl Fn(&ModelEvaluation) -> Vec<Option<f64>>,
) -> Vec<Vec<Option<f64>>> {
    let per_seed: Vec<Vec<Option<f64>>> = group.members.iter().map(|(_, m)| values(m)).collect();
    let neurons = per_seed.iter().map(Vec::len).max().unwrap_or(0);
    (0..neurons)
        .map(|i| {
            per_seed
                .iter()
                .map(|v| v.get(i).copied().flatten())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::model;

    #[test]
    fn spreads_read_as_mean_plus_minus_sd_and_one_seed_as_itself() {
        let s = Spread::of(&[Some(0.4), Some(0.5), None]);
        assert_eq!(s.seeds, 2);
        assert_eq!(s.text(3, "—"), "0.450 ± 0.071");
        assert_eq!(Spread::of(&[Some(0.4)]).text(3, "—"), "0.400");
        assert_eq!(Spread::of(&[None]).text(1, "—"), "—");
        assert_eq!(Spread::of(&[Some(f64::NAN)]).text(1, "—"), "NaN");
    }

    fn at(stage: &str, id: &str, corr: f64) -> ModelEvaluation {
        model(stage, id, false, 1.0, [corr, 5.0, 10.0])
    }

    /// ff-CNN with seeds 1 and 2, rf-CNN with seeds 2, 1 and 3, and a model evaluated once.
    fn models() -> [ModelEvaluation; 6] {
        [
            at("t@ff-cnn,seed1", "ff-cnn", 0.4),
            at("t@rf-cnn,seed2", "rf-cnn", 0.7),
            at("t@ff-cnn,seed2", "ff-cnn", 0.5),
            at("plain", "ff-cnn", 0.3),
            at("t@rf-cnn,seed1", "rf-cnn", 0.5),
            at("t@rf-cnn,seed3", "rf-cnn", 0.9),
        ]
    }

    #[test]
    fn seeds_of_one_model_group_and_others_stay_alone() {
        let models = models();
        let groups = group(&models);
        let shown: Vec<String> = groups.iter().map(Replicates::stages).collect();
        assert_eq!(
            shown,
            ["t@ff-cnn (seeds 1, 2)", "t@rf-cnn (seeds 2, 1, 3)", "plain"]
        );
        let corr = groups[1].spread(|m| m.summary.corr.mean);
        assert!((corr.mean.unwrap() - 0.7).abs() < 1e-12);
        assert!((corr.sd.unwrap() - 0.2).abs() < 1e-12);
        // Same base name, another model: not a seed of it.
        let odd = [
            at("t@x,seed1", "ff-cnn", 0.4),
            at("t@x,seed2", "rf-cnn", 0.4),
        ];
        assert_eq!(group(&odd).len(), 2);
    }

    #[test]
    fn comparisons_see_each_neuron_over_its_seeds() {
        let models = models();
        let groups = group(&models);
        let corr = |m: &ModelEvaluation| m.neurons.iter().map(|n| n.corr).collect();
        let rf = by_neuron(&groups[1], corr);
        assert_eq!(rf.len(), models[1].neurons.len());
        assert_eq!(
            rf[0],
            vec![
                models[1].neurons[0].corr,
                models[4].neurons[0].corr,
                models[5].neurons[0].corr
            ],
            "seeds 2, 1, 3 of neuron 0"
        );
        assert_eq!(by_neuron(&groups[2], corr)[0].len(), 1);
    }
}
