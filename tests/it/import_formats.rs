//! `import` of MATLAB and HDF5 files on the real binary (issue 16, items 3 and 6): one
//! recording written by tests/fixtures/import_formats.py as a folder of `.npy` files, MATLAB
//! v5 (plain and compressed), MATLAB v7.3 and HDF5 gives the same raw dataset byte for byte
//! from each, `names:` maps variables called otherwise, a `.mat` file's 1-based indices are
//! converted (index 0 is an error), and a corrupt file is an error, not a panic.
//!
//! The fixtures need scipy and h5py in the project's Python environment
//! (scripts/setup-import-fixtures); without them each test prints "SKIPPED: ..." and returns,
//! unless `SAPIPE_REQUIRE_IMPORT_FIXTURES=1` (scripts/test sets it), where it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Project;

const P: &str = "pipelines/formats.yaml";

/// The project's Python with scipy and h5py, if installed.
fn python(test: &str) -> Option<PathBuf> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join(".torch-env/bin/python3");
    let ok = Command::new(&py)
        .args(["-c", "import scipy.io, h5py"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var("SAPIPE_REQUIRE_IMPORT_FIXTURES").as_deref() != Ok("1"),
        "{test}: SAPIPE_REQUIRE_IMPORT_FIXTURES=1 but scipy/h5py are not installed \
         (scripts/setup-import-fixtures)"
    );
    sapipe::testing::skip(
        test,
        "no scipy/h5py (install them with scripts/setup-import-fixtures)",
    );
    None
}

/// A project whose `data/` holds the fixtures, with a pipeline of one import stage per
/// `(stage, with)`.
fn project(test: &str, stages: &[(&str, &str)]) -> Option<Project> {
    let py = python(test)?;
    let p = Project::new();
    std::fs::create_dir_all(p.path("data")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import_formats.py");
    let out = Command::new(py).arg(script).arg(p.path("data")).output();
    let out = out.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "import_formats.py failed: {stderr}");
    let mut yaml = String::from("name: formats\nstages:\n");
    for (stage, with) in stages {
        yaml.push_str(&format!(
            "  {stage}: {{ uses: import, with: {{ seed: 1, {with} }} }}\n"
        ));
    }
    p.write(P, &yaml);
    Some(p)
}

/// The files of stage `stage`'s `data` output, name and bytes, sorted.
fn dataset(p: &Project, stage: &str) -> Vec<(String, Vec<u8>)> {
    output_files(p, stage, "data")
}

