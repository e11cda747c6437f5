//! Pictures of a data set, for people: a montage of stimuli, and a dozen simulated neurons'
//! receptive fields with their surrounds and size-tuning curves. PNG files, drawn pixel by
//! pixel (no fonts needed).

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

use crate::neuro::array::ArrayF32;
use crate::neuro::data::sim::Population;
use crate::neuro::data::sim::features::{CELL, EnergyGrid, LEVELS};
use crate::neuro::data::sim::neurons::NeuronModel;
use crate::neuro::stats::quantile;

#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write the picture: {message}")]
pub struct PictureError {
    pub path: PathBuf,
    pub message: String,
}

const GAP: u32 = 4;
const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);

fn save(img: &RgbImage, path: &Path) -> Result<(), PictureError> {
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| PictureError {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// A grid of the images at `indices` (of a `[N, H, W]` array), `columns` wide, gray levels
/// stretched between the 0.5% and 99.5% quantiles of the pixels shown, each image enlarged
/// by a whole factor until its longer side is at least 100 pixels.
pub fn write_montage(
    images: &ArrayF32,
    indices: &[usize],
    columns: usize,
    path: &Path,
) -> Result<(), PictureError> {
    let (h, w) = (images.shape[1], images.shape[2]);
    let zoom = 100usize.div_ceil(h.max(w)).max(1);
    let (th, tw) = ((h * zoom) as u32, (w * zoom) as u32);
    let columns = columns.clamp(1, indices.len().max(1));
    let rows = indices.len().div_ceil(columns).max(1);
    let shown: Vec<f64> = indices
        .iter()
        .flat_map(|&i| images.row(i).iter().map(|&v| v as f64))
        .collect();
    let (lo, hi) = (quantile(&shown, 0.005), quantile(&shown, 0.995));
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    let mut img = RgbImage::from_pixel(
        columns as u32 * (tw + GAP) + GAP,
        rows as u32 * (th + GAP) + GAP,
        BACKGROUND,
    );
    for (t, &i) in indices.iter().enumerate() {
        let (ox, oy) = (
            GAP + (t % columns) as u32 * (tw + GAP),
            GAP + (t / columns) as u32 * (th + GAP),
        );
        let row = images.row(i);
        for y in 0..th {
            for x in 0..tw {
                let v = row[(y as usize / zoom) * w + x as usize / zoom] as f64;
                let g = ((v - lo) * scale).clamp(0.0, 255.0) as u8;
                img.put_pixel(ox + x, oy + y, Rgb([g, g, g]));
            }
        }
    }
    save(&img, path)
}

/// Up to `count` neurons spread over the range of suppression strengths (so neurons without
/// a surround appear when there are any), in index order within equal strengths.
pub fn pick_neurons(pop: &Population, count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pop.neurons.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&pop.neurons[a].params, &pop.neurons[b].params);
        pa.suppression.total_cmp(&pb.suppression).then(a.cmp(&b))
    });
    if order.len() <= count {
        return order;
    }
    (0..count)
        .map(|i| order[i * (order.len() - 1) / (count - 1).max(1)])
        .collect()
}

/// The response of one neuron to a grating disk of radius `radius` at its preferred
/// orientation, frequency and phase on a mid-gray background: (full, centre-only).
fn disk_response(model: &NeuronModel, size: usize, radius: f64, contrast: f64) -> (f32, f32) {
    let p = &model.params;
    let k = std::f64::consts::TAU / p.wavelength;
    let (c, s) = (libm::cos(p.orientation), libm::sin(p.orientation));
    let img: Vec<f32> = (0..size * size)
        .map(|i| {
            let (dx, dy) = ((i % size) as f64 - p.x, (i / size) as f64 - p.y);
            if dx * dx + dy * dy <= radius * radius {
                (0.5 + 0.5 * contrast * libm::cos(k * (dx * c + dy * s) + p.phase)) as f32
            } else {
                0.5
            }
        })
        .collect();
    let mut needed = [false; LEVELS];
    needed[p.level()] = true;
    let grid = EnergyGrid::compute(&img, size, needed);
    let r = model.respond(model.drive(&img, &grid));
    (r.noise_free, r.centre_only)
}

