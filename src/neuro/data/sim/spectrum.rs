//! Second-order image statistics: the radially averaged power spectrum of square images and the
//! slope of its log-log fit over a middle frequency band (natural images fall close to 1/f^2,
//! a slope near -2).
//!
//! Uses a separable direct DFT with a Hann window: O(n^3) per n x n image, fine for the few
//! images a calibration check looks at.

/// The mid band used for the fitted slope, in cycles per image: above the lowest frequencies
/// (dominated by the window and the largest leaves) and below the highest (pixel aliasing).
pub fn mid_band(size: usize) -> (f64, f64) {
    (4.0, size as f64 / 4.0)
}

/// Radially averaged power of a square image at integer radii 1..size/2 (cycles per image).
pub fn radial_power(image: &[f32], size: usize) -> Vec<f64> {
    assert_eq!(image.len(), size * size, "image of the wrong size");
    let n = size;
    let mean = image.iter().map(|&v| v as f64).sum::<f64>() / (n * n) as f64;
    let window: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * libm::cos(std::f64::consts::TAU * i as f64 / n as f64))
        .collect();
    let (cos, sin): (Vec<f64>, Vec<f64>) = (0..n)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / n as f64;
            (libm::cos(a), libm::sin(a))
        })
        .unzip();
    // Rows: transform along x.
    let mut re = vec![0.0; n * n];
    let mut im = vec![0.0; n * n];
    for y in 0..n {
        for u in 0..n {
            let (mut sr, mut si) = (0.0, 0.0);
            for x in 0..n {
                let v = (image[y * n + x] as f64 - mean) * window[x] * window[y];
                let t = (u * x) % n;
                sr += v * cos[t];
                si -= v * sin[t];
            }
            re[y * n + u] = sr;
            im[y * n + u] = si;
        }
    }
    // Columns: transform along y, accumulating power into radial bins.
    let half = n / 2;
    let mut power = vec![0.0; half + 1];
    let mut count = vec![0usize; half + 1];
    for u in 0..n {
        for v in 0..n {
            let (mut sr, mut si) = (0.0, 0.0);
            for y in 0..n {
                let t = (v * y) % n;
                let (a, b) = (re[y * n + u], im[y * n + u]);
                // (a + ib)(cos - i sin)
                sr += a * cos[t] + b * sin[t];
                si += b * cos[t] - a * sin[t];
            }
            let fu = if u <= half {
                u as f64
            } else {
                u as f64 - n as f64
            };
            let fv = if v <= half {
                v as f64
            } else {
                v as f64 - n as f64
            };
            let r = libm::sqrt(fu * fu + fv * fv).round() as usize;
            if r <= half {
                power[r] += sr * sr + si * si;
                count[r] += 1;
            }
        }
    }
    (1..=half)
        .map(|r| {
            if count[r] > 0 {
                power[r] / count[r] as f64
            } else {
                0.0
            }
        })
        .collect()
}

/// Least-squares slope of log power against log frequency over the mid band, from the mean
/// radial power of `images` (each `size * size`).
pub fn spectrum_slope<'a>(images: impl IntoIterator<Item = &'a [f32]>, size: usize) -> Option<f64> {
    let mut total: Vec<f64> = Vec::new();
    for img in images {
        let p = radial_power(img, size);
        if total.is_empty() {
            total = p;
        } else {
            total.iter_mut().zip(&p).for_each(|(t, v)| *t += v);
        }
    }
    let (lo, hi) = mid_band(size);
    let points: Vec<(f64, f64)> = total
        .iter()
        .enumerate()
        .map(|(i, &p)| ((i + 1) as f64, p))
        .filter(|&(f, p)| f >= lo && f <= hi && p > 0.0)
        .map(|(f, p)| (libm::log(f), libm::log(p)))
        .collect();
    if points.len() < 3 {
        return None;
    }
    let k = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / k;
    let my = points.iter().map(|p| p.1).sum::<f64>() / k;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    Some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_noise_is_flat_and_a_grating_peaks_at_its_frequency() {
        let n = 32;
        let mut rng = crate::neuro::random::sequential::Stream::new(0, "white", 0);
        let noise: Vec<f32> = (0..n * n).map(|_| rng.normal() as f32).collect();
        let slope = spectrum_slope([noise.as_slice()], n).unwrap();
        assert!(slope.abs() < 0.5, "white noise slope {slope}");
        let grating: Vec<f32> = (0..n * n)
            .map(|i| (std::f64::consts::TAU * 6.0 * (i % n) as f64 / n as f64).sin() as f32)
            .collect();
        let p = radial_power(&grating, n);
        let peak = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap() + 1;
        assert_eq!(peak, 6);
    }
}
