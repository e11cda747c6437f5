//! Oriented energy of an image on a coarse grid of cells: what the simulated surrounds pool.
//!
//! The image is reduced by 2 x 2 averaging into a small pyramid; at each level the local
//! structure tensor (gx^2, gx gy, gy^2 of central differences) is summed over cells of
//! `CELL` x `CELL` pixels of the full image. From a cell's tensor the energy at any
//! orientation follows in closed form (steerability), so each neuron reads its own preferred
//! orientation exactly:
//!
//! ```text
//! D = (Jxx - Jyy) / 2,  X = Jxy,  T = (Jxx + Jyy) / 2
//! oriented(theta) = max(0, D cos 2theta + X sin 2theta)   (tuned, zero beyond +-45 deg)
//! isotropic       = T
//! ```
//!
//! theta is the direction of luminance change (a Gabor's carrier direction). The pyramid level
//! whose central difference peaks nearest a neuron's spatial frequency is the one it reads.

/// Cell side in pixels of the full-resolution image.
pub const CELL: usize = 4;
/// Pyramid levels kept (level l has the image reduced by 2^l).
pub const LEVELS: usize = 3;

/// The tensor components of every cell of one level, as planes (row-major, `cells` x `cells`).
#[derive(Debug, Clone, Default)]
pub struct Planes {
    pub d: Vec<f32>,
    pub x: Vec<f32>,
    pub t: Vec<f32>,
}

impl Planes {
    /// (D, X, T) of one cell.
    pub fn cell(&self, i: usize) -> [f32; 3] {
        [self.d[i], self.x[i], self.t[i]]
    }
}

/// Per-level cell tensors of one image.
#[derive(Debug, Clone)]
pub struct EnergyGrid {
    /// Cells per side.
    pub cells: usize,
    /// Empty planes for levels no neuron reads.
    pub levels: Vec<Planes>,
}

/// The spatial frequency (cycles per full-resolution pixel) at which a central difference at
/// `level` responds best.
pub fn level_frequency(level: usize) -> f64 {
    0.25 / (1 << level) as f64
}

/// The level nearest (in log frequency) to `frequency`.
pub fn level_for(frequency: f64) -> usize {
    (0..LEVELS)
        .min_by(|&a, &b| {
            let da = (libm::log(level_frequency(a)) - libm::log(frequency)).abs();
            let db = (libm::log(level_frequency(b)) - libm::log(frequency)).abs();
            da.total_cmp(&db)
        })
        .unwrap_or(0)
}

impl EnergyGrid {
    /// Computes the grid for a `size` x `size` image at the levels flagged in `needed`.
    pub fn compute(image: &[f32], size: usize, needed: [bool; LEVELS]) -> Self {
        let cells = size / CELL;
        let mut levels = vec![Planes::default(); LEVELS];
        let mut current = image.to_vec();
        let mut side = size;
        for (level, slot) in levels.iter_mut().enumerate() {
            if level > 0 {
                let (reduced, s) = halve(&current, side);
                current = reduced;
                side = s;
            }
            if needed[level] {
                *slot = cell_tensors(&current, side, CELL >> level, cells);
            }
            if !needed[level + 1..].iter().any(|&b| b) {
                break;
            }
        }
        Self { cells, levels }
    }
}

/// 2 x 2 block average (floor of odd sides).
fn halve(img: &[f32], side: usize) -> (Vec<f32>, usize) {
    let s = side / 2;
    let mut out = vec![0.0; s * s];
    for y in 0..s {
        for x in 0..s {
            let i = 2 * y * side + 2 * x;
            out[y * s + x] = 0.25 * (img[i] + img[i + 1] + img[i + side] + img[i + side + 1]);
        }
    }
    (out, s)
}

/// Structure tensor summed over cells of `cell` x `cell` pixels (at least one pixel) of a
/// `side` x `side` level.
fn cell_tensors(img: &[f32], side: usize, cell: usize, cells: usize) -> Planes {
    let cell = cell.max(1);
    let mut out = Planes {
        d: vec![0.0; cells * cells],
        x: vec![0.0; cells * cells],
        t: vec![0.0; cells * cells],
    };
    for cy in 0..cells {
        for cx in 0..cells {
            let (mut jxx, mut jxy, mut jyy) = (0f32, 0f32, 0f32);
            for y in cy * cell..((cy + 1) * cell).min(side) {
                for x in cx * cell..((cx + 1) * cell).min(side) {
                    let at = |xx: usize, yy: usize| img[yy * side + xx];
                    let gx = 0.5 * (at((x + 1).min(side - 1), y) - at(x.saturating_sub(1), y));
                    let gy = 0.5 * (at(x, (y + 1).min(side - 1)) - at(x, y.saturating_sub(1)));
                    jxx += gx * gx;
                    jxy += gx * gy;
                    jyy += gy * gy;
                }
            }
            let i = cy * cells + cx;
            out.d[i] = 0.5 * (jxx - jyy);
            out.x[i] = jxy;
            out.t[i] = 0.5 * (jxx + jyy);
        }
    }
    out
}

/// Tuned energy of one cell at the orientation given by (cos 2theta, sin 2theta).
#[inline]
pub fn oriented(cell: &[f32; 3], cos2: f32, sin2: f32) -> f32 {
    (cell[0] * cos2 + cell[1] * sin2).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grating(size: usize, theta: f64, wavelength: f64) -> Vec<f32> {
        let k = std::f64::consts::TAU / wavelength;
        (0..size * size)
            .map(|i| {
                let (x, y) = ((i % size) as f64, (i / size) as f64);
                (0.5 + 0.4 * (k * (x * theta.cos() + y * theta.sin())).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn energy_is_tuned_to_the_grating_orientation() {
        let size = 48;
        let theta = 0.6;
        let img = grating(size, theta, 10.0);
        let grid = EnergyGrid::compute(&img, size, [false, true, false]);
        let centre = grid.levels[1].cell((grid.cells / 2) * grid.cells + grid.cells / 2);
        let at = |t: f64| oriented(&centre, (2.0 * t).cos() as f32, (2.0 * t).sin() as f32);
        assert!(at(theta) > 0.0);
        // The energy peaks at the grating's orientation (up to the small bias of central
        // differences on a pixel grid) and falls to zero 45 degrees or more away.
        let best = (0..180)
            .map(|d| (d as f64).to_radians())
            .max_by(|&a, &b| at(a).total_cmp(&at(b)))
            .unwrap();
        assert!(
            (best - theta).abs() < 0.1,
            "peak at {best}, grating at {theta}"
        );
        assert!(at(theta + 0.5) < 0.7 * at(theta));
        assert_eq!(at(theta + 0.9), 0.0);
        assert_eq!(at(theta + std::f64::consts::FRAC_PI_2), 0.0);
        assert!(grid.levels[0].d.is_empty() && grid.levels[2].d.is_empty());
    }

    #[test]
    fn level_choice_follows_frequency() {
        assert_eq!(level_for(0.25), 0);
        assert_eq!(level_for(0.12), 1);
        assert_eq!(level_for(0.05), 2);
    }
}