/// Draws a line between two points (inclusive), clipped to the image.
fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), colour: Rgb<u8>) {
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, colour);
        }
    }
}

/// The RF panel: the even Gabor in gray, the suppressive annulus in blue, the facilitating
/// flanks in red (cells of the energy grid, opacity by weight).
fn draw_rf(img: &mut RgbImage, ox: u32, oy: u32, model: &NeuronModel, size: usize) {
    let kernel = model.kernel_image();
    let peak = kernel.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let (annulus, flanks) = model.surround_weights();
    let cells = size / CELL;
    let mut tint = vec![(0f32, 0f32); size * size];
    let max_w = |w: &[(u32, f32)]| w.iter().fold(0f32, |m, x| m.max(x.1)).max(1e-12);
    let strength = |s: f64| (s.min(2.0) / 2.0) as f32;
    let p = &model.params;
    for (list, red) in [(annulus, false), (flanks, true)] {
        let (m, gain) = (
            max_w(list),
            strength(if red { p.facilitation } else { p.suppression }),
        );
        for &(i, w) in list {
            let (cx, cy) = (i as usize % cells, i as usize / cells);
            for y in cy * CELL..(cy + 1) * CELL {
                for x in cx * CELL..(cx + 1) * CELL {
                    let t = &mut tint[y * size + x];
                    let a = gain * w / m;
                    if red {
                        t.0 = t.0.max(a)
                    } else {
                        t.1 = t.1.max(a)
                    }
                }
            }
        }
    }
    for y in 0..size {
        for x in 0..size {
            let g = 128.0 + 127.0 * kernel[y * size + x] / peak;
            let (r, b) = tint[y * size + x];
            let mix =
                |base: f32, to: f32, a: f32| (base * (1.0 - a) + to * a).clamp(0.0, 255.0) as u8;
            let a = 0.6 * r.max(b);
            let colour = Rgb([
                mix(g, if r >= b { 230.0 } else { 40.0 }, a),
                mix(g, 40.0, a),
                mix(g, if r >= b { 40.0 } else { 230.0 }, a),
            ]);
            img.put_pixel(ox + x as u32, oy + y as u32, colour);
        }
    }
}

/// The size-tuning panel: response to a grating disk against its radius, full model (black)
/// and centre only (gray), both scaled by the larger peak.
fn draw_size_tuning(img: &mut RgbImage, ox: u32, oy: u32, model: &NeuronModel, size: usize) {
    let side = size as f64;
    let radii: Vec<f64> = (1..=24).map(|i| i as f64 * side / 48.0).collect();
    let curves: Vec<(f32, f32)> = radii
        .iter()
        .map(|&r| disk_response(model, size, r, 0.8))
        .collect();
    let top = curves
        .iter()
        .fold(0f32, |m, c| m.max(c.0).max(c.1))
        .max(1e-12) as f64;
    let (left, bottom, width, height) = (
        ox as f64 + 4.0,
        oy as f64 + side - 5.0,
        side - 8.0,
        side - 10.0,
    );
    let axis = Rgb([0, 0, 0]);
    line(img, (left, bottom), (left + width, bottom), axis);
    line(img, (left, bottom), (left, bottom - height), axis);
    let point = |i: usize, v: f32| {
        (
            left + width * i as f64 / (radii.len() - 1) as f64,
            bottom - height * v as f64 / top,
        )
    };
    for i in 1..curves.len() {
        line(
            img,
            point(i - 1, curves[i - 1].1),
            point(i, curves[i].1),
            Rgb([160, 160, 160]),
        );
        line(
            img,
            point(i - 1, curves[i - 1].0),
            point(i, curves[i].0),
            Rgb([0, 0, 0]),
        );
    }
}

