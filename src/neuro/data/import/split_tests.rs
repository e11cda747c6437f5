//! Import: each split convention (labels as unicode, bytes or integers; a test mask; index
//! arrays; split.json) gives the split it states, and each malformed or conflicting one is an
//! error naming the array, the label or length, and what is valid. Also the string and bool
//! dtypes' reading, including headers that must not be trusted.

use super::tests::{cfg, error, raw_npy, utf32, valid_dir};
use super::*;
use crate::neuro::data::fixtures::npy;

fn write(dir: &Path, file: &str, bytes: &[u8]) {
    std::fs::write(dir.join(file), bytes).unwrap();
}

fn split_of(dir: &Path) -> (Split, String) {
    let done = import_reported(dir, &cfg(), &[]).unwrap();
    assert_eq!(done.raw.meta.seed, None, "an explicit split uses no seed");
    (done.raw.split, done.report.split.to_string())
}

#[test]
fn unicode_labels_give_their_split_and_val_means_validation() {
    let dir = valid_dir(6);
    let labels = ["train", "test", "val", "train", "validation", "test"];
    write(
        dir.path(),
        "split.npy",
        &raw_npy("<U10", "(6,)", &utf32(&labels, 10)),
    );
    let (split, source) = split_of(dir.path());
    assert_eq!(
        split,
        Split {
            train: vec![0, 3],
            validation: Some(vec![2, 4]),
            test: vec![1, 5],
        }
    );
    assert_eq!(source, "split.npy (labels)");
    // Big-endian strings read the same.
    let be: Vec<u8> = utf32(&labels, 10)
        .chunks(4)
        .flat_map(|c| [c[3], c[2], c[1], c[0]])
        .collect();
    write(dir.path(), "split.npy", &raw_npy(">U10", "(6,)", &be));
    assert_eq!(split_of(dir.path()).0, split);
}

#[test]
fn byte_labels_in_an_npz_and_integer_labels_give_their_split() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.npz");
    let mut zip = npyz::zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let labels = b"traintest\0traintrain";
    for (name, bytes) in [
        ("images.npy", raw_npy("|u1", "(4, 1, 1)", &[0, 1, 2, 3])),
        ("responses.npy", raw_npy("<f4", "(4, 1)", &[0; 16])),
        ("split.npy", raw_npy("|S5", "(4,)", labels)),
    ] {
        zip.start_file(name, npyz::zip::write::FileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, &bytes).unwrap();
    }
    zip.finish().unwrap();
    let (split, source) = split_of(&path);
    assert_eq!(
        (split.train, split.validation, split.test),
        (vec![0, 2, 3], None, vec![1])
    );
    assert_eq!(source, "rec.npz: array 'split' (labels)");

    let dir = valid_dir(5);
    npy(dir.path(), "split", &[5], &[0u8, 2, 1, 0, 2]);
    let (split, source) = split_of(dir.path());
    assert_eq!(
        (split.train, split.validation, split.test),
        (vec![0, 3], Some(vec![2]), vec![1, 4])
    );
    assert_eq!(
        source,
        "split.npy (labels 0 = train, 1 = validation, 2 = test)"
    );
}

#[test]
fn a_test_mask_gives_test_and_train_and_leaves_validation_to_preprocess() {
    let dir = valid_dir(4);
    write(
        dir.path(),
        "is_test.npy",
        &raw_npy("|b1", "(4,)", &[0, 1, 0, 1]),
    );
    let (split, source) = split_of(dir.path());
    assert_eq!(
        (split.train, split.validation, split.test),
        (vec![0, 2], None, vec![1, 3])
    );
    assert_eq!(source, "is_test.npy (is_test: true = test, false = train)");
    // A byte that is not 0 or 1 is not a bool.
    write(
        dir.path(),
        "is_test.npy",
        &raw_npy("|b1", "(4,)", &[0, 7, 0, 1]),
    );
    let e = error(dir.path());
    assert!(
        e.contains("is_test.npy: cannot read: invalid value for bool: 7"),
        "{e}"
    );
    write(dir.path(), "is_test.npy", &raw_npy("|b1", "(4,)", &[0; 4]));
    let e = error(dir.path());
    assert!(e.contains("is_test.npy: no image is true (test)"), "{e}");
}

#[test]
fn index_arrays_and_split_json_still_give_their_split_and_say_so() {
    let dir = valid_dir(4);
    npy(dir.path(), "train", &[2], &[0i32, 1]);
    npy(dir.path(), "test", &[2], &[2i32, 3]);
    let (split, source) = split_of(dir.path());
    assert_eq!(split.test, vec![2, 3]);
    assert_eq!(
        source,
        "train/validation/test index arrays (train.npy, test.npy)"
    );
    let dir = valid_dir(4);
    write(
        dir.path(),
        "split.json",
        br#"{"train": [0, 1], "validation": [2], "test": [3]}"#,
    );
    let (split, source) = split_of(dir.path());
    assert_eq!(split.validation, Some(vec![2]));
    assert_eq!(source, "split.json");
}

