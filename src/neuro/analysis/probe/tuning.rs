//! From responses to the probe's stimuli to each neuron's orientation tuning and surround
//! suppression ([`analyse`]), a population's medians, and a model's agreement with the
//! simulated truth ([`agreement`]). The formulas are in [`super`]'s docs; each is one small
//! function here. Responses are baseline-subtracted (the blank's response) before anything
//! else. A value that is undefined for a neuron (no response above the blank) is `None`.

use serde::{Deserialize, Serialize};

use super::ProbeError;
use super::stimuli::{Condition, StimulusSet};
use crate::neuro::array::ArrayF32;
use crate::neuro::stats::{median_of, pearson};

/// One neuron's tuning, as the probe measured it. Angles in degrees in [0, 180).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronProbe {
    /// Response above the blank to the preferred centre grating.
    pub centre_response: f64,
    pub neuron: usize,
    /// Responses above the blank at the preferred frequency, one per orientation.
    pub orientation_tuning: Vec<f64>,
    pub osi: Option<f64>,
    /// Cycles per cropped field.
    pub preferred_frequency: f64,
    pub preferred_orientation_deg: Option<f64>,
    pub ssi_orthogonal: Option<f64>,
    pub ssi_parallel: Option<f64>,
}

/// Medians over the neurons where a value is defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationProbe {
    pub median_osi: Option<f64>,
    pub median_ssi_orthogonal: Option<f64>,
    pub median_ssi_parallel: Option<f64>,
    pub neurons: usize,
    /// Neurons that respond above the blank to some centre grating (their SSI is defined).
    pub responsive: usize,
}

/// A population's probe: per neuron and summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub neurons: Vec<NeuronProbe>,
    pub population: PopulationProbe,
}

/// How a model's probe compares with the truth's, neuron by neuron.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub median_orientation_error_deg: Option<f64>,
    /// Per neuron: the circular difference of preferred orientations, in [0, 90].
    pub orientation_error_deg: Vec<Option<f64>>,
    /// Pearson r across neurons (defined on both sides), model vs truth.
    pub osi_corr: Option<f64>,
    pub ssi_orthogonal_corr: Option<f64>,
    pub ssi_parallel_corr: Option<f64>,
}

/// Orientation selectivity, 1 - circular variance: |sum r e^{2i theta}| / sum r with responses
/// clipped at zero; `None` without any positive response. Also the vector-average preferred
/// orientation in degrees (`None` when the vector vanishes).
pub fn osi_and_preference(tuning: &[f64], angles: &[f64]) -> (Option<f64>, Option<f64>) {
    let (mut c, mut s, mut total) = (0.0, 0.0, 0.0);
    for (&r, &t) in tuning.iter().zip(angles) {
        let r = r.max(0.0);
        c += r * (2.0 * t).cos();
        s += r * (2.0 * t).sin();
        total += r;
    }
    if total <= 0.0 {
        return (None, None);
    }
    let length = c.hypot(s);
    let preferred =
        (length > 1e-12 * total).then(|| (0.5 * s.atan2(c)).to_degrees().rem_euclid(180.0));
    (Some(length / total), preferred)
}

/// Surround suppression index 1 - r(centre + surround) / r(centre); `None` when the centre
/// response is not above the blank.
pub fn ssi(centre: f64, with_surround: f64, blank: f64) -> Option<f64> {
    (centre > 1e-9 + 1e-3 * blank.abs()).then(|| 1.0 - with_surround / centre)
}

/// The difference of two orientations (degrees, period 180) in [0, 90].
pub fn orientation_difference(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(180.0);
    d.min(180.0 - d)
}

/// Pearson r over the pairs defined on both sides (at least 3), if defined.
fn paired_corr(a: &[Option<f64>], b: &[Option<f64>]) -> Option<f64> {
    let (x, y): (Vec<f64>, Vec<f64>) = a
        .iter()
        .zip(b)
        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
        .unzip();
    if x.len() < 3 {
        return None;
    }
    pearson(&x, &y).ok()
}

