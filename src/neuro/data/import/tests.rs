//! Import: valid layouts in both containers, one test per malformed input checking that its
//! message names the file, the array and what was expected and found, unknown files and
//! `ignore`, and the import report. Split conventions are in `split_tests.rs`.

use npyz::WriterBuilder;

use super::*;
use crate::neuro::data::fixtures::npy;

pub(super) fn cfg() -> ImportConfig {
    ImportConfig {
        test_fraction: 0.25,
        seed: 1,
    }
}

/// A valid folder: `n` uint8 images of 31 x 31, 3 neurons, float64 responses.
pub(super) fn valid_dir(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..n * 31 * 31).map(|i| (i * 7 % 256) as u8).collect();
    npy(dir.path(), "images", &[n as u64, 31, 31], &pixels);
    let responses: Vec<f64> = (0..n * 3).map(|i| (i % 11) as f64 * 0.1).collect();
    npy(dir.path(), "responses", &[n as u64, 3], &responses);
    dir
}

pub(super) fn error(dir: &Path) -> String {
    import(dir, &cfg()).unwrap_err().to_string()
}

#[test]
fn a_valid_uint8_folder_imports_with_a_seeded_split() {
    let dir = valid_dir(8);
    let raw = import(dir.path(), &cfg()).unwrap();
    assert_eq!(raw.images.shape, vec![8, 31, 31]);
    assert_eq!(raw.images.data[1], 7.0 / 255.0);
    assert_eq!(raw.split.test.len(), 2);
    assert_eq!(raw.split.train.len(), 6);
    assert_eq!(raw.split.validation, None);
    assert_eq!(raw.meta.seed, Some(1));
    assert_eq!(raw.split, import(dir.path(), &cfg()).unwrap().split);
    let out = tempfile::tempdir().unwrap();
    raw.write(out.path()).unwrap();
}

#[test]
fn an_npz_with_channels_explicit_split_and_repeats_imports() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.npz");
    let mut npz = npyz::npz::NpzWriter::create(&path).unwrap();
    let opts = npyz::zip::write::FileOptions::default;
    let put_f32 = |npz: &mut npyz::npz::NpzWriter<_>, name: &str, shape: &[u64], v: Vec<f32>| {
        let mut w = npz
            .array::<f32>(name, opts())
            .unwrap()
            .default_dtype()
            .shape(shape)
            .begin_nd()
            .unwrap();
        w.extend(v).unwrap();
        w.finish().unwrap();
    };
    put_f32(
        &mut npz,
        "images",
        &[5, 1, 4, 6],
        (0..120).map(|v| v as f32).collect(),
    );
    let mut resp: Vec<f32> = (0..10).map(|v| v as f32).collect();
    resp[8] = f32::NAN; // image 4 is a test image with repeats
    put_f32(&mut npz, "responses", &[5, 2], resp);
    put_f32(
        &mut npz,
        "test_repeats",
        &[2, 2, 2],
        vec![1.0, 2.0, 3.0, f32::NAN, 5.0, 6.0, 7.0, 8.0],
    );
    for (name, idx) in [("train", vec![0i64, 1, 2]), ("test", vec![3, 4])] {
        let mut w = npz
            .array::<i64>(name, opts())
            .unwrap()
            .default_dtype()
            .shape(&[idx.len() as u64])
            .begin_nd()
            .unwrap();
        w.extend(idx).unwrap();
        w.finish().unwrap();
    }
    drop(npz);
    let raw = import(&path, &cfg()).unwrap();
    assert_eq!(raw.images.shape, vec![5, 4, 6]);
    assert_eq!(raw.split.test, vec![3, 4]);
    assert_eq!(raw.meta.repeats, Some(2));
    assert_eq!(raw.meta.seed, None);
    // NaN-means of the repeats replace the test rows (image 4, neuron 1 has one trial).
    assert_eq!(&raw.responses.data[6..10], &[3.0, 4.0, 5.0, 8.0]);
}

#[test]
fn wrong_rank_names_the_array_and_the_shapes() {
    let dir = valid_dir(4);
    npy(
        dir.path(),
        "images",
        &[4, 31, 31, 3],
        &vec![0u8; 4 * 31 * 31 * 3],
    );
    let e = error(dir.path());
    assert!(
        e.contains("images.npy: expected shape [N, H, W], [N, H, W, 1] or [N, 1, H, W]"),
        "{e}"
    );
    assert!(e.contains("found [4, 31, 31, 3]"), "{e}");
}

