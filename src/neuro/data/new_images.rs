//! Images to run fitted models on (`sapipe predict --images`), read like `import` reads a
//! recording's images: one `.npy` file (`[N, H, W]`, `[N, H, W, 1]`, `[N, 1, H, W]` or one
//! `[H, W]` image), an `.npz` archive's `images` array, or a folder whose `.npy` files are
//! taken in name order, each one image or a stack, concatenated. uint8 pixels are scaled by
//! 1/255 as `import` scales them; float32 and float64 are taken as they are.

use std::path::{Path, PathBuf};

use crate::neuro::array::ArrayF32;
use crate::neuro::data::import::arrays::{Container, Kind, Loaded, read_npy};
use crate::neuro::data::import::{ImportError, image_dims};

const PIXELS: [Kind; 3] = [Kind::U8, Kind::F32, Kind::F64];

/// The images, `[N, H, W]`, and the files they came from, in row order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewImages {
    pub images: ArrayF32,
    /// For each file read: its name and how many images it gave.
    pub files: Vec<(String, usize)>,
}

/// `(n, h, w)` of an array of images, a single `[H, W]` image being one.
fn dims(a: &Loaded) -> Result<(usize, usize, usize), ImportError> {
    match a.shape[..] {
        [h, w] if h > 0 && w > 0 => Ok((1, h, w)),
        _ => image_dims(a).map_err(|_| ImportError::Shape {
            location: a.location.clone(),
            expected: "[N, H, W], [N, H, W, 1], [N, 1, H, W] or one [H, W] image".into(),
            found: a.shape.clone(),
        }),
    }
}

fn source_error(path: &Path, message: impl Into<String>) -> ImportError {
    ImportError::Source {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Reads the images at `path` (see the module doc).
pub fn read(path: &Path) -> Result<NewImages, ImportError> {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    let arrays: Vec<(String, Loaded)> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| source_error(path, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "npy") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(source_error(path, "no .npy files in this folder"));
        }
        files
            .iter()
            .map(|f| {
                let location = format!("{}/{}", name(path), name(f));
                Ok((name(f), read_npy(f, location, &PIXELS)?))
            })
            .collect::<Result<_, ImportError>>()?
    } else {
        match path.extension().and_then(|x| x.to_str()) {
            Some("npy") => vec![(name(path), read_npy(path, name(path), &PIXELS)?)],
            Some("npz") => {
                let mut c = Container::open(path, &[])?;
                vec![(name(path), c.require("images", &PIXELS)?)]
            }
            _ => {
                return Err(source_error(
                    path,
                    "expected a .npy file, an .npz archive with an array 'images', or a folder of .npy files",
                ));
            }
        }
    };
    let mut data = Vec::new();
    let mut files = Vec::new();
    let mut size: Option<(usize, usize, String)> = None;
    for (file, a) in &arrays {
        let (n, h, w) = dims(a)?;
        match &size {
            Some((h0, w0, first)) if (*h0, *w0) != (h, w) => {
                return Err(ImportError::Shape {
                    location: a.location.clone(),
                    expected: format!("{h0} x {w0} images like {first}'s"),
                    found: a.shape.clone(),
                });
            }
            Some(_) => {}
            None => size = Some((h, w, file.clone())),
        }
        data.extend(a.to_f32(true));
        files.push((file.clone(), n));
    }
    let (h, w, _) = size.expect("at least one array was read");
    let n = data.len() / (h * w);
    Ok(NewImages {
        images: ArrayF32::new(vec![n, h, w], data),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, shape: Vec<usize>, start: f32) {
        let n: usize = shape.iter().product();
        ArrayF32::new(shape, (0..n).map(|i| start + i as f32).collect())
            .write_npy(path)
            .unwrap();
    }

    #[test]
    fn a_folder_is_read_in_name_order_and_single_images_count_as_one() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("b.npy"), vec![2, 3, 4], 100.0);
        write(&dir.path().join("a.npy"), vec![3, 4], 0.0);
        std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
        let read = read(dir.path()).unwrap();
        assert_eq!(read.images.shape, vec![3, 3, 4]);
        assert_eq!(
            read.files,
            vec![("a.npy".to_string(), 1), ("b.npy".to_string(), 2)]
        );
        assert_eq!(read.images.data[0], 0.0);
        assert_eq!(read.images.data[12], 100.0);
    }

    #[test]
    fn mixed_sizes_and_other_files_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a.npy"), vec![3, 4], 0.0);
        write(&dir.path().join("b.npy"), vec![4, 4], 0.0);
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("b.npy") && e.contains("3 x 4 images like a.npy's"),
            "{e}"
        );
        let e = read(&dir.path().join("a.png")).unwrap_err().to_string();
        assert!(e.contains("expected a .npy file"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = read(empty.path()).unwrap_err().to_string();
        assert!(e.contains("no .npy files"), "{e}");
    }
}
