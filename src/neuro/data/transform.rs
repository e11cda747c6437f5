//! The image transform of a prepared dataset, as a value that can be replayed on new images:
//! a centred square crop of the raw `raw_height` x `raw_width` images, resampling to
//! `size` x `size` ([`super::resample`]), then `(x - norm_mean) / norm_std` with the training
//! statistics. `preprocess` builds the prepared dataset with it; `predict` and `probe` apply
//! the same transform to stimuli the models never saw, so a model sees new images exactly as
//! it saw its training images. Serialised flat (`raw_height`, `raw_width`, `crop`, `size`,
//! `norm_mean`, `norm_std`), as `sapipe show --json` and the Python loader read it.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::neuro::array::ArrayF32;
use crate::neuro::data::resample::{centre_crop, resize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TransformError(pub String);

/// Crop and resampling of raw images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    pub raw_height: usize,
    pub raw_width: usize,
    /// Side of the centred square cut (resolved: never 0).
    pub crop: usize,
    /// Side of the prepared images.
    pub size: usize,
}

impl Geometry {
    /// The geometry of a `crop` setting (0 = the largest centred square) on raw images of
    /// `raw_height` x `raw_width`, resampled to `size`.
    pub fn new(
        raw_height: usize,
        raw_width: usize,
        crop: usize,
        size: usize,
    ) -> Result<Self, TransformError> {
        let (h, w) = (raw_height, raw_width);
        let crop = if crop == 0 { h.min(w) } else { crop };
        if crop > h.min(w) {
            return Err(TransformError(format!(
                "crop = {crop} is larger than the raw images ({h} x {w}); use at most {} or 0 for the largest centred square",
                h.min(w)
            )));
        }
        if size == 0 {
            return Err(TransformError("size must be at least 1 pixel".into()));
        }
        Ok(Geometry {
            raw_height,
            raw_width,
            crop,
            size,
        })
    }

    /// Cropped and resampled images at `indices` of `images` (`[n, raw_height, raw_width]`,
    /// shape checked by the caller), `[len, size, size]`.
    pub fn resample(&self, images: &ArrayF32, indices: &[usize]) -> ArrayF32 {
        let (h, w, crop, size) = (self.raw_height, self.raw_width, self.crop, self.size);
        let mut out = vec![0f32; indices.len() * size * size];
        out.par_chunks_mut(size * size)
            .zip(indices.par_iter())
            .for_each(|(dst, &i)| {
                let cropped = centre_crop(images.row(i), h, w, crop);
                dst.copy_from_slice(&resize(&cropped, crop, crop, size, size));
            });
        ArrayF32::new(vec![indices.len(), size, size], out)
    }
}

/// The whole transform: geometry and normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    #[serde(flatten)]
    pub geometry: Geometry,
    pub norm_mean: f64,
    pub norm_std: f64,
}

/// `(x - mean) / std` in f64, stored as f32, in place.
pub fn normalise(images: &mut ArrayF32, mean: f64, std: f64) {
    images
        .data
        .par_iter_mut()
        .for_each(|v| *v = ((*v as f64 - mean) / std) as f32);
}

impl Preprocessing {
    /// Model inputs `[n, size, size]` from raw images `[n, raw_height, raw_width]`; refuses
    /// other shapes and non-finite pixels, naming what would be valid.
    pub fn apply(&self, images: &ArrayF32) -> Result<ArrayF32, TransformError> {
        let g = &self.geometry;
        let (h, w) = (g.raw_height, g.raw_width);
        if images.shape.len() != 3 || images.shape[1] != h || images.shape[2] != w {
            return Err(TransformError(format!(
                "images have shape {:?}, but the model was trained on {h} x {w} images \
                 (cropped to {c} x {c}, resampled to {s} x {s}): give [n, {h}, {w}] images",
                images.shape,
                c = g.crop,
                s = g.size
            )));
        }
        if let Some(i) = images.data.iter().position(|v| !v.is_finite()) {
            let per = h * w;
            return Err(TransformError(format!(
                "image {} has a non-finite pixel ({}) at row {}, column {}",
                i / per,
                images.data[i],
                (i % per) / w,
                i % w
            )));
        }
        let all: Vec<usize> = (0..images.shape[0]).collect();
        let mut out = g.resample(images, &all);
        normalise(&mut out, self.norm_mean, self.norm_std);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_zero_takes_the_largest_square_and_bad_settings_are_named() {
        assert_eq!(Geometry::new(4, 6, 0, 2).unwrap().crop, 4);
        let e = Geometry::new(4, 6, 5, 2).unwrap_err().0;
        assert!(
            e.contains("crop = 5 is larger than the raw images (4 x 6)"),
            "{e}"
        );
        assert!(Geometry::new(4, 6, 0, 0).is_err());
    }

    #[test]
    fn apply_crops_resamples_and_normalises() {
        let p = Preprocessing {
            geometry: Geometry::new(2, 4, 2, 1).unwrap(),
            norm_mean: 1.0,
            norm_std: 2.0,
        };
        // Row-major 2 x 4; the centred 2 x 2 square is columns 1..3: mean of 1, 2, 5, 6 = 3.5.
        let img = ArrayF32::new(vec![1, 2, 4], (0..8).map(|v| v as f32).collect());
        assert_eq!(p.apply(&img).unwrap().data, vec![1.25]);
    }

    #[test]
    fn wrong_shapes_and_non_finite_pixels_are_refused() {
        let p = Preprocessing {
            geometry: Geometry::new(2, 4, 0, 1).unwrap(),
            norm_mean: 0.0,
            norm_std: 1.0,
        };
        let e = p.apply(&ArrayF32::zeros(vec![3, 4, 2])).unwrap_err().0;
        assert!(
            e.contains("shape [3, 4, 2]") && e.contains("give [n, 2, 4]"),
            "{e}"
        );
        let mut img = ArrayF32::zeros(vec![2, 2, 4]);
        img.data[8 + 6] = f32::NAN;
        let e = p.apply(&img).unwrap_err().0;
        assert_eq!(e, "image 1 has a non-finite pixel (NaN) at row 1, column 2");
    }

    #[test]
    fn serialises_flat() {
        let p = Preprocessing {
            geometry: Geometry::new(50, 50, 0, 26).unwrap(),
            norm_mean: 0.5,
            norm_std: 0.25,
        };
        let v = serde_json::to_value(p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"raw_height": 50, "raw_width": 50, "crop": 50, "size": 26,
                               "norm_mean": 0.5, "norm_std": 0.25})
        );
        assert_eq!(serde_json::from_value::<Preprocessing>(v).unwrap(), p);
    }
}