#[test]
fn mismatched_image_counts_are_named() {
    let dir = valid_dir(4);
    npy(dir.path(), "responses", &[5, 3], &[0f64; 15]);
    let e = error(dir.path());
    assert!(
        e.contains("responses.npy: expected shape [N=4, neurons] (N from images), found [5, 3]"),
        "{e}"
    );
}

#[test]
fn unsupported_dtypes_are_named() {
    let dir = valid_dir(4);
    npy(dir.path(), "images", &[4, 31, 31], &vec![0i16; 4 * 31 * 31]);
    let e = error(dir.path());
    assert!(
        e.contains("images.npy: dtype <i2 is not supported; expected uint8, float32 or float64"),
        "{e}"
    );
    let dir = valid_dir(4);
    npy(dir.path(), "responses", &[4, 3], &[0u8; 12]);
    let e = error(dir.path());
    assert!(
        e.contains("responses.npy: dtype |u1 is not supported; expected float32 or float64"),
        "{e}"
    );
}

#[test]
fn nan_responses_are_missing_entries_and_infinity_is_rejected() {
    let dir = valid_dir(4);
    let mut r = vec![0.5f64; 12];
    r[7] = f64::NAN;
    r[8] = f64::NAN;
    r[11] = f64::NAN;
    npy(dir.path(), "responses", &[4, 3], &r);
    let imported = import_reported(dir.path(), &cfg(), &[]).unwrap();
    let missing: Vec<usize> = imported.report.neurons.iter().map(|s| s.missing).collect();
    assert_eq!(missing, vec![0, 1, 2]);
    assert!(imported.raw.responses.data[7].is_nan());
    let m = imported.report.metrics();
    assert_eq!(m["neuron_2_responses"]["missing"], 2);
    r[7] = f64::NEG_INFINITY;
    npy(dir.path(), "responses", &[4, 3], &r);
    let e = error(dir.path());
    assert!(
        e.contains("responses.npy: -inf at image 2, neuron 1; responses must be finite, or NaN for a missing entry"),
        "{e}"
    );
    // A test image whose every repeat is NaN for a neuron is a missing entry.
    let dir = valid_dir(4);
    std::fs::write(
        dir.path().join("split.json"),
        r#"{"train": [0, 1, 2], "validation": null, "test": [3]}"#,
    )
    .unwrap();
    npy(
        dir.path(),
        "test_repeats",
        &[2, 1, 3],
        &[1.0f32, f32::NAN, 1.0, 2.0, f32::NAN, 2.0],
    );
    let imported = import_reported(dir.path(), &cfg(), &[]).unwrap();
    assert!(imported.raw.responses.data[3 * 3 + 1].is_nan());
    assert_eq!(imported.raw.responses.data[3 * 3], 1.5);
    assert_eq!(imported.report.neurons[1].missing, 1);
    // Infinity is never a missing trial.
    npy(
        dir.path(),
        "test_repeats",
        &[1, 1, 3],
        &[1.0f32, f32::INFINITY, 1.0],
    );
    let e = error(dir.path());
    assert!(
        e.contains("infinite value at repeat 0, test image 0, neuron 1"),
        "{e}"
    );
}

#[test]
fn missing_files_are_named_with_what_is_there() {
    let dir = valid_dir(4);
    std::fs::remove_file(dir.path().join("responses.npy")).unwrap();
    let e = error(dir.path());
    assert!(
        e.contains("responses.npy: not found (arrays present: images)"),
        "{e}"
    );
    let e = error(&dir.path().join("absent.npz"));
    assert!(e.contains("absent.npz: not found"), "{e}");
}

