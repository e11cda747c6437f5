//! The `import` stage on the real binary (issue 16, lab data in): a split given as per-image
//! labels is the split used, a file the importer does not know is an error listing what it
//! found and what it accepts, `ignore:` skips it, and `sapipe show` prints the import report.

mod common;

use common::{Project, raw_npy};

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
        "metric  neuron_1_responses = {\"max\":11.0,\"mean\":6.0,\"min\":1.0,\"nan\":0,\"sd\":3.416}",
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
