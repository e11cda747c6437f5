//! One simulated V1 neuron: its parameters (saved as JSON) and the compiled filters that turn an
//! image into a response.
//!
//! ```text
//! centre drive   c = max(0, <G_phase, I>)                 (simple cell)
//!                c = sqrt(<G_0, I>^2 + <G_90, I>^2)        (complex cell, Gabor energy)
//! normalised     x = c / drive_scale                       (drive_scale: 90th percentile of c)
//! suppression    S = sum_annulus w (oriented(theta) + untuned * isotropic) / suppression_scale
//! facilitation   F = sum_flanks  w oriented(theta)                         / facilitation_scale
//! gate           g = x^2 / (x^2 + gate_half^2)            (facilitation needs a driven centre)
//! surround factor s = (1 + facilitation * g * F / (1 + F)) / (1 + suppression * S)
//! noise-free     r = gain * max(0, x s - threshold)^exponent
//! centre-only    r_c = gain * max(0, x - threshold)^exponent  (= r when s = 1)
//! trial          r + sqrt(fano * max(r, 0) + noise_floor^2) * N(0, 1)
//! ```
//!
//! The annulus pools orientation energy around the RF (divisive, orientation tuned, with an
//! untuned part); the flanks pool energy at the preferred orientation along the RF's long axis
//! (collinear association field), saturating: at most a (1 + facilitation)-fold gain. Both
//! are weighted sums over the cells of [`super::features::EnergyGrid`], normalised to sum to
//! one.

use serde::{Deserialize, Serialize};

use super::features::{CELL, EnergyGrid, Planes, level_for};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellType {
    Simple,
    Complex,
}

/// Everything that defines one neuron, in pixels of the generated (full-resolution) image and
/// radians. Written to `neurons.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronParams {
    pub index: usize,
    pub cell_type: CellType,
    /// RF centre (column, row).
    pub x: f64,
    pub y: f64,
    /// Direction of luminance change the RF prefers (carrier direction), in [0, pi).
    pub orientation: f64,
    pub wavelength: f64,
    pub phase: f64,
    /// Gaussian envelope standard deviation; the RF diameter is 4 sigma.
    pub sigma: f64,
    /// Divisive suppression strength (0 = none).
    pub suppression: f64,
    /// Weight of orientation-untuned energy in the suppressive pool.
    pub untuned: f64,
    pub annulus_inner: f64,
    pub annulus_outer: f64,
    /// Collinear facilitation strength (0 = none).
    pub facilitation: f64,
    pub flank_inner: f64,
    pub flank_outer: f64,
    /// Angular half-width (standard deviation) of the flanks around the RF's long axis.
    pub flank_angle: f64,
    pub gate_half: f64,
    pub threshold: f64,
    pub exponent: f64,
    pub gain: f64,
    pub fano: f64,
    pub noise_floor: f64,
    /// Single-trial vs noise-free correlation the noise was calibrated for.
    pub target_trial_corr: f64,
    /// Calibration scales (from the calibration images).
    pub drive_scale: f64,
    pub suppression_scale: f64,
    pub facilitation_scale: f64,
}

impl NeuronParams {
    pub fn rf_diameter(&self) -> f64 {
        4.0 * self.sigma
    }

    /// The energy-grid level the surround reads.
    pub fn level(&self) -> usize {
        level_for(1.0 / self.wavelength)
    }

    pub fn has_surround(&self) -> bool {
        self.suppression > 0.0 || self.facilitation > 0.0
    }
}

/// (cell index, weight) pairs over an energy grid.
pub type CellWeights = [(u32, f32)];

/// The raw (unscaled) quantities of one neuron for one image.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Drive {
    pub centre: f32,
    pub suppression: f32,
    pub facilitation: f32,
}

/// The ground truth of one neuron for one image.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Response {
    pub noise_free: f32,
    pub centre_only: f32,
    pub surround_factor: f32,
}

/// A Gabor filter cut to the image: rows `y0..y0+h`, columns `x0..x0+w`.
#[derive(Debug, Clone)]
struct Kernel {
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
    even: Vec<f32>,
    /// Quadrature partner (complex cells only).
    odd: Option<Vec<f32>>,
}

/// A neuron ready to evaluate images of one size.
#[derive(Debug, Clone)]
pub struct NeuronModel {
    pub params: NeuronParams,
    size: usize,
    kernel: Kernel,
    annulus: Vec<(u32, f32)>,
    flanks: Vec<(u32, f32)>,
    pool: Pool,
    cos2: f32,
    sin2: f32,
    level: usize,
}

