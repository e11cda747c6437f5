//! The probe's stimuli at the raw resolution: a blank, then drifting gratings in a centre
//! disc, alone and with a parallel or orthogonal surround annulus, over orientations x
//! frequencies x phases ([`super::Protocol`]). Discs and annuli have a one-pixel linear edge
//! (anti-aliased); everything outside them is the background.

use rayon::prelude::*;

use super::{ProbeError, Protocol};
use crate::neuro::array::ArrayF32;

/// What surrounds the centre grating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Background.
    Centre,
    /// A grating of the centre's orientation and phase.
    Parallel,
    /// A grating at the centre's orientation + 90 degrees.
    Orthogonal,
}

impl Condition {
    pub const ALL: [Condition; 3] = [
        Condition::Centre,
        Condition::Parallel,
        Condition::Orthogonal,
    ];
}

/// Where the stimuli are drawn: the raw image size, the cropped field (its centre is the
/// image's), and the luminances.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Canvas {
    pub amplitude: f64,
    pub background: f64,
    /// Side of the centred square the models see (resolved crop).
    pub field: usize,
    pub height: usize,
    pub width: usize,
}

impl Canvas {
    /// A canvas on the training images' statistics (`mean`, `sd` of their pixels) at
    /// `contrast` (amplitude = contrast x sqrt(2) x sd).
    pub fn new(
        height: usize,
        width: usize,
        field: usize,
        mean: f64,
        sd: f64,
        contrast: f64,
    ) -> Result<Self, ProbeError> {
        if !(sd > 0.0 && sd.is_finite() && mean.is_finite()) {
            return Err(ProbeError::Protocol(format!(
                "the training images' pixel statistics (mean {mean}, s.d. {sd}) give no \
                 grating contrast"
            )));
        }
        Ok(Canvas {
            height,
            width,
            field,
            background: mean,
            amplitude: contrast * std::f64::consts::SQRT_2 * sd,
        })
    }
}

/// The ordered stimulus set: index 0 is the blank, then
/// `1 + ((condition * F + frequency) * O + orientation) * P + phase`.
#[derive(Debug, Clone, PartialEq)]
pub struct StimulusSet {
    pub protocol: Protocol,
    pub canvas: Canvas,
}

impl StimulusSet {
    pub fn new(protocol: Protocol, canvas: Canvas) -> Result<Self, ProbeError> {
        protocol.check()?;
        Ok(StimulusSet { protocol, canvas })
    }

