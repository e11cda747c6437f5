//! From a raw dataset ([`crate::neuro::data::raw`]) to the prepared dataset the models train on
//! ([`crate::neuro::data::dataset::PreparedDataset`]):
//!
//! 1. splits: the raw split's validation images if it has them, otherwise `validation` of the
//!    raw training images, chosen with the seed;
//! 2. the training subset: `fraction` of the remaining training images, taken from the front
//!    of ONE seeded permutation, so the 25% subset lies inside the 50% one, which lies inside
//!    the full set (data-efficiency runs compare nested sets);
//! 3. images: an optional centred square crop (`crop` pixels; 0 = the largest centred square),
//!    then resampling to `size` x `size` (area average when shrinking, bilinear when
//!    enlarging);
//! 4. normalisation: (x - mean) / std with mean and std over the pixels of the kept training
//!    images only, applied to every split. Responses are not transformed.
//!
//! Test responses, repeats and (for simulated data) ground truth are carried over in the order
//! of the raw split's test list.

use rayon::prelude::*;

use crate::neuro::array::ArrayF32;
use crate::neuro::data::dataset::{PreparedDataset, PreparedMeta};
use crate::neuro::data::raw::RawDataset;
use crate::neuro::data::transform::{Geometry, normalise};
use crate::neuro::data::truth::Truth;
use crate::neuro::random::sequential::Stream;

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("{0}")]
    Invalid(String),
}

/// The `preprocess` stage's parameters (`stages/preprocess.yaml`), as the stage reads them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessConfig {
    /// Side of the centred square cut before resampling; 0 = the largest that fits.
    pub crop: usize,
    /// Side of the prepared images.
    pub size: usize,
    /// Fraction of the raw training images held out for validation (when the raw split has
    /// no validation list).
    pub validation: f64,
    /// Fraction of the training images kept: 0.25, 0.5 or 1.0 in the stage definition.
    pub fraction: f64,
    pub seed: u64,
}

/// What preprocessing did (for the stage's metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessReport {
    pub train: usize,
    /// Training images before the fraction was applied.
    pub train_pool: usize,
    pub validation: usize,
    pub test: usize,
    /// Whether the validation images came from the raw split (else from `validation`).
    pub validation_from_raw: bool,
    pub crop: usize,
    pub norm_mean: f64,
    pub norm_std: f64,
}

/// The (validation, training pool) split of the raw training images, and the kept subset.
pub struct Selection {
    pub validation: Vec<usize>,
    pub pool: Vec<usize>,
    pub train: Vec<usize>,
}

/// Chooses validation and training images (raw indices, ascending).
pub fn select(raw: &RawDataset, cfg: &PreprocessConfig) -> Result<Selection, PreprocessError> {
    let raw_train = &raw.split.train;
    let (mut validation, mut pool) = match &raw.split.validation {
        Some(v) => (v.clone(), raw_train.clone()),
        None => {
            let n = raw_train.len();
            let mut n_val = (cfg.validation * n as f64).round() as usize;
            if cfg.validation > 0.0 && n_val == 0 {
                n_val = 1;
            }
            if n_val >= n {
                return Err(PreprocessError::Invalid(format!(
                    "validation = {} of {n} training images leaves none to train on",
                    cfg.validation
                )));
            }
            let perm = Stream::new(cfg.seed, "preprocess/validation", 0).permutation(n);
            let val = perm[..n_val].iter().map(|&p| raw_train[p]).collect();
            let rest = perm[n_val..].iter().map(|&p| raw_train[p]).collect();
            (val, rest)
        }
    };
    validation.sort_unstable();
    pool.sort_unstable();
    // One permutation of the pool for every fraction: smaller subsets are prefixes.
    let order = Stream::new(cfg.seed, "preprocess/fraction", 0).permutation(pool.len());
    let keep = ((cfg.fraction * pool.len() as f64).ceil() as usize).clamp(1, pool.len());
    let mut train: Vec<usize> = order[..keep].iter().map(|&p| pool[p]).collect();
    train.sort_unstable();
    Ok(Selection {
        validation,
        pool,
        train,
    })
}