impl NeuronModel {
    pub fn new(params: NeuronParams, size: usize) -> Self {
        let kernel = build_kernel(&params, size);
        let annulus = annulus_weights(&params, size);
        let flanks = flank_weights(&params, size);
        let (cos2, sin2) = (
            libm::cos(2.0 * params.orientation) as f32,
            libm::sin(2.0 * params.orientation) as f32,
        );
        let level = params.level();
        let pool = Pool::new(&annulus, &flanks, size / CELL);
        Self {
            params,
            size,
            kernel,
            annulus,
            flanks,
            pool,
            cos2,
            sin2,
            level,
        }
    }

    /// Raw drives for an image (`size * size`) and its energy grid.
    pub fn drive(&self, image: &[f32], grid: &EnergyGrid) -> Drive {
        let k = &self.kernel;
        let (mut a, mut b) = (0f32, 0f32);
        for r in 0..k.h {
            let start = (k.y0 + r) * self.size + k.x0;
            let row = &image[start..start + k.w];
            a += dot(&k.even[r * k.w..(r + 1) * k.w], row);
            if let Some(odd) = &k.odd {
                b += dot(&odd[r * k.w..(r + 1) * k.w], row);
            }
        }
        let centre = match self.params.cell_type {
            CellType::Simple => a.max(0.0),
            CellType::Complex => (a * a + b * b).sqrt(),
        };
        let (suppression, facilitation) = self.pool.apply(
            &grid.levels[self.level],
            self.cos2,
            self.sin2,
            self.params.untuned as f32,
        );
        Drive {
            centre,
            suppression,
            facilitation,
        }
    }

    /// The ground truth from raw drives.
    pub fn respond(&self, d: Drive) -> Response {
        let p = &self.params;
        let x = d.centre as f64 / p.drive_scale;
        let s_pool = d.suppression as f64 / p.suppression_scale;
        let f_pool = d.facilitation as f64 / p.facilitation_scale;
        let gate = x * x / (x * x + p.gate_half * p.gate_half);
        let facilitation = p.facilitation * gate * f_pool / (1.0 + f_pool);
        let factor = (1.0 + facilitation) / (1.0 + p.suppression * s_pool);
        let out = |y: f64| {
            let v = y - p.threshold;
            if v > 0.0 {
                p.gain * libm::pow(v, p.exponent)
            } else {
                0.0
            }
        };
        Response {
            noise_free: out(x * factor) as f32,
            centre_only: out(x) as f32,
            surround_factor: factor as f32,
        }
    }

    /// Standard deviation of a trial around the noise-free response `r`.
    pub fn noise_sd(&self, r: f32) -> f32 {
        let p = &self.params;
        libm::sqrt(p.fano * (r.max(0.0) as f64) + p.noise_floor * p.noise_floor) as f32
    }

    /// The even Gabor as a full-size image (zero outside its support), for pictures.
    pub fn kernel_image(&self) -> Vec<f32> {
        let k = &self.kernel;
        let mut out = vec![0.0; self.size * self.size];
        for r in 0..k.h {
            for c in 0..k.w {
                out[(k.y0 + r) * self.size + k.x0 + c] = k.even[r * k.w + c];
            }
        }
        out
    }

    /// (cell index, weight) of the suppressive annulus and of the facilitating flanks.
    pub fn surround_weights(&self) -> (&CellWeights, &CellWeights) {
        (&self.annulus, &self.flanks)
    }
}

/// The surround weights as dense rows over the bounding box of the pooled cells, so pooling
/// is a vectorisable pass over contiguous cells.
#[derive(Debug, Clone)]
struct Pool {
    cells: usize,
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
    annulus: Vec<f32>,
    flanks: Vec<f32>,
}

impl Pool {
    fn new(annulus: &[(u32, f32)], flanks: &[(u32, f32)], cells: usize) -> Self {
        let all = || annulus.iter().chain(flanks).map(|&(i, _)| i as usize);
        if all().next().is_none() {
            return Pool {
                cells,
                x0: 0,
                y0: 0,
                w: 0,
                h: 0,
                annulus: Vec::new(),
                flanks: Vec::new(),
            };
        }
        let x0 = all().map(|i| i % cells).min().unwrap_or(0);
        let x1 = all().map(|i| i % cells).max().unwrap_or(0);
        let y0 = all().map(|i| i / cells).min().unwrap_or(0);
        let y1 = all().map(|i| i / cells).max().unwrap_or(0);
        let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
        let dense = |list: &[(u32, f32)]| {
            let mut v = vec![0f32; w * h];
            for &(i, wt) in list {
                let i = i as usize;
                v[(i / cells - y0) * w + (i % cells - x0)] = wt;
            }
            v
        };
        Pool {
            cells,
            x0,
            y0,
            w,
            h,
            annulus: dense(annulus),
            flanks: dense(flanks),
        }
    }