/// Each neuron's probe from `responses` (`[stimuli, neurons]`, the set's order).
pub fn analyse(set: &StimulusSet, responses: &ArrayF32) -> Result<ProbeResult, ProbeError> {
    if responses.shape.len() != 2 || responses.shape[0] != set.len() {
        return Err(ProbeError::Protocol(format!(
            "responses have shape {:?}, expected [{}, neurons]",
            responses.shape,
            set.len()
        )));
    }
    let k = responses.shape[1];
    if let Some(i) = responses.data.iter().position(|v| !v.is_finite()) {
        return Err(ProbeError::Protocol(format!(
            "non-finite response ({}) of neuron {} to stimulus {}",
            responses.data[i],
            i % k,
            i / k
        )));
    }
    let neurons: Vec<NeuronProbe> = (0..k).map(|n| neuron(set, responses, n)).collect();
    let population = PopulationProbe {
        median_osi: median_of(neurons.iter().map(|n| n.osi)),
        median_ssi_orthogonal: median_of(neurons.iter().map(|n| n.ssi_orthogonal)),
        median_ssi_parallel: median_of(neurons.iter().map(|n| n.ssi_parallel)),
        neurons: k,
        responsive: neurons.iter().filter(|n| n.ssi_parallel.is_some()).count(),
    };
    Ok(ProbeResult {
        neurons,
        population,
    })
}

/// One neuron's probe (responses checked finite).
fn neuron(set: &StimulusSet, responses: &ArrayF32, n: usize) -> NeuronProbe {
    let p = &set.protocol;
    let k = responses.shape[1];
    let blank = f64::from(responses.data[n]);
    // Phase-averaged response above the blank of one condition cell.
    let cell = |c: Condition, f: usize, o: usize| {
        (0..p.phases)
            .map(|ph| f64::from(responses.data[set.index(c, f, o, ph) * k + n]))
            .sum::<f64>()
            / p.phases as f64
            - blank
    };
    let (mut best, mut at) = (f64::NEG_INFINITY, (0, 0));
    for f in 0..p.frequencies.len() {
        for o in 0..p.orientations {
            let r = cell(Condition::Centre, f, o);
            if r > best {
                (best, at) = (r, (f, o));
            }
        }
    }
    let (f, o) = at;
    let tuning: Vec<f64> = (0..p.orientations)
        .map(|o| cell(Condition::Centre, f, o))
        .collect();
    let angles: Vec<f64> = (0..p.orientations).map(|o| p.orientation(o)).collect();
    let (osi, preferred) = osi_and_preference(&tuning, &angles);
    let with_surround = |c: Condition| ssi(best, cell(c, f, o), blank);
    NeuronProbe {
        centre_response: best,
        neuron: n,
        orientation_tuning: tuning,
        osi,
        preferred_frequency: p.frequencies[f],
        preferred_orientation_deg: preferred,
        ssi_orthogonal: with_surround(Condition::Orthogonal),
        ssi_parallel: with_surround(Condition::Parallel),
    }
}

