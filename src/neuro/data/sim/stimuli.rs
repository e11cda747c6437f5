//! Procedural natural-like stimuli: a dead-leaves image (occluding ellipses and rotated
//! rectangles with power-law sizes, each with its own luminance, shading and internal texture:
//! an oriented grating or smooth value noise) overlaid with a few smooth elongated contours, so
//! that edges, occlusions, oriented texture and collinear structure all occur.
//!
//! Radii follow p(r) ~ r^-3, the scale-invariant dead-leaves law whose images have a power
//! spectrum close to 1/f^2. Leaves are drawn front to back: a pixel belongs to the first leaf
//! that covers it, and drawing stops once every pixel is covered.
//!
//! Every image is a pure function of (seed, split, index) through its own random stream.

use super::contours::Contour;
use crate::neuro::random::sequential::Stream;

/// Luminance of pixels left uncovered when the leaf budget runs out (rare).
const BACKGROUND: f32 = 0.5;
/// Upper bound on leaves drawn per image; covering a 100 x 100 image takes about 2,000.
const MAX_LEAVES: usize = 6000;

/// Shape of the dead-leaves distribution, in pixels of the generated image.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLeaves {
    /// Image side in pixels.
    pub size: usize,
    /// Smallest and largest leaf "radius" (radius of the disk of equal area).
    pub r_min: f64,
    pub r_max: f64,
    /// Mean number of contours per image (0 to twice this many, uniformly).
    pub contours_mean: f64,
}

impl DeadLeaves {
    /// The default law for a square image of side `size`: radii from 2.5 px (at 100 px) to half
    /// the image.
    pub fn new(size: usize) -> Self {
        let s = size as f64;
        Self {
            size,
            r_min: (0.025 * s).max(1.0),
            r_max: 0.5 * s,
            contours_mean: 1.5,
        }
    }

    /// Renders one image into `out` (`size * size` luminances in [0, 1], row-major).
    pub fn draw(&self, rng: &mut Stream, out: &mut [f32]) {
        let n = self.size;
        assert_eq!(out.len(), n * n, "output buffer of the wrong size");
        let mut cover = Coverage::new(n);
        let margin = 0.05 * n as f64;
        for _ in 0..MAX_LEAVES {
            if cover.left == 0 {
                break;
            }
            // Geometry first: a leaf hidden behind earlier ones costs no further draws.
            let shape = Footprint::sample(self, rng, margin);
            let Some(bbox) = cover.visible(&shape) else {
                continue;
            };
            Leaf::sample(self, rng, shape).paint(&bbox, out, &mut cover);
        }
        if cover.left > 0 {
            for (v, c) in out.iter_mut().zip(&cover.covered) {
                if !c {
                    *v = BACKGROUND;
                }
            }
        }
        let count = rng.below((2.0 * self.contours_mean).round() as u64 + 1);
        let mut alpha = vec![0f32; n * n];
        for _ in 0..count {
            Contour::sample(n, rng).paint(n, out, &mut alpha);
        }
        for v in out.iter_mut() {
            *v = v.clamp(0.0, 1.0);
        }
    }
}

/// Side of the blocks whose uncovered pixels are counted, so hidden leaves are skipped fast.
const BLOCK: usize = 8;

/// Which pixels are painted, with per-block counts of the unpainted ones.
struct Coverage {
    n: usize,
    blocks: usize,
    covered: Vec<bool>,
    block_left: Vec<u32>,
    row_left: Vec<u32>,
    left: usize,
}

/// Pixel bounds (inclusive) of a leaf clipped to the image.
struct BBox {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

impl Coverage {
    fn new(n: usize) -> Self {
        let blocks = n.div_ceil(BLOCK);
        let width = |b: usize| (n - b * BLOCK).min(BLOCK) as u32;
        let block_left = (0..blocks * blocks)
            .map(|i| width(i / blocks) * width(i % blocks))
            .collect();
        Self {
            n,
            blocks,
            covered: vec![false; n * n],
            block_left,
            row_left: vec![n as u32; n],
            left: n * n,
        }
    }