/// A dozen neurons, three per row: for each, its RF with surround weights, and its size
/// tuning (full vs centre-only response to a growing grating disk).
pub fn write_neuron_panels(pop: &Population, path: &Path) -> Result<(), PictureError> {
    let size = pop.size;
    let picked = pick_neurons(pop, 12);
    let per_row = 3usize;
    let rows = picked.len().div_ceil(per_row).max(1);
    let tile_w = 2 * size as u32 + GAP;
    let mut img = RgbImage::from_pixel(
        per_row as u32 * (tile_w + 3 * GAP) + GAP,
        rows as u32 * (size as u32 + 3 * GAP) + GAP,
        BACKGROUND,
    );
    for (t, &n) in picked.iter().enumerate() {
        let ox = GAP + (t % per_row) as u32 * (tile_w + 3 * GAP);
        let oy = GAP + (t / per_row) as u32 * (size as u32 + 3 * GAP);
        let model = &pop.neurons[n];
        draw_rf(&mut img, ox, oy, model, size);
        draw_size_tuning(&mut img, ox + size as u32 + GAP, oy, model, size);
    }
    save(&img, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::data::sim::stimuli::DeadLeaves;
    use crate::neuro::data::sim::{PopulationConfig, neurons::CellType};

    #[test]
    fn montage_and_neuron_panels_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let images = ArrayF32::new(
            vec![3, 20, 30],
            (0..1800).map(|v| (v % 17) as f32).collect(),
        );
        let path = dir.path().join("m.png");
        write_montage(&images, &[0, 2], 2, &path).unwrap();
        let m = image::open(&path).unwrap();
        // 20 x 30 images enlarged 4 times: tiles of 80 x 120.
        assert_eq!(
            (m.width(), m.height()),
            (2 * (120 + GAP) + GAP, 80 + 2 * GAP)
        );
        let cfg = PopulationConfig {
            neurons: 4,
            calibration_images: 20,
            ..Default::default()
        };
        let pop = Population::sample(1, &cfg, &DeadLeaves::new(48));
        let path = dir.path().join("n.png");
        write_neuron_panels(&pop, &path).unwrap();
        assert!(image::open(&path).unwrap().width() > 96);
    }

    #[test]
    fn a_suppressed_neuron_has_a_falling_size_tuning_curve() {
        let cfg = PopulationConfig {
            neurons: 1,
            calibration_images: 30,
            ..Default::default()
        };
        let mut p = Population::sample(2, &cfg, &DeadLeaves::new(64))
            .params()
            .remove(0);
        p.cell_type = CellType::Complex;
        p.suppression = 3.0;
        p.facilitation = 0.0;
        let model = NeuronModel::new(p.clone(), 64);
        let rf = p.sigma * 2.0;
        let small = disk_response(&model, 64, rf, 0.8);
        let large = disk_response(&model, 64, 3.0 * rf, 0.8);
        assert!(
            large.1 >= 0.95 * small.1,
            "centre-only grows or saturates: {small:?} {large:?}"
        );
        assert!(
            large.0 < small.0,
            "the full response is suppressed: {small:?} {large:?}"
        );
    }

    #[test]
    fn picks_span_the_suppression_range() {
        let cfg = PopulationConfig {
            neurons: 30,
            calibration_images: 4,
            no_surround_fraction: 0.3,
            ..Default::default()
        };
        let pop = Population::sample(3, &cfg, &DeadLeaves::new(32));
        let picked = pick_neurons(&pop, 12);
        assert_eq!(picked.len(), 12);
        let s: Vec<f64> = picked
            .iter()
            .map(|&i| pop.neurons[i].params.suppression)
            .collect();
        assert_eq!(s[0], 0.0);
        assert_eq!(
            s[11],
            pop.params()
                .iter()
                .map(|p| p.suppression)
                .fold(0.0, f64::max)
        );
    }
}