/// A model's probe against the truth's, neuron by neuron (same population).
pub fn agreement(model: &ProbeResult, truth: &ProbeResult) -> Agreement {
    let pairs = || model.neurons.iter().zip(&truth.neurons);
    let errors: Vec<Option<f64>> = pairs()
        .map(|(m, t)| {
            Some(orientation_difference(
                m.preferred_orientation_deg?,
                t.preferred_orientation_deg?,
            ))
        })
        .collect();
    let column = |r: &ProbeResult, pick: fn(&NeuronProbe) -> Option<f64>| -> Vec<Option<f64>> {
        r.neurons.iter().map(pick).collect()
    };
    let corr = |pick: fn(&NeuronProbe) -> Option<f64>| {
        paired_corr(&column(model, pick), &column(truth, pick))
    };
    Agreement {
        median_orientation_error_deg: median_of(errors.iter().copied()),
        orientation_error_deg: errors,
        osi_corr: corr(|n| n.osi),
        ssi_orthogonal_corr: corr(|n| n.ssi_orthogonal),
        ssi_parallel_corr: corr(|n| n.ssi_parallel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::analysis::probe::Protocol;
    use crate::neuro::analysis::probe::stimuli::Canvas;

    #[test]
    fn osi_is_one_for_a_single_orientation_and_zero_for_a_flat_curve() {
        let angles: Vec<f64> = (0..4)
            .map(|o| std::f64::consts::PI * o as f64 / 4.0)
            .collect();
        let (osi, pref) = osi_and_preference(&[0.0, 0.0, 2.0, 0.0], &angles);
        assert!((osi.unwrap() - 1.0).abs() < 1e-12);
        assert!((pref.unwrap() - 90.0).abs() < 1e-9);
        let (osi, pref) = osi_and_preference(&[1.0, 1.0, 1.0, 1.0], &angles);
        assert!(osi.unwrap() < 1e-12 && pref.is_none());
        // Negative responses count as zero; none positive: undefined.
        assert_eq!(osi_and_preference(&[-1.0; 4], &angles), (None, None));
        // Two neighbouring orientations: the preference lies between them.
        let (osi, pref) = osi_and_preference(&[1.0, 1.0, 0.0, 0.0], &angles);
        assert!((pref.unwrap() - 22.5).abs() < 1e-9);
        assert!((osi.unwrap() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
    }

    #[test]
    fn ssi_and_orientation_differences() {
        assert_eq!(ssi(2.0, 0.5, 0.0), Some(0.75));
        assert_eq!(ssi(2.0, 3.0, 0.0), Some(-0.5));
        assert_eq!(ssi(0.0, 0.5, 0.0), None);
        assert_eq!(orientation_difference(170.0, 10.0), 20.0);
        assert_eq!(orientation_difference(10.0, 100.0), 90.0);
        assert_eq!(orientation_difference(45.0, 45.0), 0.0);
    }

    /// Responses made up to match a known tuning: neuron 0 prefers orientation 1 at
    /// frequency 1, is halved by a parallel surround and untouched by an orthogonal one.
    #[test]
    fn analysis_reads_the_preferred_cell_and_its_surround() {
        let protocol = Protocol {
            frequencies: vec![3.0, 6.0],
            orientations: 4,
            phases: 2,
            ..Default::default()
        };
        let set = StimulusSet::new(protocol, Canvas::new(8, 8, 8, 0.5, 0.1, 1.0).unwrap()).unwrap();
        let mut r = ArrayF32::new(vec![set.len(), 2], vec![0.1; set.len() * 2]);
        for ph in 0..2 {
            let at = |c, o| set.index(c, 1, o, ph) * 2;
            r.data[at(Condition::Centre, 1)] = 2.1;
            r.data[at(Condition::Centre, 2)] = 0.6;
            r.data[at(Condition::Parallel, 1)] = 1.1;
            r.data[at(Condition::Orthogonal, 1)] = 2.1;
        }
        let result = analyse(&set, &r).unwrap();
        let n0 = &result.neurons[0];
        assert_eq!(n0.preferred_frequency, 6.0);
        assert!((n0.centre_response - 2.0).abs() < 1e-6);
        assert!((n0.ssi_parallel.unwrap() - 0.5).abs() < 1e-6);
        assert!(n0.ssi_orthogonal.unwrap().abs() < 1e-6);
        let pref = n0.preferred_orientation_deg.unwrap();
        assert!((45.0..60.0).contains(&pref), "{pref}");
        // Neuron 1 never rises above its blank: nothing is defined.
        let n1 = &result.neurons[1];
        assert_eq!((n1.osi, n1.ssi_parallel), (None, None));
        assert_eq!(result.population.responsive, 1);
        assert_eq!(result.population.median_ssi_parallel, n0.ssi_parallel);

        let same = agreement(&result, &result);
        assert_eq!(same.median_orientation_error_deg, Some(0.0));
        assert_eq!(same.orientation_error_deg[1], None);
        assert_eq!(same.ssi_parallel_corr, None, "fewer than 3 neurons");

        r.data[5] = f32::NAN;
        let e = analyse(&set, &r).unwrap_err().to_string();
        assert!(e.contains("neuron 1 to stimulus 2"), "{e}");
    }
}
