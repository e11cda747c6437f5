//! The simulator's noise-free truth on the probe's stimuli: the simulated neurons of a raw
//! dataset (its `neurons.json`) evaluated on the raw-resolution stimuli, exactly as they
//! were on the dataset's images ([`crate::neuro::data::sim::population::Population`]).

use rayon::prelude::*;

use super::ProbeError;
use crate::neuro::array::ArrayF32;
use crate::neuro::data::sim::neurons::{NeuronParams, Response};
use crate::neuro::data::sim::population::Population;

/// The simulated neurons of `neurons.json` (`value`), checked against the dataset: `neurons`
/// of them, on square `height` x `width` images.
pub fn neurons_of(
    value: &serde_json::Value,
    neurons: usize,
    height: usize,
    width: usize,
) -> Result<Vec<NeuronParams>, ProbeError> {
    let params: Vec<NeuronParams> = serde_json::from_value(value.clone())
        .map_err(|e| ProbeError::Neurons(format!("not the simulated neurons' parameters: {e}")))?;
    if params.len() != neurons {
        return Err(ProbeError::Neurons(format!(
            "{} neurons, but the dataset records {neurons}",
            params.len()
        )));
    }
    if height != width {
        return Err(ProbeError::Neurons(format!(
            "simulated neurons need square images, the dataset's are {height} x {width}"
        )));
    }
    Ok(params)
}

/// Noise-free responses `[images, neurons]` of the simulated neurons to `images`
/// (`[n, size, size]`, the population's size).
pub fn truth_responses(params: Vec<NeuronParams>, images: &ArrayF32) -> ArrayF32 {
    let (n, size) = (images.shape[0], images.shape[1]);
    let k = params.len();
    let population = Population::from_params(params, size);
    let mut out = vec![0f32; n * k];
    out.par_chunks_mut(k.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            let mut r = vec![Response::default(); k];
            population.evaluate(images.row(i), &mut r);
            for (o, v) in row.iter_mut().zip(&r) {
                *o = v.noise_free;
            }
        });
    ArrayF32::new(vec![n, k], out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::analysis::probe::Protocol;
    use crate::neuro::analysis::probe::stimuli::{Canvas, StimulusSet};
    use crate::neuro::analysis::probe::tuning::{analyse, orientation_difference};
    use crate::neuro::data::sim::neurons::CellType;

    /// A centred neuron of wavelength 8 px on 64 x 64 images, with a surround.
    fn neuron(index: usize, orientation: f64, cell_type: CellType) -> NeuronParams {
        let params = serde_json::json!({
            "index": index, "cell_type": cell_type, "x": 31.5, "y": 31.5,
            "orientation": orientation, "wavelength": 8.0, "phase": 0.4, "sigma": 3.0,
            "suppression": 4.0, "untuned": 0.1, "annulus_inner": 7.0, "annulus_outer": 20.0,
            "facilitation": 0.0, "flank_inner": 7.0, "flank_outer": 20.0, "flank_angle": 0.35,
            "gate_half": 0.8, "threshold": 0.05, "exponent": 1.5, "gain": 1.0, "fano": 0.1,
            "noise_floor": 0.05, "target_trial_corr": 0.6, "drive_scale": 1.0,
            "suppression_scale": 1.0, "facilitation_scale": 1.0
        });
        serde_json::from_value(params).unwrap()
    }

    /// The truth probe recovers each simulated neuron's preferred orientation within a few
    /// degrees (off the 15-degree grid), its frequency, and its orientation-tuned surround:
    /// a parallel annulus suppresses more than an orthogonal one.
    #[test]
    fn the_truth_probe_recovers_simulated_tuning() {
        let params = vec![
            neuron(0, 0.3, CellType::Complex),
            neuron(1, 2.0, CellType::Simple),
            neuron(2, 1.1, CellType::Complex),
        ];
        let wanted: Vec<f64> = params.iter().map(|p| p.orientation.to_degrees()).collect();
        let protocol = Protocol {
            frequencies: vec![4.0, 8.0, 12.0],
            ..Default::default()
        };
        let canvas = Canvas::new(64, 64, 64, 0.5, 0.2, 1.0).unwrap();
        let set = StimulusSet::new(protocol, canvas).unwrap();
        let responses = truth_responses(params, &set.render());
        let result = analyse(&set, &responses).unwrap();
        for (n, want) in result.neurons.iter().zip(wanted) {
            let got = n.preferred_orientation_deg.unwrap();
            assert!(
                orientation_difference(got, want) < 4.0,
                "neuron {}: {got} vs {want}",
                n.neuron
            );
            assert_eq!(n.preferred_frequency, 8.0, "64 px / 8 px");
            assert!(n.osi.unwrap() > 0.3, "{:?}", n.osi);
            let (par, orth) = (n.ssi_parallel.unwrap(), n.ssi_orthogonal.unwrap());
            assert!(par > 0.2 && par > orth + 0.1, "{par} vs {orth}");
        }
    }

    #[test]
    fn neurons_json_is_checked_against_the_dataset() {
        let v = serde_json::to_value(vec![neuron(0, 0.3, CellType::Simple)]).unwrap();
        assert_eq!(neurons_of(&v, 1, 64, 64).unwrap().len(), 1);
        let e = neurons_of(&v, 2, 64, 64).unwrap_err().to_string();
        assert_eq!(e, "neurons.json: 1 neurons, but the dataset records 2");
        let e = neurons_of(&v, 1, 64, 32).unwrap_err().to_string();
        assert!(e.contains("square images"), "{e}");
        let e = neurons_of(&serde_json::json!({"a": 1}), 1, 64, 64)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not the simulated neurons' parameters"), "{e}");
    }
}
