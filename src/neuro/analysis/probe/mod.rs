//! The in-silico probe: classic V1 stimuli shown to trained models and to the simulator's
//! noise-free truth, and each neuron's orientation tuning and surround suppression read off
//! the responses, the same way for both.
//!
//! Protocol (what the `probe` stage runs; the stimuli are drawn at the RAW resolution, so the
//! simulated neurons see them as they saw their images, and the models see them through the
//! training transform, [`crate::neuro::data::transform::Preprocessing`]):
//!
//! - every grating is centred on the image centre (simulated RFs lie near it) and drifts:
//!   each condition is shown at `phases` evenly spaced phases and the responses averaged;
//! - centre: a grating in a disc of radius `centre_radius` (fraction of the cropped field's
//!   side) at `orientations` orientations over 180° x the spatial `frequencies` (cycles per
//!   cropped field), on a uniform background;
//! - surround: the same centre with an annulus grating out to `surround_radius`, parallel
//!   (same orientation and phase: one large grating) or orthogonal to the centre;
//! - a blank (background only) whose response is subtracted from every other (the
//!   spontaneous rate; a model's readout bias);
//! - background: the training images' mean pixel value; amplitude: `contrast` x sqrt(2) x
//!   their pixel s.d. (contrast 1: the grating's RMS contrast is the images' own).
//!
//! Analysis per neuron ([`tuning`]): the preferred (orientation, frequency) is the strongest
//! centre response; at the preferred frequency the preferred orientation is the vector
//! average over orientations (doubled angles) and OSI = |sum r e^{2i theta}| / sum r (1 -
//! circular variance, responses clipped at zero); SSI = 1 - r(centre + surround) / r(centre)
//! at the preferred cell, for the parallel and the orthogonal surround (positive:
//! suppression, negative: facilitation).
//!
//! Files: [`stimuli`] draws the stimuli, [`truth`] runs the simulator on them, [`replay`]
//! recovers and checks the training transform, [`tuning`] analyses responses and compares a
//! model with the truth, [`files`] types what the stage writes and the report reads.

pub mod files;
pub mod replay;
pub mod stimuli;
pub mod truth;
pub mod tuning;

/// Why a probe could not be run; says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Transform(String),
    #[error("neurons.json: {0}")]
    Neurons(String),
}

/// The stimulus protocol (the stage's parameters).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Protocol {
    /// Radius of the centre disc, as a fraction of the cropped field's side.
    pub centre_radius: f64,
    /// Amplitude in units of sqrt(2) x the training images' pixel s.d.
    pub contrast: f64,
    /// Spatial frequencies in cycles per cropped field.
    pub frequencies: Vec<f64>,
    /// Orientations over 180 degrees.
    pub orientations: usize,
    /// Phases over 360 degrees, averaged.
    pub phases: usize,
    /// Outer radius of the surround annulus, as a fraction of the cropped field's side.
    pub surround_radius: f64,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            centre_radius: 0.12,
            contrast: 1.0,
            frequencies: vec![4.0, 6.0, 9.0, 13.0],
            orientations: 12,
            phases: 8,
            surround_radius: 0.5,
        }
    }
}

impl Protocol {
    /// Refuses protocols that cannot measure tuning, naming the parameter.
    pub fn check(&self) -> Result<(), ProbeError> {
        let bad = |m: String| Err(ProbeError::Protocol(m));
        if self.orientations < 4 {
            return bad(format!(
                "orientations = {}: at least 4 are needed for a tuning curve",
                self.orientations
            ));
        }
        if self.phases < 2 {
            return bad(format!(
                "phases = {}: at least 2 are needed to average a drifting grating",
                self.phases
            ));
        }
        if self.frequencies.is_empty() || self.frequencies.iter().any(|f| f.is_nan() || *f <= 0.0) {
            return bad(format!(
                "frequencies = {:?}: give one or more positive frequencies (cycles per field)",
                self.frequencies
            ));
        }
        if !(self.centre_radius > 0.0 && self.centre_radius < self.surround_radius) {
            return bad(format!(
                "centre_radius = {} must be positive and below surround_radius = {}",
                self.centre_radius, self.surround_radius
            ));
        }
        if !(self.contrast > 0.0 && self.contrast.is_finite()) {
            return bad(format!("contrast = {} must be positive", self.contrast));
        }
        Ok(())
    }

    /// Orientation `o` in radians (direction of luminance change, as the simulator's).
    pub fn orientation(&self, o: usize) -> f64 {
        std::f64::consts::PI * o as f64 / self.orientations as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_protocol_is_valid_and_bad_ones_are_named() {
        Protocol::default().check().unwrap();
        let bad = |p: Protocol| p.check().unwrap_err().to_string();
        let e = bad(Protocol {
            orientations: 2,
            ..Default::default()
        });
        assert!(e.starts_with("orientations = 2"), "{e}");
        let e = bad(Protocol {
            frequencies: vec![3.0, -1.0],
            ..Default::default()
        });
        assert!(e.starts_with("frequencies = [3.0, -1.0]"), "{e}");
        let e = bad(Protocol {
            centre_radius: 0.6,
            ..Default::default()
        });
        assert!(e.contains("below surround_radius = 0.5"), "{e}");
    }
}
