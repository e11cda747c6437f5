//! The split of an import: one of the conventions below, checked against the N images, or
//! none (then [`seeded_split`] holds out `test_fraction` of the images with the seed). Giving
//! two conventions at once is an error, not a choice.
//!
//! ```text
//! split         [N] labels, one per image: strings train / validation (or val) / test
//!               (<U.. or |S..), or integers 0 = train, 1 = validation, 2 = test
//! is_test       [N] bool: true = test, false = train
//! train, validation, test
//!               1-D integer image indices (validation optional; 1-based in a .mat file)
//! split.json    {"train": [...], "validation": [...] or null, "test": [...]} (folders only)
//! ```
//!
//! Without validation images, validation is left to `preprocess`. Test images are listed in
//! image order for labels and masks, which is the order of test_repeats' rows.

use super::ImportError;
use super::arrays::{Container, Kind, Loaded, Values};
use super::report::SplitSource;
use super::{ImportConfig, Split};
use crate::neuro::random::sequential::Stream;

/// The valid string labels, for messages.
const LABELS: &str = "train, validation (or val), test";
/// The valid integer labels, for messages.
const INT_LABELS: &str = "0 (train), 1 (validation), 2 (test)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Train,
    Validation,
    Test,
}

/// The split the user gave, checked against `n` images, and where it came from; `None` when
/// none was given. Two conventions at once are an error naming both.
pub fn explicit_split(
    c: &mut Container,
    n: usize,
) -> Result<Option<(Split, SplitSource)>, ImportError> {
    let index_arrays: Vec<String> = ["train", "validation", "test"]
        .iter()
        .filter(|a| c.has(a))
        .map(|a| c.short(a))
        .collect();
    let mut given = Vec::new();
    if c.has("split") {
        given.push(format!("{} (labels)", c.short("split")));
    }
    if c.has("is_test") {
        given.push(format!("{} (test mask)", c.short("is_test")));
    }
    if !index_arrays.is_empty() {
        given.push(format!("{} (index arrays)", index_arrays.join(", ")));
    }
    let json = c.side_file("split.json");
    if json.is_some() {
        given.push("split.json".into());
    }
    if given.len() > 1 {
        return Err(ImportError::Split {
            location: c.source(),
            message: format!(
                "conflicting split sources: {}; keep one (or name the others in the import \
                 stage's `ignore` list)",
                given.join(" and ")
            ),
        });
    }
    let (split, source, location) = if let Some(a) = c.read("split", &[Kind::Str, Kind::Int])? {
        let file = c.short("split");
        let integers = matches!(a.values, Values::Int(_));
        let split = from_labels(&a, n)?;
        (split, SplitSource::Labels { file, integers }, a.location)
    } else if let Some(a) = c.read("is_test", &[Kind::Bool])? {
        let file = c.short("is_test");
        let split = from_mask(&a, n)?;
        (split, SplitSource::TestMask { file }, a.location)
    } else if !index_arrays.is_empty() {
        let train = index_array(c, "train", n)?.unwrap_or_default();
        let validation = index_array(c, "validation", n)?;
        let test = index_array(c, "test", n)?.unwrap_or_default();
        let split = Split {
            train,
            validation,
            test,
        };
        let location = format!("{} (index arrays train, validation, test)", c.source());
        let files = index_arrays;
        (split, SplitSource::IndexArrays { files }, location)
    } else if let Some(path) = json {
        let location = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| ImportError::Read {
            location: location.clone(),
            message: e.to_string(),
        })?;
        let split: Split = serde_json::from_str(&text).map_err(|e| ImportError::Split {
            location: location.clone(),
            message: format!(
                "expected {{\"train\": [...], \"validation\": [...] or null, \"test\": [...]}}: {e}"
            ),
        })?;
        (split, SplitSource::Json, location)
    } else {
        return Ok(None);
    };
    split
        .check(n)
        .map_err(|message| ImportError::Split { location, message })?;
    Ok(Some((split, source)))
}

/// `a` must be one entry per image: shape [n].
fn per_image(a: &Loaded, n: usize, what: &str) -> Result<(), ImportError> {
    if a.shape != [n] {
        return Err(ImportError::Shape {
            location: a.location.clone(),
            expected: format!("[N={n}] (one {what} per image; N from images)"),
            found: a.shape.clone(),
        });
    }
    Ok(())
}

