//! Where stimuli come from: the procedural dead-leaves generator (the default) or random crops
//! of the user's own photos. Either way an image is a pure function of (seed, split, index).

use std::path::{Path, PathBuf};

use super::SimError;
use super::stimuli::DeadLeaves;
use crate::neuro::data::resample::resize;
use crate::neuro::random::sequential::Stream;

/// A source of square grayscale stimuli with luminance in [0, 1].
pub trait StimulusSource: Sync {
    /// Side of the images in pixels.
    fn size(&self) -> usize;
    /// Renders image `index` of `split` ("train", "validation", "test", "calibration") into
    /// `out` (`size * size`, row-major).
    fn render(&self, seed: u64, split: &str, index: u64, out: &mut [f32]);
}

fn stream(seed: u64, split: &str, index: u64) -> Stream {
    Stream::new(seed, &format!("stimulus/{split}"), index)
}

impl StimulusSource for DeadLeaves {
    fn size(&self) -> usize {
        self.size
    }

    fn render(&self, seed: u64, split: &str, index: u64, out: &mut [f32]) {
        self.draw(&mut stream(seed, split, index), out);
    }
}

/// One decoded photo, grayscale in [0, 1].
struct Photo {
    width: usize,
    height: usize,
    pixels: Vec<f32>,
}

/// Random square crops of a folder of photos (PNG or JPEG, found recursively, in path order),
/// each crop 1x to 4x the output side, area-averaged down to it.
pub struct PhotoCrops {
    size: usize,
    photos: Vec<Photo>,
    pub root: PathBuf,
}

/// Photos are reduced on load so their shorter side is at most this many output sides.
const MAX_CROP_SCALE: usize = 4;

impl PhotoCrops {
    /// Loads every `.png`, `.jpg` and `.jpeg` under `root`. Photos smaller than `size` on
    /// either side are skipped (logged); none usable is an error naming the folder.
    pub fn load(root: &Path, size: usize) -> Result<Self, SimError> {
        let bad = |message: String| SimError::Photos {
            path: root.to_owned(),
            message,
        };
        if !root.is_dir() {
            return Err(bad(
                "not a folder (expected a folder of PNG or JPEG photos)".into(),
            ));
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.map_err(|e| bad(e.to_string()))?;
            let ext = entry
                .path()
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_lowercase);
            if entry.file_type().is_file() && matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"))
            {
                files.push(entry.into_path());
            }
        }
        let mut photos = Vec::new();
        for file in &files {
            let img = image::open(file).map_err(|e| SimError::Photos {
                path: file.clone(),
                message: format!("cannot decode the photo: {e}"),
            })?;
            let luma = img.to_luma32f();
            let (w, h) = (luma.width() as usize, luma.height() as usize);
            if w < size || h < size {
                tracing::warn!(
                    "{}: {w} x {h} is smaller than {size} x {size}; skipped",
                    file.display()
                );
                continue;
            }
            let pixels = luma.into_raw();
            let limit = MAX_CROP_SCALE * size;
            let shorter = w.min(h);
            let photo = if shorter > limit {
                let (nw, nh) = (w * limit / shorter, h * limit / shorter);
                Photo {
                    width: nw,
                    height: nh,
                    pixels: resize(&pixels, h, w, nh, nw),
                }
            } else {
                Photo {
                    width: w,
                    height: h,
                    pixels,
                }
            };
            photos.push(photo);
        }
        if photos.is_empty() {
            return Err(bad(format!(
                "no usable photo: found {} PNG/JPEG file(s), none at least {size} x {size} pixels",
                files.len()
            )));
        }
        tracing::info!("{}: {} photo(s) for crops", root.display(), photos.len());
        Ok(Self {
            size,
            photos,
            root: root.to_owned(),
        })
    }

    pub fn count(&self) -> usize {
        self.photos.len()
    }
}

impl StimulusSource for PhotoCrops {
    fn size(&self) -> usize {
        self.size
    }

    fn render(&self, seed: u64, split: &str, index: u64, out: &mut [f32]) {
        let mut rng = stream(seed, split, index);
        let photo = &self.photos[rng.below(self.photos.len() as u64) as usize];
        let largest = photo.width.min(photo.height);
        let side = (rng.log_range(1.0, largest as f64 / self.size as f64 + 1e-9) * self.size as f64)
            .round()
            .clamp(self.size as f64, largest as f64) as usize;
        let x0 = rng.below((photo.width - side + 1) as u64) as usize;
        let y0 = rng.below((photo.height - side + 1) as u64) as usize;
        let mut crop = Vec::with_capacity(side * side);
        for y in y0..y0 + side {
            let start = y * photo.width + x0;
            crop.extend_from_slice(&photo.pixels[start..start + side]);
        }
        let img = resize(&crop, side, side, self.size, self.size);
        out.copy_from_slice(&img);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_crops_are_reproducible_grayscale_squares() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let photo = image::RgbImage::from_fn(90, 70, |x, y| {
            image::Rgb([(x * 2) as u8, (y * 3) as u8, 40])
        });
        photo.save(nested.join("p.png")).unwrap();
        image::GrayImage::new(10, 10)
            .save(dir.path().join("tiny.png"))
            .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a photo").unwrap();
        let crops = PhotoCrops::load(dir.path(), 32).unwrap();
        assert_eq!(crops.count(), 1);
        let (mut a, mut b) = (vec![0.0; 32 * 32], vec![0.0; 32 * 32]);
        crops.render(1, "train", 5, &mut a);
        crops.render(1, "train", 5, &mut b);
        assert_eq!(a, b);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        crops.render(1, "train", 6, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn a_folder_without_usable_photos_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = PhotoCrops::load(dir.path(), 32).err().unwrap().to_string();
        assert!(
            err.contains(&dir.path().display().to_string()) && err.contains("no usable photo"),
            "{err}"
        );
    }
}