    /// The leaf's clipped bounding box if any pixel in it is still unpainted.
    fn visible(&self, f: &Footprint) -> Option<BBox> {
        let last = self.n as i64 - 1;
        let (x0, x1) = (
            ifloor(f.cx - f.extent).max(0),
            iceil(f.cx + f.extent).min(last),
        );
        let (y0, y1) = (
            ifloor(f.cy - f.extent).max(0),
            iceil(f.cy + f.extent).min(last),
        );
        if x1 < x0 || y1 < y0 {
            return None;
        }
        let b = BBox {
            x0: x0 as usize,
            y0: y0 as usize,
            x1: x1 as usize,
            y1: y1 as usize,
        };
        let any = (b.y0 / BLOCK..=b.y1 / BLOCK).any(|by| {
            (b.x0 / BLOCK..=b.x1 / BLOCK).any(|bx| self.block_left[by * self.blocks + bx] > 0)
        });
        any.then_some(b)
    }
}

/// floor as an integer, without a libm call (baseline x86-64 has no rounding instruction).
#[inline]
pub(super) fn ifloor(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v { t - 1 } else { t }
}

#[inline]
pub(super) fn iceil(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) < v { t + 1 } else { t }
}

/// Inverse-CDF sample of p(r) ~ r^-3 on [lo, hi].
fn power_law_radius(rng: &mut Stream, lo: f64, hi: f64) -> f64 {
    let (a, b) = (1.0 / (lo * lo), 1.0 / (hi * hi));
    1.0 / libm::sqrt(a - rng.uniform() * (a - b))
}

/// Where a leaf lies and how large it is, drawn before anything else about it.
struct Footprint {
    cx: f64,
    cy: f64,
    r: f64,
    ellipse: bool,
    /// Square root of the aspect ratio.
    stretch: f64,
    /// Radius of a disk containing the leaf.
    extent: f64,
}

impl Footprint {
    fn sample(law: &DeadLeaves, rng: &mut Stream, margin: f64) -> Self {
        let span = law.size as f64 + 2.0 * margin;
        let cx = rng.uniform() * span - margin;
        let cy = rng.uniform() * span - margin;
        let r = power_law_radius(rng, law.r_min, law.r_max);
        let ellipse = rng.chance(0.6);
        if ellipse {
            let stretch = libm::sqrt(rng.range(1.0, 3.0));
            Footprint {
                cx,
                cy,
                r,
                ellipse,
                stretch,
                extent: r * stretch,
            }
        } else {
            // Same area as the disk of radius r.
            let stretch = libm::sqrt(rng.range(1.0, 4.0));
            let h = r * libm::sqrt(std::f64::consts::PI) / 2.0;
            let extent = h * libm::sqrt(stretch * stretch + 1.0 / (stretch * stretch));
            Footprint {
                cx,
                cy,
                r,
                ellipse,
                stretch,
                extent,
            }
        }
    }
}

enum Outline {
    /// Semi-axes along the leaf's own axes.
    Ellipse { a: f64, b: f64 },
    /// Half side lengths along the leaf's own axes.
    Rectangle { hx: f64, hy: f64 },
}

enum Texture {
    Flat,
    /// amplitude * sin(kx x + ky y + phase)
    Grating {
        amp: f64,
        kx: f64,
        ky: f64,
        phase: f64,
    },
    /// Bilinear value noise on a lattice of `step` pixels; lattice values are hashed from
    /// `key`, so they cost nothing until a pixel needs them.
    Noise {
        step: f64,
        amp: f64,
        key: u64,
    },
}

struct Leaf {
    cx: f64,
    cy: f64,
    cos: f64,
    sin: f64,
    outline: Outline,
    luminance: f64,
    /// Linear shading across the leaf: luminance change per pixel along x and y.
    shade_x: f64,
    shade_y: f64,
    texture: Texture,
    /// (sin, cos) of the grating's phase step from one pixel to the next along a row.
    wave_step: (f64, f64),
}