/// The files of stage `stage`'s `output` directory, name and bytes, sorted.
fn output_files(p: &Project, stage: &str, output: &str) -> Vec<(String, Vec<u8>)> {
    let show = p.ok(&["show", P, stage, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let dir = PathBuf::from(v[0]["files"][output].as_str().unwrap());
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_format_gives_the_dataset_of_the_npy_folder() {
    let mut stages = vec![
        ("npy", "source: data/npy"),
        ("v5", "source: data/rec_v5.mat"),
        ("v5z", "source: data/rec_v5z.mat"),
        (
            "named",
            "source: data/named.mat, names: { images: stim, responses: resp, test_repeats: reps, \
             train: train_idx, test: test_idx }",
        ),
    ];
    if cfg!(feature = "hdf5") {
        stages.push(("v73", "source: data/rec_v73.mat"));
        stages.push(("h5", "source: data/rec.h5"));
    }
    let Some(p) = project("every_format_gives_the_dataset_of_the_npy_folder", &stages) else {
        return;
    };
    p.ok(&["run", P]);
    let reference = dataset(&p, "npy");
    let names: Vec<&str> = reference.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "images.npy",
            "meta.json",
            "responses.npy",
            "split.json",
            "test_repeats.npy"
        ]
    );
    for (stage, _) in &stages[1..] {
        assert!(
            dataset(&p, stage) == reference,
            "stage {stage} differs from the .npy folder's dataset"
        );
    }
    // And the prepared datasets: preprocessing each import gives the .npy folder's (a key
    // depends on its inputs' content, so identical imports share one preprocessing result).
    let mut yaml = std::fs::read_to_string(p.path(P)).unwrap();
    for (stage, _) in &stages {
        yaml.push_str(&format!(
            "  prep_{stage}: {{ uses: preprocess, needs: [{stage}], with: {{ size: 8 }} }}\n"
        ));
    }
    p.write(P, &yaml);
    p.ok(&["run", P]);
    let prepared = output_files(&p, "prep_npy", "prepared");
    assert!(
        prepared.iter().any(|(n, _)| n == "train_images.npy"),
        "{:?}",
        prepared.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for (stage, _) in &stages[1..] {
        assert!(
            output_files(&p, &format!("prep_{stage}"), "prepared") == prepared,
            "the dataset prepared from stage {stage} differs from the .npy folder's"
        );
    }
    let out = p.ok(&["show", P, "v5"]).stdout;
    assert!(
        out.contains(
            "array_images = \"rec_v5.mat: variable 'images': shape [6, 3, 4], dtype uint8\""
        ),
        "{out}"
    );
    assert!(
        out.contains("array_test = \"rec_v5.mat: variable 'test': shape [2], dtype int64\""),
        "{out}"
    );
    let out = p.ok(&["show", P, "named"]).stdout;
    assert!(
        out.contains("array_images = \"named.mat: variable 'stim': shape [6, 3, 4], dtype uint8\""),
        "{out}"
    );
}

#[test]
fn split_labels_and_test_masks_in_every_format() {
    let mut stages = vec![
        ("labels", "source: data/labels_npy"),
        ("chars", "source: data/labels_char.mat"),
        ("cells", "source: data/labels_cell.mat"),
        ("mask", "source: data/mask_npy"),
        ("mask_mat", "source: data/mask.mat"),
    ];
    if cfg!(feature = "hdf5") {
        stages.push(("labels_h5", "source: data/labels.h5"));
        stages.push(("mask_h5", "source: data/mask.h5"));
    }
    let Some(p) = project("split_labels_and_test_masks_in_every_format", &stages) else {
        return;
    };
    p.ok(&["run", P]);
    let (labels, mask) = (dataset(&p, "labels"), dataset(&p, "mask"));
    assert_ne!(labels, mask);
    for (stage, _) in &stages {
        let reference = if stage.starts_with("mask") {
            &mask
        } else {
            &labels
        };
        assert!(
            dataset(&p, stage) == *reference,
            "stage {stage} differs from the .npy folder's dataset"
        );
    }
}

#[test]
fn names_index_zero_and_corrupt_files_are_errors_that_say_what_is_wrong() {
    let Some(p) = project(
        "names_index_zero_and_corrupt_files_are_errors_that_say_what_is_wrong",
        &[],
    ) else {
        return;
    };
    let run = |with: &str| {
        p.write(
            P,
            &format!(
                "name: formats\nstages:\n  raw: {{ uses: import, with: {{ seed: 1, {with} }} }}\n"
            ),
        );
        let r = p.sapipe(&["run", P]);
        assert_eq!(r.code, 1, "{with}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
        r
    };
    // A mapped variable the file does not have.
    run("source: data/named.mat, names: { images: stimulus }").failed_with(
        "named.mat: `names` maps images to 'stimulus', which the source does not have; found: \
         reps, resp, stim, test_idx, train_idx",
    );
    run("source: data/named.mat, names: { pictures: stim }")
        .failed_with("`names` maps 'pictures', which is not an array the importer reads; accepted: images, responses,");
    // Unmapped variables are unknown, listed with what is accepted.
    run("source: data/named.mat").failed_with(
        "named.mat: unknown variables reps, resp, stim, test_idx, train_idx; found: reps, resp, \
         stim, test_idx, train_idx; accepted: images, responses,",
    );
    // MATLAB's indices count from 1.
    run("source: data/zero_index.mat").failed_with(
        "zero_index.mat: variable 'test': index 0 is not an image index (there are 6 images: 1 to 6, as MATLAB counts from 1)",
    );
    // Truncated and garbage files.
    let whole = std::fs::read(p.path("data/rec_v5.mat")).unwrap();
    std::fs::write(p.path("data/cut.mat"), &whole[..whole.len() / 2]).unwrap();
    run("source: data/cut.mat").failed_with("cut.mat: truncated");
    std::fs::write(p.path("data/junk.mat"), vec![0x5a; 700]).unwrap();
    run("source: data/junk.mat").failed_with("junk.mat: not a MATLAB .mat file");
    std::fs::write(p.path("data/junk.h5"), vec![0x5a; 700]).unwrap();
    let expected = if cfg!(feature = "hdf5") {
        "junk.h5: not a readable HDF5 file"
    } else {
        "junk.h5: this sapipe was built without HDF5 support"
    };
    run("source: data/junk.h5").failed_with(expected);
    let v73 = std::fs::read(p.path("data/rec_v73.mat")).unwrap();
    std::fs::write(p.path("data/cut73.mat"), &v73[..v73.len() / 2]).unwrap();
    run("source: data/cut73.mat").failed_with("cut73.mat");
}