/// Mean and standard deviation of all pixels, summed image by image in order (deterministic).
fn pixel_stats(images: &ArrayF32) -> (f64, f64) {
    let n = images.data.len() as f64;
    let rows = images.shape[0];
    let sums: Vec<f64> = (0..rows)
        .into_par_iter()
        .map(|i| images.row(i).iter().map(|&v| v as f64).sum())
        .collect();
    let mean = sums.iter().sum::<f64>() / n;
    let squares: Vec<f64> = (0..rows)
        .into_par_iter()
        .map(|i| {
            images
                .row(i)
                .iter()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum()
        })
        .collect();
    (mean, (squares.iter().sum::<f64>() / n).sqrt())
}

/// Prepares `raw` as configured.
pub fn preprocess(
    raw: &RawDataset,
    cfg: &PreprocessConfig,
) -> Result<(PreparedDataset, PreprocessReport), PreprocessError> {
    let geometry = Geometry::new(raw.meta.height, raw.meta.width, cfg.crop, cfg.size)
        .map_err(|e| PreprocessError::Invalid(e.0))?;
    if !(cfg.fraction > 0.0 && cfg.fraction <= 1.0) {
        return Err(PreprocessError::Invalid(format!(
            "fraction = {} must be in (0, 1]",
            cfg.fraction
        )));
    }
    if !(0.0..1.0).contains(&cfg.validation) {
        return Err(PreprocessError::Invalid(format!(
            "validation = {} must be in [0, 1)",
            cfg.validation
        )));
    }
    let sel = select(raw, cfg)?;
    let test = &raw.split.test;
    let mut train_images = geometry.resample(&raw.images, &sel.train);
    let (mean, std) = pixel_stats(&train_images);
    if std <= 1e-12 {
        return Err(PreprocessError::Invalid(
            "the training images are constant after cropping and resampling: nothing to normalise by".into(),
        ));
    }
    let mut val_images = geometry.resample(&raw.images, &sel.validation);
    let mut test_images = geometry.resample(&raw.images, test);
    for images in [&mut train_images, &mut val_images, &mut test_images] {
        normalise(images, mean, std);
    }
    let truth = raw.truth.as_ref().map(|t| Truth {
        noise_free: t.noise_free.select_rows(test),
        centre: t.centre.select_rows(test),
        surround_factor: t.surround_factor.select_rows(test),
    });
    let prepared = PreparedDataset {
        train_images,
        train_responses: raw.responses.select_rows(&sel.train),
        val_images,
        val_responses: raw.responses.select_rows(&sel.validation),
        test_images,
        test_responses: raw.responses.select_rows(test),
        test_repeats: raw.test_repeats.clone(),
        truth,
        meta: PreparedMeta {
            neurons: raw.meta.neurons,
            size: cfg.size,
            source: raw.meta.source.clone(),
            norm_mean: mean,
            norm_std: std,
            fraction: cfg.fraction,
        },
    };
    let report = PreprocessReport {
        train: sel.train.len(),
        train_pool: sel.pool.len(),
        validation: sel.validation.len(),
        test: test.len(),
        validation_from_raw: raw.split.validation.is_some(),
        crop: geometry.crop,
        norm_mean: mean,
        norm_std: std,
    };
    Ok((prepared, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::data::fixtures::tiny;

    fn cfg(fraction: f64) -> PreprocessConfig {
        PreprocessConfig {
            crop: 0,
            size: 4,
            validation: 0.2,
            fraction,
            seed: 3,
        }
    }

    #[test]
    fn nested_fractions_are_nested_and_validation_does_not_move() {
        let raw = tiny(60, 6, 2, 10);
        let quarter = select(&raw, &cfg(0.25)).unwrap();
        let half = select(&raw, &cfg(0.5)).unwrap();
        let full = select(&raw, &cfg(1.0)).unwrap();
        assert_eq!(quarter.validation, full.validation);
        assert_eq!(half.validation, full.validation);
        assert_eq!(full.validation.len(), 10);
        assert_eq!(
            (quarter.train.len(), half.train.len(), full.train.len()),
            (10, 20, 40)
        );
        assert!(quarter.train.iter().all(|i| half.train.contains(i)));
        assert!(half.train.iter().all(|i| full.train.contains(i)));
        assert!(
            full.train
                .iter()
                .all(|i| !full.validation.contains(i) && !raw.split.test.contains(i))
        );
        let other_seed = select(
            &raw,
            &PreprocessConfig {
                seed: 4,
                ..cfg(0.5)
            },
        )
        .unwrap();
        assert_ne!(other_seed.train, half.train);
    }

    #[test]
    fn normalisation_uses_training_statistics_only() {
        let mut raw = tiny(20, 4, 2, 5);
        let (prepared, report) = preprocess(&raw, &cfg(1.0)).unwrap();
        let sel = select(&raw, &cfg(1.0)).unwrap();
        let train_pixels: Vec<f64> = sel
            .train
            .iter()
            .flat_map(|&i| raw.images.row(i).iter().map(|&v| v as f64))
            .collect();
        let mean = train_pixels.iter().sum::<f64>() / train_pixels.len() as f64;
        assert!((report.norm_mean - mean).abs() < 1e-9);
        let m: f64 = prepared
            .train_images
            .data
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>()
            / prepared.train_images.data.len() as f64;
        assert!(m.abs() < 1e-6, "normalised training mean {m}");
        // Changing validation and test images changes neither the statistics nor the train set.
        for i in sel.validation.iter().chain(&raw.split.test.clone()) {
            raw.images.data[i * 16..(i + 1) * 16]
                .iter_mut()
                .for_each(|v| *v += 1000.0);
        }
        let (again, report2) = preprocess(&raw, &cfg(1.0)).unwrap();
        assert_eq!(report2.norm_mean, report.norm_mean);
        assert_eq!(report2.norm_std, report.norm_std);
        assert_eq!(again.train_images, prepared.train_images);
        assert_ne!(again.test_images, prepared.test_images);
    }

    #[test]
    fn a_raw_validation_list_is_used_as_is() {
        let mut raw = tiny(20, 4, 2, 5);
        raw.split.train = (0..12).collect();
        raw.split.validation = Some((12..15).collect());
        let (prepared, report) = preprocess(&raw, &cfg(1.0)).unwrap();
        assert!(report.validation_from_raw);
        assert_eq!(prepared.val_images.shape[0], 3);
        assert_eq!(prepared.train_images.shape[0], 12);
        assert_eq!(prepared.test_repeats.as_ref().unwrap().shape, vec![2, 5, 2]);
    }

    #[test]
    fn bad_settings_are_named() {
        let raw = tiny(20, 4, 2, 5);
        let e = preprocess(
            &raw,
            &PreprocessConfig {
                crop: 9,
                ..cfg(1.0)
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("crop = 9 is larger than the raw images (4 x 4)"),
            "{e}"
        );
        let e = preprocess(
            &raw,
            &PreprocessConfig {
                validation: 0.99,
                ..cfg(1.0)
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("leaves none to train on"), "{e}");
    }

    #[test]
    fn a_31_pixel_uint8_import_preprocesses_to_50_pixels() {
        use crate::neuro::data::fixtures::npy;
        use crate::neuro::data::import::{ImportConfig, import};
        let dir = tempfile::tempdir().unwrap();
        let n = 12;
        let pixels: Vec<u8> = (0..n * 31 * 31).map(|i| (i * 13 % 251) as u8).collect();
        npy(dir.path(), "images", &[n as u64, 31, 31], &pixels);
        let responses: Vec<f32> = (0..n * 2).map(|v| v as f32).collect();
        npy(dir.path(), "responses", &[n as u64, 2], &responses);
        let raw = import(
            dir.path(),
            &ImportConfig {
                test_fraction: 0.25,
                seed: 1,
            },
        )
        .unwrap();
        let (prepared, _) = preprocess(
            &raw,
            &PreprocessConfig {
                size: 50,
                ..cfg(1.0)
            },
        )
        .unwrap();
        assert_eq!(prepared.train_images.shape[1..], [50, 50]);
        assert_eq!(prepared.test_images.shape, vec![3, 50, 50]);
        let out = tempfile::tempdir().unwrap();
        prepared.write(out.path()).unwrap();
        let back = PreparedDataset::read(out.path()).unwrap();
        assert_eq!(back.train_images, prepared.train_images);
        assert_eq!(back.test_responses, prepared.test_responses);
        // serde_json (without its float_roundtrip feature) may move an f64 by one ulp.
        assert!((back.meta.norm_mean - prepared.meta.norm_mean).abs() < 1e-12);
        assert_eq!((back.meta.size, back.meta.neurons), (50, 2));
    }
}