#[test]
fn bad_splits_and_unaligned_repeats_are_named() {
    let dir = valid_dir(4);
    std::fs::write(
        dir.path().join("split.json"),
        r#"{"train": [0, 1], "validation": null, "test": [1, 9]}"#,
    )
    .unwrap();
    let e = error(dir.path());
    assert!(
        e.contains("split.json: image 1 is listed in both train and test"),
        "{e}"
    );
    let dir = valid_dir(4);
    npy(dir.path(), "test_repeats", &[2, 1, 3], &[0f32; 6]);
    let e = error(dir.path());
    assert!(
        e.contains("test_repeats.npy: test repeats need an explicit split"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("split.json"),
        r#"{"train": [0, 1], "validation": null, "test": [2, 3]}"#,
    )
    .unwrap();
    let e = error(dir.path());
    assert!(
        e.contains("test_repeats.npy: expected shape [repeats, N_test=2, neurons=3]"),
        "{e}"
    );
    let dir = valid_dir(4);
    npy(dir.path(), "test", &[2], &[3i32, -1]);
    let e = error(dir.path());
    assert!(
        e.contains("test.npy: index -1 is not an image index"),
        "{e}"
    );
}

#[test]
fn split_arrays_are_named_by_their_folder_and_a_repeat_within_a_list_is_said_so() {
    let dir = valid_dir(4);
    npy(dir.path(), "train", &[3], &[0i32, 1, 0]);
    npy(dir.path(), "test", &[1], &[3i32]);
    let e = error(dir.path());
    let folder = dir.path().display().to_string();
    assert!(
        e.contains(&format!(
            "{folder} (index arrays train, validation, test): image 0 is listed twice in train"
        )),
        "{e}"
    );
}

#[test]
fn responses_without_neurons_are_refused() {
    let dir = valid_dir(4);
    npy(dir.path(), "responses", &[4, 0], &[0f32; 0]);
    let e = error(dir.path());
    assert!(
        e.contains("responses.npy: expected shape [N=4, neurons] with at least one neuron"),
        "{e}"
    );
}

/// `.npy` bytes with header `descr` and `shape` (a Python tuple), then `data` as given: for
/// dtypes the fixtures cannot write, and for malformed files.
pub(super) fn raw_npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out.extend(data);
    out
}

/// NumPy's `<U{width}` encoding of `labels`.
pub(super) fn utf32(labels: &[&str], width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for l in labels {
        let points: Vec<u32> = l.chars().map(u32::from).collect();
        for i in 0..width {
            out.extend(points.get(i).copied().unwrap_or(0).to_le_bytes());
        }
    }
    out
}

fn write(dir: &Path, file: &str, bytes: &[u8]) {
    std::fs::write(dir.join(file), bytes).unwrap();
}

#[test]
fn unknown_files_are_errors_that_list_what_is_there_and_what_is_accepted() {
    let dir = valid_dir(4);
    write(dir.path(), "notes.txt", b"recorded on a Tuesday");
    let e = error(dir.path());
    let folder = dir.path().display().to_string();
    assert!(
        e.starts_with(&format!(
            "{folder}: unknown file notes.txt; found: images.npy, notes.txt, responses.npy; \
             accepted: images.npy, responses.npy, test_repeats.npy,"
        )),
        "{e}"
    );
    assert!(e.ends_with("(e.g. ignore: [notes.txt])"), "{e}");
    // A misspelt array is unknown too, with the name it was probably meant to be.
    std::fs::remove_file(dir.path().join("notes.txt")).unwrap();
    npy(dir.path(), "tests", &[1], &[3i32]);
    let e = error(dir.path());
    assert!(
        e.contains("unknown file tests.npy (did you mean 'test.npy'?)"),
        "{e}"
    );
}

#[test]
fn ignore_skips_files_and_arrays_and_must_name_something() {
    let dir = valid_dir(4);
    write(dir.path(), "notes.txt", b"x");
    npy(dir.path(), "extra", &[2], &[1f32, 2.0]);
    write(dir.path(), ".DS_Store", b"finder");
    let ignore = |names: &[&str]| -> Vec<String> { names.iter().map(|s| s.to_string()).collect() };
    let done = import_reported(dir.path(), &cfg(), &ignore(&["notes", "extra.npy"])).unwrap();
    let skipped: Vec<String> = done.report.skipped.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        skipped,
        [
            ".DS_Store (hidden)",
            "extra.npy (ignore)",
            "notes.txt (ignore)"
        ]
    );
    let read: Vec<&str> = done
        .report
        .arrays
        .iter()
        .map(|a| a.array.as_str())
        .collect();
    assert_eq!(read, ["images", "responses"]);
    let e = import_reported(dir.path(), &cfg(), &ignore(&["notes", "extra", "nope"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with(
            "`ignore` entry 'nope' names no file; found: .DS_Store, extra.npy, images.npy, \
             notes.txt, responses.npy"
        ),
        "{e}"
    );
    // Ignoring an accepted optional array means it is not used.
    npy(dir.path(), "test_repeats", &[2, 1, 3], &[0f32; 6]);
    let done = import_reported(
        dir.path(),
        &cfg(),
        &ignore(&["notes", "extra", "test_repeats"]),
    )
    .unwrap();
    assert_eq!(done.raw.test_repeats, None);
}

#[test]
fn an_npz_with_an_unknown_array_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.npz");
    let mut zip = npyz::zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in [
        ("images.npy", raw_npy("|u1", "(2, 1, 1)", &[0, 1])),
        ("responses.npy", raw_npy("<f4", "(2, 1)", &[0; 8])),
        ("arr_0.npy", raw_npy("<f4", "(1,)", &[0; 4])),
    ] {
        zip.start_file(name, npyz::zip::write::FileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, &bytes).unwrap();
    }
    zip.finish().unwrap();
    let e = error(&path);
    assert!(
        e.contains(
            "rec.npz: unknown array arr_0; found: arr_0, images, responses; accepted: \
                    images, responses,"
        ),
        "{e}"
    );
    let done = import_reported(&path, &cfg(), &["arr_0".to_string()]).unwrap();
    assert_eq!(done.report.skipped[0].to_string(), "arr_0 (ignore)");
    assert_eq!(
        done.report.arrays[0].to_string(),
        "rec.npz, array images: shape [2, 1, 1], dtype |u1"
    );
}

