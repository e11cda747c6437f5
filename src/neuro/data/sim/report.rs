//! Calibration figures of a simulated data set, compared with the targets of data.md §2:
//! single-trial vs noise-free correlation (target 0.5-0.7), how much cleaner the test average
//! is, noise ceilings estimated from repeats and from the known noise model, how sparse the
//! responses are (fraction of images above half of the peak, target of order 1%), and the
//! stimuli's spectral slope (target -1.5 to -3).

use serde_json::{Map, Value};

use super::Population;
use super::spectrum::spectrum_slope;
use crate::neuro::data::raw::RawDataset;
use crate::neuro::data::summary::{
    fraction_above_half_peak, json_number, lifetime_sparseness, noise_ceiling_from_model,
};
use crate::neuro::stats::{mean_of, pearson, widen};

/// Images used for the spectral slope (it is an O(n^3) transform per image).
const SPECTRUM_IMAGES: usize = 16;

/// Min, mean and max of the `Some` values.
fn spread(values: &[Option<f64>]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    let min = v.iter().copied().reduce(f64::min);
    let max = v.iter().copied().reduce(f64::max);
    (min, mean_of(values.iter().copied()), max)
}

/// The calibration metrics of a simulated data set (`raw` must carry its truth).
pub fn calibration_metrics(raw: &RawDataset, pop: &Population) -> Map<String, Value> {
    let mut m = Map::new();
    let Some(truth) = &raw.truth else {
        return m;
    };
    let k = raw.meta.neurons;
    let mut put = |key: &str, v: Option<f64>| {
        m.insert(key.to_owned(), json_number(v));
    };
    let mut single: Vec<usize> = raw.split.train.clone();
    single.extend(raw.split.validation.iter().flatten());
    let trials = raw.responses.select_rows(&single);
    let nf_single = truth.noise_free.select_rows(&single);
    let test_mean = raw.responses.select_rows(&raw.split.test);
    let nf_test = truth.noise_free.select_rows(&raw.split.test);

    let mut trial_corr = Vec::new();
    let mut test_corr = Vec::new();
    let mut half_peak = Vec::new();
    let mut sparseness = Vec::new();
    let mut model_ceiling = Vec::new();
    let repeats = raw.meta.repeats.unwrap_or(1);
    for n in 0..k {
        let nf = widen(&nf_single.column(n));
        trial_corr.push(pearson(&widen(&trials.column(n)), &nf).ok());
        half_peak.push(fraction_above_half_peak(&nf));
        sparseness.push(lifetime_sparseness(&nf));
        let nf_t = widen(&nf_test.column(n));
        test_corr.push(pearson(&widen(&test_mean.column(n)), &nf_t).ok());
        let model = &pop.neurons[n];
        let noise_var: Vec<f64> = nf_t
            .iter()
            .map(|&r| (model.noise_sd(r as f32) as f64).powi(2))
            .collect();
        model_ceiling.push(noise_ceiling_from_model(&nf_t, &noise_var, repeats));
    }
    let (lo, mean, hi) = spread(&trial_corr);
    put("trial_vs_noise_free_corr_mean", mean);
    put("trial_vs_noise_free_corr_min", lo);
    put("trial_vs_noise_free_corr_max", hi);
    put("test_mean_vs_noise_free_corr_mean", mean_of(test_corr));
    put("noise_ceiling_model", mean_of(model_ceiling));
    let (lo, mean, hi) = spread(&half_peak);
    put("fraction_above_half_peak_mean", mean);
    put("fraction_above_half_peak_min", lo);
    put("fraction_above_half_peak_max", hi);
    put("lifetime_sparseness_mean", mean_of(sparseness));
    let params = pop.params();
    put(
        "neurons_without_surround",
        Some(params.iter().filter(|p| !p.has_surround()).count() as f64),
    );
    put(
        "complex_cells",
        Some(
            params
                .iter()
                .filter(|p| p.cell_type == super::neurons::CellType::Complex)
                .count() as f64,
        ),
    );
    let size = raw.meta.height;
    let shown: Vec<&[f32]> = raw
        .split
        .train
        .iter()
        .take(SPECTRUM_IMAGES)
        .map(|&i| raw.images.row(i))
        .collect();
    put("spectrum_slope", spectrum_slope(shown, size));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::data::sim::stimuli::DeadLeaves;
    use crate::neuro::data::sim::{SimConfig, simulate};

    #[test]
    fn metrics_cover_the_calibration_targets() {
        let cfg = crate::neuro::data::fixtures::small_config(4);
        let out = simulate(&SimConfig { ..cfg }, &DeadLeaves::new(32), &|_, _, _| {}).unwrap();
        let m = calibration_metrics(&out.raw, &out.population);
        for key in [
            "trial_vs_noise_free_corr_mean",
            "test_mean_vs_noise_free_corr_mean",
            "noise_ceiling_model",
            "fraction_above_half_peak_mean",
            "spectrum_slope",
        ] {
            assert!(m[key].is_number(), "{key}: {:?}", m[key]);
        }
    }
}