    /// (suppressive pool, facilitating pool) over a level's planes.
    fn apply(&self, planes: &Planes, cos2: f32, sin2: f32, untuned: f32) -> (f32, f32) {
        let mut s = [0f32; 8];
        let mut f = [0f32; 8];
        for r in 0..self.h {
            let start = (self.y0 + r) * self.cells + self.x0;
            let d = &planes.d[start..start + self.w];
            let x = &planes.x[start..start + self.w];
            let t = &planes.t[start..start + self.w];
            let wa = &self.annulus[r * self.w..(r + 1) * self.w];
            let wf = &self.flanks[r * self.w..(r + 1) * self.w];
            let full = self.w / 8 * 8;
            for c in (0..full).step_by(8) {
                let (d, x, t) = (&d[c..c + 8], &x[c..c + 8], &t[c..c + 8]);
                let (wa, wf) = (&wa[c..c + 8], &wf[c..c + 8]);
                for l in 0..8 {
                    let o = (d[l] * cos2 + x[l] * sin2).max(0.0);
                    s[l] += wa[l] * (o + untuned * t[l]);
                    f[l] += wf[l] * o;
                }
            }
            for j in full..self.w {
                let o = (d[j] * cos2 + x[j] * sin2).max(0.0);
                s[j - full] += wa[j] * (o + untuned * t[j]);
                f[j - full] += wf[j] * o;
            }
        }
        let total = |v: [f32; 8]| ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
        (total(s), total(f))
    }
}

/// Dot product in eight independent lanes (vectorises without reassociating: the summation
/// order is fixed, so results do not depend on the machine).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ta.iter().zip(tb) {
        tail += x * y;
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
        + tail
}

fn build_kernel(p: &NeuronParams, size: usize) -> Kernel {
    let radius = libm::ceil(2.5 * p.sigma) as i64;
    let (cx, cy) = (libm::round(p.x) as i64, libm::round(p.y) as i64);
    let last = size as i64 - 1;
    let x0 = (cx - radius).clamp(0, last) as usize;
    let y0 = (cy - radius).clamp(0, last) as usize;
    let x1 = (cx + radius).clamp(0, last) as usize;
    let y1 = (cy + radius).clamp(0, last) as usize;
    let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
    let k = std::f64::consts::TAU / p.wavelength;
    let (ct, st) = (libm::cos(p.orientation), libm::sin(p.orientation));
    let make = |phase: f64| -> Vec<f32> {
        let mut env = Vec::with_capacity(w * h);
        let mut g = Vec::with_capacity(w * h);
        for r in 0..h {
            for c in 0..w {
                let dx = (x0 + c) as f64 - p.x;
                let dy = (y0 + r) as f64 - p.y;
                let e = libm::exp(-(dx * dx + dy * dy) / (2.0 * p.sigma * p.sigma));
                env.push(e);
                g.push(e * libm::cos(k * (dx * ct + dy * st) + phase));
            }
        }
        // Remove the DC component under the envelope, then normalise to unit energy.
        let dc = g.iter().sum::<f64>() / env.iter().sum::<f64>().max(1e-12);
        g.iter_mut().zip(&env).for_each(|(v, e)| *v -= dc * e);
        let norm = libm::sqrt(g.iter().map(|v| v * v).sum::<f64>()).max(1e-12);
        g.iter().map(|v| (v / norm) as f32).collect()
    };
    let even = make(p.phase);
    let odd = match p.cell_type {
        CellType::Simple => None,
        CellType::Complex => Some(make(p.phase + std::f64::consts::FRAC_PI_2)),
    };
    Kernel {
        x0,
        y0,
        w,
        h,
        even,
        odd,
    }
}

/// Linear ramp from 0 at `a` to 1 at `b`.
fn ramp(v: f64, a: f64, b: f64) -> f64 {
    ((v - a) / (b - a)).clamp(0.0, 1.0)
}

/// Cells and their offsets (dx, dy) from the RF centre.
fn cell_offsets(p: &NeuronParams, size: usize) -> impl Iterator<Item = (u32, f64, f64)> + '_ {
    let cells = size / CELL;
    (0..cells * cells).map(move |i| {
        let (cx, cy) = (i % cells, i / cells);
        let centre = |c: usize| (c as f64 + 0.5) * CELL as f64 - 0.5;
        (i as u32, centre(cx) - p.x, centre(cy) - p.y)
    })
}

fn normalised(mut w: Vec<(u32, f32)>) -> Vec<(u32, f32)> {
    let total: f64 = w.iter().map(|&(_, v)| v as f64).sum();
    if total > 0.0 {
        w.iter_mut()
            .for_each(|(_, v)| *v = (*v as f64 / total) as f32);
    }
    w
}

