//! The training transform recovered for the probe: the prepared dataset records the size and
//! the normalisation but not the preprocess stage's crop, so the crop is given and checked by
//! replaying the transform on the raw dataset's first test images, which must reproduce the
//! prepared test images bit for bit.

use super::ProbeError;
use crate::neuro::data::dataset::PreparedDataset;
use crate::neuro::data::raw::RawDataset;
use crate::neuro::data::transform::{Geometry, Preprocessing};

/// Test images replayed.
pub const CHECKED: usize = 4;

/// The transform from `raw` to `prepared` with `crop` (0: the largest centred square),
/// checked on the first test images.
pub fn replay(
    raw: &RawDataset,
    prepared: &PreparedDataset,
    crop: usize,
) -> Result<Preprocessing, ProbeError> {
    let (m, p) = (&raw.meta, &prepared.meta);
    if m.neurons != p.neurons {
        return Err(ProbeError::Transform(format!(
            "the raw dataset has {} neurons, the prepared dataset {}: they are not one chain",
            m.neurons, p.neurons
        )));
    }
    let geometry = Geometry::new(m.height, m.width, crop, p.size)
        .map_err(|e| ProbeError::Transform(format!("parameter 'crop': {e}")))?;
    let preprocessing = Preprocessing {
        geometry,
        norm_mean: p.norm_mean,
        norm_std: p.norm_std,
    };
    let n = CHECKED
        .min(raw.split.test.len())
        .min(prepared.test_images.shape[0]);
    let rows: Vec<usize> = raw.split.test[..n].to_vec();
    let replayed = preprocessing
        .apply(&raw.images.select_rows(&rows))
        .map_err(|e| ProbeError::Transform(e.0))?;
    let expected = prepared
        .test_images
        .select_rows(&(0..n).collect::<Vec<_>>());
    let same = replayed.shape == expected.shape
        && replayed
            .data
            .iter()
            .zip(&expected.data)
            .all(|(a, b)| a.to_bits() == b.to_bits());
    if !same {
        return Err(ProbeError::Transform(format!(
            "parameter 'crop' = {crop} (a {c} x {c} cut of the {h} x {w} raw images) does not \
             reproduce the prepared test images: set 'crop' to the preprocess stage's value",
            c = geometry.crop,
            h = m.height,
            w = m.width
        )));
    }
    Ok(preprocessing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::data::fixtures::tiny;
    use crate::neuro::data::preprocess::{PreprocessConfig, preprocess};

    #[test]
    fn the_crop_is_checked_against_the_prepared_images() {
        let raw = tiny(12, 8, 2, 3);
        let cfg = PreprocessConfig {
            crop: 6,
            size: 4,
            validation: 0.2,
            fraction: 1.0,
            seed: 1,
        };
        let (prepared, _) = preprocess(&raw, &cfg).unwrap();
        let p = replay(&raw, &prepared, 6).unwrap();
        assert_eq!((p.geometry.crop, p.geometry.size), (6, 4));
        let e = replay(&raw, &prepared, 0).unwrap_err().to_string();
        assert!(
            e.contains("'crop' = 0 (a 8 x 8 cut")
                && e.contains("set 'crop' to the preprocess stage's value"),
            "{e}"
        );
        let e = replay(&raw, &prepared, 9).unwrap_err().to_string();
        assert!(e.starts_with("parameter 'crop': crop = 9 is larger"), "{e}");
    }
}