/// A split from per-image labels.
fn from_labels(a: &Loaded, n: usize) -> Result<Split, ImportError> {
    per_image(a, n, "label")?;
    let unknown = |label: String, image: usize, valid: &str| ImportError::Split {
        location: a.location.clone(),
        message: format!(
            "label {label} (first at image {image}) is not a split label; valid: {valid}"
        ),
    };
    let parts: Vec<Part> = match &a.values {
        Values::Str(labels) => labels
            .iter()
            .enumerate()
            .map(|(i, l)| match l.as_str() {
                "train" => Ok(Part::Train),
                "validation" | "val" => Ok(Part::Validation),
                "test" => Ok(Part::Test),
                other => Err(unknown(format!("'{other}'"), i, LABELS)),
            })
            .collect::<Result<_, _>>()?,
        Values::Int(labels) => labels
            .iter()
            .enumerate()
            .map(|(i, &l)| match l {
                0 => Ok(Part::Train),
                1 => Ok(Part::Validation),
                2 => Ok(Part::Test),
                other => Err(unknown(other.to_string(), i, INT_LABELS)),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ImportError::Dtype {
                location: a.location.clone(),
                expected: "strings (<U.. or |S..) or an integer type".into(),
                found: a.dtype.clone(),
            });
        }
    };
    let of = |p: Part| -> Vec<usize> { (0..n).filter(|&i| parts[i] == p).collect() };
    let validation = Some(of(Part::Validation)).filter(|v| !v.is_empty());
    let split = Split {
        train: of(Part::Train),
        validation,
        test: of(Part::Test),
    };
    for (list, name) in [(&split.train, "train"), (&split.test, "test")] {
        if list.is_empty() {
            return Err(ImportError::Split {
                location: a.location.clone(),
                message: format!("no image is labelled {name} (valid labels: {LABELS})"),
            });
        }
    }
    Ok(split)
}

/// A split from a test mask: true = test, false = train.
fn from_mask(a: &Loaded, n: usize) -> Result<Split, ImportError> {
    per_image(a, n, "flag")?;
    let Values::Bool(mask) = &a.values else {
        return Err(ImportError::Dtype {
            location: a.location.clone(),
            expected: "bool".into(),
            found: a.dtype.clone(),
        });
    };
    let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| mask[i]);
    for (list, value) in [(&train, "false (train)"), (&test, "true (test)")] {
        if list.is_empty() {
            return Err(ImportError::Split {
                location: a.location.clone(),
                message: format!("no image is {value}"),
            });
        }
    }
    Ok(Split {
        train,
        validation: None,
        test,
    })
}

fn index_array(c: &mut Container, name: &str, n: usize) -> Result<Option<Vec<usize>>, ImportError> {
    let Some(a) = c.read(name, &[Kind::Int])? else {
        return Ok(None);
    };
    if a.shape.len() != 1 {
        return Err(ImportError::Shape {
            location: a.location.clone(),
            expected: "[count] (a 1-D list of image indices)".into(),
            found: a.shape.clone(),
        });
    }
    let Values::Int(v) = &a.values else {
        return Err(ImportError::Dtype {
            location: a.location.clone(),
            expected: "an integer type".into(),
            found: a.dtype.clone(),
        });
    };
    // MATLAB counts from 1: a .mat file's index k is image k - 1.
    let base = i64::from(c.one_based());
    let range = if base == 1 {
        format!("1 to {n}, as MATLAB counts from 1")
    } else {
        format!("0..{n}")
    };
    v.iter()
        .map(|&i| {
            i.checked_sub(base)
                .and_then(|u| usize::try_from(u).ok())
                .filter(|&u| u < n)
                .ok_or_else(|| ImportError::Split {
                    location: a.location.clone(),
                    message: format!(
                        "index {i} is not an image index (there are {n} images: {range})"
                    ),
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Test images chosen with the seed: `test_fraction` of them, at least one, leaving one to train.
pub fn seeded_split(n: usize, cfg: &ImportConfig, location: &str) -> Result<Split, ImportError> {
    if n < 2 {
        return Err(ImportError::Split {
            location: location.to_owned(),
            message: format!("{n} image(s): at least 2 are needed to hold out a test set"),
        });
    }
    let n_test = ((cfg.test_fraction * n as f64).round() as usize).clamp(1, n - 1);
    let perm = Stream::new(cfg.seed, "import/test", 0).permutation(n);
    let mut test: Vec<usize> = perm[..n_test].to_vec();
    let mut train: Vec<usize> = perm[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Ok(Split {
        train,
        validation: None,
        test,
    })
}