fn annulus_weights(p: &NeuronParams, size: usize) -> Vec<(u32, f32)> {
    let soft = 0.5 * CELL as f64;
    let w = cell_offsets(p, size)
        .filter_map(|(i, dx, dy)| {
            let d = libm::sqrt(dx * dx + dy * dy);
            let v = ramp(d, p.annulus_inner - soft, p.annulus_inner + soft)
                * (1.0 - ramp(d, p.annulus_outer - soft, p.annulus_outer + soft));
            (v > 0.0).then_some((i, v as f32))
        })
        .collect();
    normalised(w)
}

fn flank_weights(p: &NeuronParams, size: usize) -> Vec<(u32, f32)> {
    let soft = 0.5 * CELL as f64;
    let (ct, st) = (libm::cos(p.orientation), libm::sin(p.orientation));
    let w = cell_offsets(p, size)
        .filter_map(|(i, dx, dy)| {
            // The RF's long axis is perpendicular to the carrier direction.
            let along = -dx * st + dy * ct;
            let across = dx * ct + dy * st;
            let d = libm::sqrt(dx * dx + dy * dy);
            let angle = libm::atan2(across.abs(), along.abs());
            let v = ramp(d, p.flank_inner - soft, p.flank_inner + soft)
                * (1.0 - ramp(d, p.flank_outer - soft, p.flank_outer + soft))
                * libm::exp(-angle * angle / (2.0 * p.flank_angle * p.flank_angle));
            (v > 1e-3).then_some((i, v as f32))
        })
        .collect();
    normalised(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn params(cell_type: CellType, size: usize) -> NeuronParams {
        let c = (size as f64 - 1.0) / 2.0;
        NeuronParams {
            index: 0,
            cell_type,
            x: c,
            y: c,
            orientation: 0.3,
            wavelength: 8.0,
            phase: 0.0,
            sigma: 4.0,
            suppression: 1.0,
            untuned: 0.2,
            annulus_inner: 9.0,
            annulus_outer: 22.0,
            facilitation: 1.0,
            flank_inner: 8.0,
            flank_outer: 22.0,
            flank_angle: 0.35,
            gate_half: 0.8,
            threshold: 0.1,
            exponent: 2.0,
            gain: 1.0,
            fano: 0.1,
            noise_floor: 0.05,
            target_trial_corr: 0.6,
            drive_scale: 1.0,
            suppression_scale: 1.0,
            facilitation_scale: 1.0,
        }
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
    }

    #[test]
    fn kernels_are_zero_mean_unit_norm_and_weights_sum_to_one() {
        let m = NeuronModel::new(params(CellType::Complex, 64), 64);
        let k = &m.kernel;
        let sum: f32 = k.even.iter().sum();
        let norm: f32 = k.even.iter().map(|v| v * v).sum();
        assert!(
            sum.abs() < 1e-3 && (norm - 1.0).abs() < 1e-4,
            "{sum} {norm}"
        );
        let (annulus, flanks) = m.surround_weights();
        for w in [annulus, flanks] {
            assert!(!w.is_empty());
            assert!((w.iter().map(|x| x.1).sum::<f32>() - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn zero_strengths_make_the_factor_one() {
        let mut p = params(CellType::Simple, 64);
        p.suppression = 0.0;
        p.facilitation = 0.0;
        let m = NeuronModel::new(p, 64);
        let r = m.respond(Drive {
            centre: 1.7,
            suppression: 3.0,
            facilitation: 2.0,
        });
        assert_eq!(r.surround_factor, 1.0);
        assert_eq!(r.noise_free, r.centre_only);
        assert!(r.noise_free > 0.0);
    }

    #[test]
    fn suppression_lowers_and_gated_facilitation_raises() {
        let m = NeuronModel::new(params(CellType::Simple, 64), 64);
        let alone = m.respond(Drive {
            centre: 2.0,
            suppression: 0.0,
            facilitation: 0.0,
        });
        let suppressed = m.respond(Drive {
            centre: 2.0,
            suppression: 1.0,
            facilitation: 0.0,
        });
        let facilitated = m.respond(Drive {
            centre: 2.0,
            suppression: 0.0,
            facilitation: 1.0,
        });
        assert!(suppressed.noise_free < alone.noise_free);
        assert!(facilitated.noise_free > alone.noise_free);
        // The gate: a weakly driven centre gains much less (relatively) from the flanks.
        let weak = m.respond(Drive {
            centre: 0.3,
            suppression: 0.0,
            facilitation: 1.0,
        });
        assert!(weak.surround_factor - 1.0 < 0.3 * (facilitated.surround_factor - 1.0));
    }
}
