//! The `import` stage on the real binary (issue 16, lab data in): a split given as per-image
//! labels is the split used, a file the importer does not know is an error listing what it
//! found and what it accepts, `ignore:` skips it, `sapipe show` prints the import report, NaN
//! responses are missing entries that import, train (masked) and evaluate end to end, and a
//! NaN pixel is an error naming the image.

use crate::common::{Project, raw_npy};

const P: &str = "pipelines/lab.yaml";

const LABELS: [&str; 6] = ["train", "test", "val", "train", "train", "test"];

/// A project whose `data/` holds 6 images of 2 x 2 pixels, 2 neurons and split labels as NumPy
/// writes `np.array(LABELS)` (`<U5`), with a pipeline importing `data` (plus `with`).
fn lab(with: &str) -> Project {
    let p = Project::new();
    let put = |file: &str, bytes: Vec<u8>| {
        std::fs::create_dir_all(p.path("data")).unwrap();
        std::fs::write(p.path("data").join(file), bytes).unwrap();
    };
    put("images.npy", raw_npy("|u1", "(6, 2, 2)", &[7; 24]));
    let responses: Vec<u8> = (0..12u8).flat_map(|v| f32::from(v).to_le_bytes()).collect();
    put("responses.npy", raw_npy("<f4", "(6, 2)", &responses));
    let labels: Vec<u8> = LABELS
        .iter()
        .flat_map(|l| {
            let mut points: Vec<u32> = l.chars().map(u32::from).collect();
            points.resize(5, 0);
            points.into_iter().flat_map(u32::to_le_bytes)
        })
        .collect();
    put("split.npy", raw_npy("<U5", "(6,)", &labels));
    p.write(
        P,
        &format!("name: lab\nstages:\n  raw: {{ uses: import, with: {{ source: data{with} }} }}\n"),
    );
    p
}