#[test]
fn the_report_says_what_was_read_and_where_the_split_came_from() {
    let dir = valid_dir(8);
    let done = import_reported(dir.path(), &cfg(), &[]).unwrap();
    let r = &done.report;
    assert_eq!(
        r.arrays.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        [
            "images.npy: shape [8, 31, 31], dtype |u1",
            "responses.npy: shape [8, 3], dtype <f8"
        ]
    );
    assert_eq!(r.split.to_string(), "random test_fraction 0.25 with seed 1");
    assert_eq!(r.neurons.len(), 3);
    // Neuron 0 sees (i * 3 % 11) / 10 for images 0..8: 0, .3, .6, .9, .1, .4, .7, 1.0.
    assert!((r.neurons[0].mean - 0.5).abs() < 1e-6, "{:?}", r.neurons[0]);
    assert_eq!((r.neurons[0].min, r.neurons[0].max), (0.0, 1.0));
    let m = r.metrics();
    assert_eq!(m["split_source"], "random test_fraction 0.25 with seed 1");
    assert!(m.contains_key("neuron_2_responses") && !m.contains_key("skipped"));
}

#[test]
fn a_non_finite_pixel_names_the_file_and_the_image() {
    let dir = valid_dir(4);
    let mut pixels = vec![0.25f32; 4 * 31 * 31];
    pixels[2 * 31 * 31 + 31 + 5] = f32::NAN;
    npy(dir.path(), "images", &[4, 31, 31], &pixels);
    let e = error(dir.path());
    assert!(
        e.contains("images.npy: NaN pixel in image 2 (row 1, column 5); images must be finite"),
        "{e}"
    );
}

/// An `.npz` of `images` and `responses`, stored uncompressed; `patch` edits its bytes.
fn stored_npz(patch: impl Fn(&mut Vec<u8>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.npz");
    let mut zip = npyz::zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored = npyz::zip::write::FileOptions::default()
        .compression_method(npyz::zip::CompressionMethod::Stored);
    for (name, bytes) in [
        ("images.npy", raw_npy("|u1", "(2, 1, 1)", &[0xab, 0xcd])),
        ("responses.npy", raw_npy("<f4", "(2, 1)", &[0; 8])),
    ] {
        zip.start_file(name, stored).unwrap();
        std::io::Write::write_all(&mut zip, &bytes).unwrap();
    }
    zip.finish().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    patch(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
    dir
}

/// Issue 30, case 9: an `.npz` with a bad CRC was imported.
#[test]
fn case9_an_npz_entry_with_a_bad_crc_is_an_error() {
    let dir = stored_npz(|b| {
        let at = b.windows(2).position(|w| w == [0xab, 0xcd]).unwrap();
        b[at] ^= 1;
    });
    let e = error(&dir.path().join("rec.npz"));
    assert!(
        e.contains("array 'images'") && e.contains("corrupt") && e.contains("checksum"),
        "{e}"
    );
}

/// Issue 30, case 9: an entry the archive lists but cannot read said "images not found
/// (present: images, ...)".
#[test]
fn case9_an_unreadable_npz_entry_is_named_not_called_missing() {
    // Compression method 1 (shrink), which this reader does not support, in both headers of
    // images.npy.
    let dir = stored_npz(|b| {
        for (sig, at) in [(&b"PK\x03\x04"[..], 8), (&b"PK\x01\x02"[..], 10)] {
            let start = b.windows(4).position(|w| w == sig).unwrap();
            b[start + at] = 1;
        }
    });
    let e = error(&dir.path().join("rec.npz"));
    assert!(
        e.contains("array 'images'") && e.contains("cannot be read") && !e.contains("not found"),
        "{e}"
    );
}