/// splitmix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Lattice value in [-1, 1).
fn lattice(key: u64, ix: i64, iy: i64) -> f64 {
    let h = mix(key ^ mix((ix as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (iy as u64)));
    (h >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0
}

impl Leaf {
    fn sample(law: &DeadLeaves, rng: &mut Stream, f: Footprint) -> Self {
        let angle = rng.range(0.0, std::f64::consts::PI);
        let (sin, cos) = (libm::sin(angle), libm::cos(angle));
        let outline = if f.ellipse {
            Outline::Ellipse {
                a: f.r * f.stretch,
                b: f.r / f.stretch,
            }
        } else {
            let h = f.r * libm::sqrt(std::f64::consts::PI) / 2.0;
            Outline::Rectangle {
                hx: h * f.stretch,
                hy: h / f.stretch,
            }
        };
        let luminance = rng.range(0.05, 0.95);
        let shade = rng.range(0.0, 0.25) / f.extent.max(1.0);
        let shade_angle = rng.range(0.0, std::f64::consts::TAU);
        let (shade_x, shade_y) = (
            shade * libm::cos(shade_angle),
            shade * libm::sin(shade_angle),
        );
        let pick = rng.uniform();
        let scale = law.size as f64 / 100.0;
        let texture = if pick < 0.35 {
            Texture::Flat
        } else if pick < 0.7 {
            let wavelength = (rng.log_range(3.0, 25.0) * scale).max(2.5);
            let k = std::f64::consts::TAU / wavelength;
            let o = rng.range(0.0, std::f64::consts::PI);
            Texture::Grating {
                amp: rng.range(0.04, 0.25),
                kx: k * libm::cos(o),
                ky: k * libm::sin(o),
                phase: rng.range(0.0, std::f64::consts::TAU),
            }
        } else {
            let step = rng.log_range(2.0, 10.0) * scale;
            Texture::Noise {
                step,
                amp: rng.range(0.04, 0.25),
                key: rng.next_u64(),
            }
        };
        let wave_step = match texture {
            Texture::Grating { kx, .. } => (libm::sin(kx), libm::cos(kx)),
            _ => (0.0, 1.0),
        };
        Leaf {
            cx: f.cx,
            cy: f.cy,
            cos,
            sin,
            outline,
            luminance,
            shade_x,
            shade_y,
            texture,
            wave_step,
        }
    }

    /// The range of dx (relative to the centre) inside the leaf on the row at `dy`.
    fn row_span(&self, dy: f64) -> Option<(f64, f64)> {
        let (c, s) = (self.cos, self.sin);
        match self.outline {
            Outline::Ellipse { a, b } => {
                // u = dx c + dy s, v = -dx s + dy c; u^2/a^2 + v^2/b^2 <= 1 is a quadratic in dx.
                let (ia, ib) = (1.0 / (a * a), 1.0 / (b * b));
                let qa = c * c * ia + s * s * ib;
                let qb = 2.0 * dy * c * s * (ia - ib);
                let qc = dy * dy * (s * s * ia + c * c * ib) - 1.0;
                let disc = qb * qb - 4.0 * qa * qc;
                if disc < 0.0 {
                    return None;
                }
                let root = libm::sqrt(disc);
                Some(((-qb - root) / (2.0 * qa), (-qb + root) / (2.0 * qa)))
            }
            Outline::Rectangle { hx, hy } => {
                let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
                // |dx c + dy s| <= hx and |-dx s + dy c| <= hy, each an interval of dx.
                for (k, offset, h) in [(c, dy * s, hx), (-s, dy * c, hy)] {
                    if k.abs() < 1e-12 {
                        if offset.abs() > h {
                            return None;
                        }
                        continue;
                    }
                    let (p, q) = ((-h - offset) / k, (h - offset) / k);
                    lo = lo.max(p.min(q));
                    hi = hi.min(p.max(q));
                }
                (lo <= hi).then_some((lo, hi))
            }
        }
    }

    /// Paints the unpainted pixels of `bbox` whose centres lie inside this leaf, row by row
    /// over the leaf's span, skipping finished blocks.
    fn paint(&self, b: &BBox, out: &mut [f32], cover: &mut Coverage) {
        let n = cover.n;
        for y in b.y0..=b.y1 {
            if cover.row_left[y] == 0 {
                continue;
            }
            let dy = y as f64 - self.cy;
            let Some((lo, hi)) = self.row_span(dy) else {
                continue;
            };
            let x0 = iceil(self.cx + lo).max(b.x0 as i64);
            let x1 = ifloor(self.cx + hi).min(b.x1 as i64);
            if x1 < x0 {
                continue;
            }
            let (x0, x1) = (x0 as usize, x1 as usize);
            let mut texture = RowTexture::new(self, dy, x0);
            let row_blocks = (y / BLOCK) * cover.blocks;
            let mut x = x0;
            while x <= x1 {
                let block = row_blocks + x / BLOCK;
                let block_end = ((x / BLOCK + 1) * BLOCK - 1).min(x1);
                if cover.block_left[block] == 0 {
                    x = block_end + 1;
                    continue;
                }
                for xx in x..=block_end {
                    let i = y * n + xx;
                    if !cover.covered[i] {
                        cover.covered[i] = true;
                        cover.block_left[block] -= 1;
                        cover.row_left[y] -= 1;
                        cover.left -= 1;
                        out[i] = texture.at(xx) as f32;
                    }
                }
                x = block_end + 1;
            }
        }
    }
}

/// A leaf's luminance along one row, evaluated left to right: the grating's phase advances by
/// a fixed rotation per pixel and the noise lattice's columns are reused while x stays in one
/// lattice cell, so most pixels cost no trigonometry and no hashing.
struct RowTexture<'a> {
    leaf: &'a Leaf,
    dy: f64,
    /// Grating: (sin, cos) of the phase at column `x`.
    wave: (f64, f64),
    x: usize,
    /// Noise: lattice row, fraction within it, and the cached columns (ix, at ix, at ix + 1).
    iy: i64,
    fy: f64,
    columns: Option<(i64, f64, f64)>,
}

impl<'a> RowTexture<'a> {
    fn new(leaf: &'a Leaf, dy: f64, x0: usize) -> Self {
        let (wave, iy, fy) = match leaf.texture {
            Texture::Grating { kx, ky, phase, .. } => {
                let a = kx * (x0 as f64 - leaf.cx) + ky * dy + phase;
                ((libm::sin(a), libm::cos(a)), 0, 0.0)
            }
            Texture::Noise { step, .. } => {
                let gy = dy / step;
                let iy = ifloor(gy);
                ((0.0, 1.0), iy, gy - iy as f64)
            }
            Texture::Flat => ((0.0, 1.0), 0, 0.0),
        };
        RowTexture {
            leaf,
            dy,
            wave,
            x: x0,
            iy,
            fy,
            columns: None,
        }
    }

    /// Noise lattice interpolated along y at lattice column `ix`.
    fn column(&self, key: u64, ix: i64) -> f64 {
        lattice(key, ix, self.iy) * (1.0 - self.fy) + lattice(key, ix, self.iy + 1) * self.fy
    }

    /// Luminance at column `x` (columns must not decrease along a row).
    fn at(&mut self, x: usize) -> f64 {
        let leaf = self.leaf;
        let dx = x as f64 - leaf.cx;
        let base = leaf.luminance + leaf.shade_x * dx + leaf.shade_y * self.dy;
        match leaf.texture {
            Texture::Flat => base,
            Texture::Grating { amp, .. } => {
                let (s, c) = leaf.wave_step;
                while self.x < x {
                    self.wave = (
                        self.wave.0 * c + self.wave.1 * s,
                        self.wave.1 * c - self.wave.0 * s,
                    );
                    self.x += 1;
                }
                base + amp * self.wave.0
            }
            Texture::Noise { step, amp, key } => {
                let gx = dx / step;
                let ix = ifloor(gx);
                let (left, right) = match self.columns {
                    Some((cached, l, r)) if cached == ix => (l, r),
                    Some((cached, _, r)) if cached + 1 == ix => (r, self.column(key, ix + 1)),
                    _ => (self.column(key, ix), self.column(key, ix + 1)),
                };
                self.columns = Some((ix, left, right));
                let fx = gx - ix as f64;
                base + amp * (left * (1.0 - fx) + right * fx)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u64, index: u64) -> Vec<f32> {
        let law = DeadLeaves::new(64);
        let mut out = vec![0.0; 64 * 64];
        law.draw(&mut Stream::new(seed, "stimulus/test", index), &mut out);
        out
    }

    #[test]
    fn images_are_reproducible_and_vary() {
        let a = image(1, 0);
        assert_eq!(a, image(1, 0));
        assert_ne!(a, image(1, 1));
        assert_ne!(a, image(2, 0));
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        let var = a.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / a.len() as f32;
        assert!(var > 1e-3, "an image with no contrast: variance {var}");
    }

    #[test]
    fn radii_follow_the_power_law_bounds() {
        let mut rng = Stream::new(5, "radius", 0);
        let rs: Vec<f64> = (0..5000)
            .map(|_| power_law_radius(&mut rng, 2.0, 50.0))
            .collect();
        assert!(rs.iter().all(|&r| (2.0..=50.0).contains(&r)));
        // P(r > 4) = (4^-2 - 50^-2) / (2^-2 - 50^-2) ~ 0.249 for p(r) ~ r^-3.
        let above = rs.iter().filter(|&&r| r > 4.0).count() as f64 / rs.len() as f64;
        assert!((above - 0.249).abs() < 0.03, "{above}");
    }
}
