//! Image resampling: area averaging when shrinking (each output pixel is the mean of the input
//! area it covers, fractional pixels weighted by their overlap) and bilinear interpolation when
//! enlarging (pixel centres aligned). Both are separable: a 1-D weight table per axis.

/// Weights mapping `input` samples to `output` samples along one axis: for each output sample,
/// a list of (input index, weight) summing to one.
fn axis_weights(input: usize, output: usize) -> Vec<Vec<(usize, f32)>> {
    assert!(input > 0 && output > 0, "resampling an empty axis");
    if output <= input {
        // Area average: output pixel j covers [j f, (j+1) f) in input pixels.
        let f = input as f64 / output as f64;
        (0..output)
            .map(|j| {
                let (a, b) = (j as f64 * f, (j + 1) as f64 * f);
                let first = a.floor() as usize;
                let last = (b.ceil() as usize).min(input);
                (first..last)
                    .filter_map(|k| {
                        let overlap = (b.min(k as f64 + 1.0) - a.max(k as f64)).max(0.0);
                        (overlap > 0.0).then_some((k, (overlap / f) as f32))
                    })
                    .collect()
            })
            .collect()
    } else {
        // Bilinear: output centre j+0.5 maps to input coordinate (j+0.5) input/output - 0.5.
        let f = input as f64 / output as f64;
        (0..output)
            .map(|j| {
                let x = ((j as f64 + 0.5) * f - 0.5).clamp(0.0, (input - 1) as f64);
                let k = x.floor() as usize;
                let t = x - k as f64;
                if k + 1 < input && t > 0.0 {
                    vec![(k, (1.0 - t) as f32), (k + 1, t as f32)]
                } else {
                    vec![(k, 1.0)]
                }
            })
            .collect()
    }
}

/// Resamples a row-major `h` x `w` image to `out_h` x `out_w`, choosing area averaging or
/// bilinear interpolation per axis.
pub fn resize(img: &[f32], h: usize, w: usize, out_h: usize, out_w: usize) -> Vec<f32> {
    assert_eq!(img.len(), h * w, "image of the wrong size");
    let wx = axis_weights(w, out_w);
    let wy = axis_weights(h, out_h);
    let mut rows = vec![0f32; h * out_w];
    for y in 0..h {
        let src = &img[y * w..(y + 1) * w];
        for (x, taps) in wx.iter().enumerate() {
            rows[y * out_w + x] = taps.iter().map(|&(k, v)| src[k] * v).sum();
        }
    }
    let mut out = vec![0f32; out_h * out_w];
    for (y, taps) in wy.iter().enumerate() {
        for x in 0..out_w {
            out[y * out_w + x] = taps.iter().map(|&(k, v)| rows[k * out_w + x] * v).sum();
        }
    }
    out
}

/// The centred `side` x `side` square of a row-major `h` x `w` image.
pub fn centre_crop(img: &[f32], h: usize, w: usize, side: usize) -> Vec<f32> {
    assert!(side <= h && side <= w, "crop larger than the image");
    let (y0, x0) = ((h - side) / 2, (w - side) / 2);
    let mut out = Vec::with_capacity(side * side);
    for y in y0..y0 + side {
        out.extend_from_slice(&img[y * w + x0..y * w + x0 + side]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_averages_blocks() {
        let img: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let out = resize(&img, 4, 4, 2, 2);
        assert_eq!(out, vec![2.5, 4.5, 10.5, 12.5]);
    }

    #[test]
    fn fractional_area_average_preserves_the_mean() {
        let img: Vec<f32> = (0..100).map(|v| (v % 7) as f32).collect();
        let out = resize(&img, 10, 10, 3, 3);
        let m_in = img.iter().sum::<f32>() / 100.0;
        let m_out = out.iter().sum::<f32>() / 9.0;
        assert!((m_in - m_out).abs() < 1e-4, "{m_in} {m_out}");
    }

    #[test]
    fn upsampling_is_bilinear_and_keeps_constants() {
        let out = resize(&[1.0, 3.0], 1, 2, 1, 4);
        assert_eq!(out, vec![1.0, 1.5, 2.5, 3.0]);
        let flat = resize(&vec![0.7; 31 * 31], 31, 31, 50, 50);
        assert!(flat.iter().all(|v| (v - 0.7).abs() < 1e-6));
    }

    #[test]
    fn centre_crop_takes_the_middle() {
        let img: Vec<f32> = (0..20).map(|v| v as f32).collect(); // 4 x 5
        assert_eq!(centre_crop(&img, 4, 5, 2), vec![6.0, 7.0, 11.0, 12.0]);
    }
}
