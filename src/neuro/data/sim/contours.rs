//! Smooth elongated contours drawn over a dead-leaves image: a curve whose curvature drifts
//! slowly (a random walk), with anti-aliased edges, so that collinear structure exists for
//! the association-field (collinear facilitation) part of the simulated surrounds.

use super::stimuli::{iceil, ifloor};
use crate::neuro::random::sequential::Stream;

/// A smooth elongated curve drawn over the leaves with anti-aliased edges.
pub(super) struct Contour {
    x: f64,
    y: f64,
    heading: f64,
    curvature: f64,
    /// Change of curvature per pixel of length (a slow random walk).
    bend: f64,
    length: f64,
    half_width: f64,
    luminance: f32,
    opacity: f32,
}

impl Contour {
    pub(super) fn sample(n: usize, rng: &mut Stream) -> Self {
        let s = n as f64;
        Contour {
            x: rng.range(0.1 * s, 0.9 * s),
            y: rng.range(0.1 * s, 0.9 * s),
            heading: rng.range(0.0, std::f64::consts::TAU),
            curvature: rng.range(-1.0, 1.0) * 0.8 / s,
            bend: rng.range(-1.0, 1.0) * 2.0 / (s * s),
            length: rng.range(0.3, 0.9) * s,
            half_width: rng.range(0.6, 1.8) * s / 100.0,
            luminance: if rng.chance(0.5) {
                rng.range(0.0, 0.2)
            } else {
                rng.range(0.8, 1.0)
            } as f32,
            opacity: rng.range(0.6, 1.0) as f32,
        }
    }

    /// Blends the contour into `out`; `alpha` is scratch space of the image's size, all zero
    /// on entry and on return.
    pub(super) fn paint(&self, n: usize, out: &mut [f32], alpha: &mut [f32]) {
        let step = 0.5;
        let reach = self.half_width + 1.0;
        let outer = self.half_width + 0.5;
        let (mut x, mut y, mut heading, mut curvature) =
            (self.x, self.y, self.heading, self.curvature);
        let (mut bx0, mut by0, mut bx1, mut by1) = (i64::MAX, i64::MAX, -1i64, -1i64);
        let mut travelled = 0.0;
        while travelled < self.length {
            let x0 = ifloor(x - reach).max(0);
            let y0 = ifloor(y - reach).max(0);
            let x1 = iceil(x + reach).min(n as i64 - 1);
            let y1 = iceil(y + reach).min(n as i64 - 1);
            if x0 <= x1 && y0 <= y1 {
                (bx0, by0, bx1, by1) = (bx0.min(x0), by0.min(y0), bx1.max(x1), by1.max(y1));
            }
            for py in y0..=y1 {
                for px in x0..=x1 {
                    let (dx, dy) = (px as f64 - x, py as f64 - y);
                    let d2 = dx * dx + dy * dy;
                    if d2 >= outer * outer {
                        continue;
                    }
                    let a = (outer - libm::sqrt(d2)).min(1.0) as f32;
                    let i = py as usize * n + px as usize;
                    if a > alpha[i] {
                        alpha[i] = a;
                    }
                }
            }
            x += step * libm::cos(heading);
            y += step * libm::sin(heading);
            heading += step * curvature;
            curvature += step * self.bend;
            travelled += step;
        }
        for py in by0.max(0)..=by1 {
            for px in bx0..=bx1 {
                let i = py as usize * n + px as usize;
                let a = alpha[i] * self.opacity;
                out[i] = out[i] * (1.0 - a) + self.luminance * a;
                alpha[i] = 0.0;
            }
        }
    }
}