    /// Number of stimuli, blank included.
    pub fn len(&self) -> usize {
        1 + Condition::ALL.len() * self.cells() * self.protocol.phases
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// (frequency, orientation) cells per condition.
    pub fn cells(&self) -> usize {
        self.protocol.frequencies.len() * self.protocol.orientations
    }

    /// The index of a stimulus.
    pub fn index(&self, c: Condition, frequency: usize, orientation: usize, phase: usize) -> usize {
        let p = &self.protocol;
        let cond = Condition::ALL.iter().position(|&x| x == c).unwrap_or(0);
        1 + ((cond * p.frequencies.len() + frequency) * p.orientations + orientation) * p.phases
            + phase
    }

    /// Every stimulus, `[len, height, width]`.
    pub fn render(&self) -> ArrayF32 {
        let (h, w) = (self.canvas.height, self.canvas.width);
        let mut out = vec![0f32; self.len() * h * w];
        out.par_chunks_mut(h * w).enumerate().for_each(|(i, img)| {
            self.draw(i, img);
        });
        ArrayF32::new(vec![self.len(), h, w], out)
    }

    /// Draws stimulus `i` into `img` (`height * width`).
    fn draw(&self, i: usize, img: &mut [f32]) {
        let c = &self.canvas;
        if i == 0 {
            img.fill(c.background as f32);
            return;
        }
        let p = &self.protocol;
        let j = i - 1;
        let phase = j % p.phases;
        let orientation = (j / p.phases) % p.orientations;
        let frequency = (j / (p.phases * p.orientations)) % p.frequencies.len();
        let condition = Condition::ALL[j / (p.phases * self.cells())];
        let field = c.field as f64;
        let k = std::f64::consts::TAU * p.frequencies[frequency] / field;
        let theta = p.orientation(orientation);
        let phi = std::f64::consts::TAU * phase as f64 / p.phases as f64;
        let (r, outer) = (p.centre_radius * field, p.surround_radius * field);
        let surround_theta = match condition {
            Condition::Orthogonal => Some(theta + std::f64::consts::FRAC_PI_2),
            Condition::Parallel => Some(theta),
            Condition::Centre => None,
        };
        let (cx, cy) = ((c.width as f64 - 1.0) / 2.0, (c.height as f64 - 1.0) / 2.0);
        let grating = |t: f64, dx: f64, dy: f64| (k * (dx * t.cos() + dy * t.sin()) + phi).cos();
        for (row, line) in img.chunks_mut(c.width).enumerate() {
            for (col, v) in line.iter_mut().enumerate() {
                let (dx, dy) = (col as f64 - cx, row as f64 - cy);
                let d = (dx * dx + dy * dy).sqrt();
                let inside = (r + 0.5 - d).clamp(0.0, 1.0);
                let mut s = inside * grating(theta, dx, dy);
                if let Some(t) = surround_theta {
                    let ring = (1.0 - inside) * (outer + 0.5 - d).clamp(0.0, 1.0);
                    s += ring * grating(t, dx, dy);
                }
                *v = (c.background + c.amplitude * s) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> StimulusSet {
        let protocol = Protocol {
            frequencies: vec![4.0, 8.0],
            orientations: 4,
            phases: 4,
            ..Default::default()
        };
        let canvas = Canvas::new(40, 40, 40, 0.5, 0.1, 1.0).unwrap();
        StimulusSet::new(protocol, canvas).unwrap()
    }

    #[test]
    fn the_set_is_a_blank_then_every_condition_cell_and_phase() {
        let s = set();
        assert_eq!(s.len(), 1 + 3 * 2 * 4 * 4);
        let images = s.render();
        assert_eq!(images.shape, vec![97, 40, 40]);
        assert!(images.row(0).iter().all(|&v| v == 0.5));
        let last = s.index(Condition::Orthogonal, 1, 3, 3);
        assert_eq!(last, 96);
        // Luminances stay within background +- amplitude.
        let a = 0.1 * std::f64::consts::SQRT_2;
        assert!(
            images
                .data
                .iter()
                .all(|&v| (v as f64 - 0.5).abs() <= a + 1e-6)
        );
    }

    #[test]
    fn centre_gratings_stop_at_the_disc_and_surrounds_fill_the_annulus() {
        let s = set();
        let images = s.render();
        let at = |i: usize, row: usize, col: usize| images.row(i)[row * 40 + col];
        let centre = s.index(Condition::Centre, 0, 0, 0);
        let parallel = s.index(Condition::Parallel, 0, 0, 0);
        // Radius 0.12 x 40 = 4.8 px; a pixel 13.5 px right of the centre is in the annulus
        // (out to 20 px), one in the corner is outside everything.
        assert_eq!(at(centre, 20, 33), 0.5);
        assert_ne!(at(parallel, 20, 33), 0.5);
        assert_eq!(at(parallel, 0, 0), 0.5);
        // Inside the disc the centre grating is the same with or without a surround.
        assert_eq!(at(centre, 20, 20), at(parallel, 20, 20));
        // Orientation 0 varies along columns only (luminance changes along x).
        let o = s.index(Condition::Parallel, 1, 0, 1);
        assert!((at(o, 14, 25) - at(o, 26, 25)).abs() < 1e-6);
        assert!((at(o, 20, 24) - at(o, 20, 25)).abs() > 1e-3);
        // Phases average to the background: a drifting grating has no mean change.
        let mean: f64 = (0..4)
            .map(|p| at(s.index(Condition::Centre, 0, 1, p), 19, 21) as f64)
            .sum::<f64>()
            / 4.0;
        assert!((mean - 0.5).abs() < 1e-6, "{mean}");
    }

    #[test]
    fn a_canvas_without_contrast_is_refused() {
        let e = Canvas::new(4, 4, 4, 0.5, 0.0, 1.0).unwrap_err().to_string();
        assert!(e.contains("give no grating contrast"), "{e}");
    }
}