#[test]
fn an_unknown_label_is_named_with_its_first_image_and_the_valid_labels() {
    let dir = valid_dir(5);
    let labels = ["train", "test", "tst", "train", "tst"];
    write(
        dir.path(),
        "split.npy",
        &raw_npy("<U5", "(5,)", &utf32(&labels, 5)),
    );
    let e = error(dir.path());
    assert!(
        e.contains(
            "split.npy: label 'tst' (first at image 2) is not a split label; valid: train, \
             validation (or val), test"
        ),
        "{e}"
    );
    npy(dir.path(), "split", &[5], &[0i64, 2, 0, 3, 3]);
    let e = error(dir.path());
    assert!(
        e.contains(
            "split.npy: label 3 (first at image 3) is not a split label; valid: 0 (train), 1 \
             (validation), 2 (test)"
        ),
        "{e}"
    );
    npy(dir.path(), "split", &[5], &[0i64, 0, 1, 0, 0]);
    let e = error(dir.path());
    assert!(e.contains("split.npy: no image is labelled test"), "{e}");
}

#[test]
fn labels_of_the_wrong_length_or_dtype_are_refused() {
    let dir = valid_dir(4);
    npy(dir.path(), "split", &[3], &[0i32, 2, 0]);
    let e = error(dir.path());
    assert!(
        e.contains(
            "split.npy: expected shape [N=4] (one label per image; N from images), found [3]"
        ),
        "{e}"
    );
    npy(dir.path(), "split", &[4], &[0f32, 2.0, 0.0, 0.0]);
    let e = error(dir.path());
    assert!(
        e.contains(
            "split.npy: dtype <f4 is not supported; expected strings (<U.. or |S..) or an \
             integer type"
        ),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("split.npy")).unwrap();
    npy(dir.path(), "is_test", &[4], &[0u8, 1, 0, 1]);
    let e = error(dir.path());
    assert!(
        e.contains("is_test.npy: dtype |u1 is not supported; expected bool"),
        "{e}"
    );
}

#[test]
fn two_split_sources_at_once_are_a_conflict_naming_both() {
    let dir = valid_dir(4);
    npy(dir.path(), "split", &[4], &[0i32, 2, 0, 2]);
    npy(dir.path(), "train", &[2], &[0i32, 2]);
    let e = error(dir.path());
    let folder = dir.path().display().to_string();
    assert!(
        e.starts_with(&format!(
            "{folder}: conflicting split sources: split.npy (labels) and train.npy (index \
             arrays); keep one"
        )),
        "{e}"
    );
    // Ignoring one resolves it.
    let done = import_reported(dir.path(), &cfg(), &["train".to_string()]).unwrap();
    assert_eq!(done.raw.split.test, vec![1, 3]);
    let dir = valid_dir(4);
    write(
        dir.path(),
        "is_test.npy",
        &raw_npy("|b1", "(4,)", &[0, 1, 0, 1]),
    );
    write(
        dir.path(),
        "split.json",
        br#"{"train": [0], "validation": null, "test": [1]}"#,
    );
    let e = error(dir.path());
    assert!(
        e.contains("conflicting split sources: is_test.npy (test mask) and split.json"),
        "{e}"
    );
}

#[test]
fn labels_order_test_repeats_by_image() {
    let dir = valid_dir(4);
    write(
        dir.path(),
        "is_test.npy",
        &raw_npy("|b1", "(4,)", &[0, 1, 0, 1]),
    );
    // Row 0 belongs to image 1, row 1 to image 3.
    let rep: Vec<f32> = (0..6).map(|v| v as f32).collect();
    npy(dir.path(), "test_repeats", &[1, 2, 3], &rep);
    let raw = import(dir.path(), &cfg()).unwrap();
    assert_eq!(&raw.responses.data[3..6], &[0.0, 1.0, 2.0]);
    assert_eq!(&raw.responses.data[9..12], &[3.0, 4.0, 5.0]);
}

#[test]
fn string_headers_are_checked_before_anything_is_allocated() {
    let dir = valid_dir(4);
    // An item size that overflows must not pass as one byte.
    write(
        dir.path(),
        "split.npy",
        &raw_npy("<U4611686018427387904", "(4,)", &[0; 16]),
    );
    let e = error(dir.path());
    assert!(e.contains("split.npy: cannot read: "), "{e}");
    // A large item size needs its bytes.
    write(
        dir.path(),
        "split.npy",
        &raw_npy("<U1000000", "(4,)", &[0; 16]),
    );
    let e = error(dir.path());
    assert!(e.contains("but the file holds only"), "{e}");
    // Strings of no characters are not labels.
    write(dir.path(), "split.npy", &raw_npy("<U0", "(4,)", &[]));
    let e = error(dir.path());
    assert!(e.contains("split.npy: dtype <U0 is not supported"), "{e}");
    // Truncated data is a read error, not a panic.
    write(dir.path(), "split.npy", &raw_npy("|S5", "(4,)", b"train"));
    let e = error(dir.path());
    assert!(e.contains("split.npy: cannot read:"), "{e}");
}