#[test]
fn labels_give_the_split_and_show_prints_the_import_report() {
    let p = lab("");
    p.ok(&["run", P]);
    let show = p.ok(&["show", P, "raw", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let data = v[0]["files"]["data"].as_str().unwrap();
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{data}/split.json")).unwrap())
            .unwrap();
    let of =
        |label: &[&str]| -> Vec<usize> { (0..6).filter(|&i| label.contains(&LABELS[i])).collect() };
    assert_eq!(split["train"], serde_json::json!(of(&["train"])));
    assert_eq!(split["validation"], serde_json::json!(of(&["val"])));
    assert_eq!(split["test"], serde_json::json!(of(&["test"])));

    let out = p.ok(&["show", P, "raw"]).stdout;
    for line in [
        "metric  array_images = \"images.npy: shape [6, 2, 2], dtype |u1\"",
        "metric  array_responses = \"responses.npy: shape [6, 2], dtype <f4\"",
        "metric  array_split = \"split.npy: shape [6], dtype <U5\"",
        "metric  split_source = \"split.npy (labels)\"",
        // Neuron 1 responds 1, 3, 5, 7, 9, 11.
        "metric  neuron_1_responses = {\"max\":11.0,\"mean\":6.0,\"min\":1.0,\"missing\":0,\"nan\":0,\"sd\":3.416}",
        "metric  validation_images = 1",
    ] {
        assert!(out.contains(line), "expected {line:?} in:\n{out}");
    }
}

#[test]
fn an_unknown_file_is_an_error_until_ignore_names_it() {
    let p = lab("");
    p.write("data/notes.txt", "recorded on a Tuesday\n");
    let r = p.sapipe(&["run", P]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for says in [
        "stage 'raw': parameter 'source': ",
        "unknown file notes.txt; found: images.npy, notes.txt, responses.npy, split.npy; \
         accepted: images.npy, responses.npy, test_repeats.npy,",
        "(e.g. ignore: [notes.txt])",
    ] {
        assert!(
            r.stderr.contains(says),
            "expected {says:?} in:\n{}",
            r.stderr
        );
    }
    assert!(!r.stderr.contains("internal error"), "{}", r.stderr);

    let p = lab(", ignore: [notes]");
    p.write("data/notes.txt", "recorded on a Tuesday\n");
    p.ok(&["run", P]);
    let out = p.ok(&["show", P, "raw"]).stdout;
    assert!(
        out.contains("metric  skipped = \"notes.txt (ignore)\""),
        "{out}"
    );

    // An ignore entry that names nothing says what there is.
    let p = lab(", ignore: [notes.csv]");
    let r = p.sapipe(&["run", P]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "`ignore` entry 'notes.csv' names no file; found: images.npy, responses.npy, \
             split.npy"
        ),
        "{}",
        r.stderr
    );
}

/// A project whose `data/` holds 40 images of 8 x 8 pixels (`pixels`, float32) and 2 neurons,
/// neuron 1 not recorded (NaN) for every fourth image, with a pipeline that imports, prepares
/// 26-pixel images, trains one epoch and evaluates.
fn missing_lab(pixels: &[f32]) -> Project {
    let p = Project::new();
    std::fs::create_dir_all(p.path("data")).unwrap();
    let bytes: Vec<u8> = pixels.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(
        p.path("data/images.npy"),
        raw_npy("<f4", "(40, 8, 8)", &bytes),
    )
    .unwrap();
    let responses: Vec<u8> = (0..80)
        .map(|i| match (i / 2, i % 2) {
            (image, 1) if image % 4 == 0 => f32::NAN,
            (image, neuron) => pixels[image * 64 + 27 + neuron] * 2.0 + 0.1,
        })
        .flat_map(f32::to_le_bytes)
        .collect();
    std::fs::write(
        p.path("data/responses.npy"),
        raw_npy("<f4", "(40, 2)", &responses),
    )
    .unwrap();
    p.write(
        P,
        "name: lab\nseed: 3\ndevice: cpu\ndeterministic: true\nstages:\n  \
         raw: { uses: import, with: { source: data, test_fraction: 0.25 } }\n  \
         prep: { uses: preprocess, needs: [raw], with: { size: 26, validation: 0.25 } }\n  \
         fit: { uses: train, needs: [prep], with: { model: rf-cnn, channels: 4, epochs: 1, batch_size: 10 } }\n  \
         eval: { uses: evaluate, needs: [prep, fit] }\n",
    );
    p
}

fn pixels() -> Vec<f32> {
    (0..40 * 64)
        .map(|i| ((i * 37 % 101) as f32) / 101.0)
        .collect()
}

#[test]
#[cfg(feature = "torch")] // trains: needs the libtorch worker
fn nan_responses_import_train_and_evaluate_as_missing_entries() {
    let p = missing_lab(&pixels());
    p.ok(&["run", P]);
    let out = p.ok(&["show", P, "raw"]).stdout;
    for line in ["\"missing\":0,\"nan\":0", "\"missing\":10,\"nan\":10"] {
        assert!(out.contains(line), "expected {line:?} in:\n{out}");
    }
    let show = p.ok(&["show", P, "fit", "--json"]).stdout;
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    let curves = std::fs::read_to_string(v[0]["files"]["curves"].as_str().unwrap()).unwrap();
    assert!(
        !curves.contains("NaN") && !curves.contains("nan") && curves.lines().count() == 3,
        "{curves}"
    );
    let show = p.ok(&["show", P, "eval", "--json"]).stdout;
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    let table = std::fs::read_to_string(v[0]["files"]["table"].as_str().unwrap()).unwrap();
    let row = table
        .lines()
        .find(|l| l.starts_with("fit,") && l.split(',').nth(3) == Some("1"));
    // Neuron 1's CORR is a number over the test images where it was recorded.
    let corr = row.and_then(|r| r.split(',').nth(4)).unwrap_or_default();
    assert!(corr.parse::<f64>().is_ok(), "{table}");
}

#[test]
fn a_nan_pixel_is_an_error_naming_the_file_and_the_image() {
    let mut values = pixels();
    values[17 * 64 + 9] = f32::NAN;
    let p = missing_lab(&values);
    let r = p.sapipe(&["run", P]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let says = "images.npy: NaN pixel in image 17 (row 1, column 1); images must be finite";
    assert!(
        r.stderr.contains(says),
        "expected {says:?} in:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
}
