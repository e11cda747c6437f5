//! `sapipe predict` on the real binary (issue 19, item 1): a train stage's model run on the
//! raw test images reproduces the stage's own test predictions bit for bit (crop, resampling
//! and normalisation replayed); neuron selection, folder input, the JSON summary, and the
//! errors for images, neurons and stages it cannot use. Also `show --json`'s `preprocessing`.

use crate::common::Project;
use sapipe::neuro::array::ArrayF32;
use serde_json::Value;

const P: &str = "pipelines/predict.yaml";

/// A toy population, a non-default crop and resampling, one rf-CNN trained for one epoch.
const PIPELINE: &str = r#"name: predict
seed: 5
device: cpu
deterministic: true
stages:
  data:
    uses: synthetic-v1
    with: { neurons: 3, train_images: 60, validation_images: 20, test_images: 30, repeats: 2, image_size: 50 }
  prep: { uses: preprocess, needs: [data], with: { crop: 40, size: 26 } }
  train:
    uses: train
    needs: [prep]
    with: { model: rf-cnn, channels: 8, epochs: 1, batch_size: 8, lr: 0.003 }
"#;

fn show(p: &Project, stage: &str) -> Value {
    let out = p.ok(&["show", P, stage, "--json"]).stdout;
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

/// The raw dataset's test images, in the order of the raw split's test list.
fn raw_test_images(p: &Project) -> ArrayF32 {
    let data = show(p, "data");
    let dir = std::path::PathBuf::from(data["files"]["data"].as_str().unwrap());
    let images = ArrayF32::read_npy(&dir.join("images.npy")).unwrap();
    let split: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("split.json")).unwrap()).unwrap();
    let test: Vec<usize> = split["test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    images.select_rows(&test)
}

fn columns(a: &ArrayF32, cols: &[usize]) -> Vec<f32> {
    let k = a.shape[1];
    (0..a.shape[0])
        .flat_map(|i| cols.iter().map(move |&j| a.data[i * k + j]))
        .collect()
}

#[test]
fn predictions_on_the_raw_test_images_are_the_train_stages_own() {
    let p = Project::with_project_stages();
    p.write(P, PIPELINE);
    p.ok(&["run", P]);

    let train = show(&p, "train");
    let pre = &train["preprocessing"];
    assert_eq!(pre["crop"], 40, "{train}");
    assert_eq!(pre["size"], 26);
    assert!(pre["norm_std"].as_f64().unwrap() > 0.0);
    assert!(train["files"]["checkpoint"].is_string());
    assert!(train["inputs"]["prepared"][0]["path"].is_string());
    let own = ArrayF32::read_npy(
        &std::path::PathBuf::from(train["files"]["predictions"].as_str().unwrap()).join("test.npy"),
    )
    .unwrap();

    let test = raw_test_images(&p);
    assert_eq!(test.shape[1], pre["raw_height"].as_u64().unwrap() as usize);
    test.write_npy(&p.path("test.npy")).unwrap();
    let run = p.ok(&[
        "predict", P, "train", "--images", "test.npy", "--out", "pred.npy",
    ]);
    assert!(
        run.stdout
            .contains("predicted 30 images x 3 neurons with train (rf-cnn)")
            && run.stdout.contains("crop 40 x 40 -> 26 x 26"),
        "{}",
        run.stdout
    );
    let pred = ArrayF32::read_npy(&p.path("pred.npy")).unwrap();
    assert_eq!(pred.shape, vec![30, 3]);
    assert_eq!(
        pred.data, own.data,
        "predict differs from the train stage's"
    );

    // Some neurons, in the given order; the same images from a folder, one file per part.
    std::fs::create_dir(p.path("parts")).unwrap();
    let (a, b): (Vec<usize>, Vec<usize>) = ((0..10).collect(), (10..30).collect());
    test.select_rows(&a)
        .write_npy(&p.path("parts/a.npy"))
        .unwrap();
    test.select_rows(&b)
        .write_npy(&p.path("parts/b.npy"))
        .unwrap();
    let run = p.ok(&[
        "predict",
        P,
        "train",
        "--images",
        "parts",
        "--neurons",
        "2,0",
        "--out",
        "some.npy",
        "--json",
    ]);
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["images"], 30);
    assert_eq!(summary["neurons"], serde_json::json!([2, 0]));
    assert_eq!(
        summary["files"],
        serde_json::json!([["a.npy", 10], ["b.npy", 20]])
    );
    let some = ArrayF32::read_npy(&p.path("some.npy")).unwrap();
    assert_eq!(some.shape, vec![30, 2]);
    assert_eq!(some.data, columns(&own, &[2, 0]));
}

#[test]
fn images_neurons_and_stages_it_cannot_use_are_refused_clearly() {
    let p = Project::with_project_stages();
    p.write(P, PIPELINE);
    let before = p.sapipe(&["predict", P, "train", "--images", "x.npy"]);
    before.failed_with("stage 'train' is not up to date (it would run): run `sapipe run PIPELINE --stage train` first");
    p.ok(&["run", P]);
    let test = raw_test_images(&p);
    let (n, h, w) = (test.shape[0], test.shape[1], test.shape[2]);

    let narrow = ArrayF32::new(vec![n, h, w - 1], vec![0.5; n * h * (w - 1)]);
    narrow.write_npy(&p.path("narrow.npy")).unwrap();
    p.sapipe(&["predict", P, "train", "--images", "narrow.npy"])
        .failed_with(&format!(
            "images have shape [{n}, {h}, {}], but the model was trained on {h} x {w} images (cropped to 40 x 40, resampled to 26 x 26): give [n, {h}, {w}] images",
            w - 1
        ));

    let bytes = ArrayF32::new(
        test.shape.clone(),
        test.data.iter().map(|v| v * 255.0).collect(),
    );
    bytes.write_npy(&p.path("bytes.npy")).unwrap();
    p.sapipe(&["predict", P, "train", "--images", "bytes.npy"])
        .failed_with("bytes.npy: pixel values span");
    test.write_npy(&p.path("test.npy")).unwrap();
    p.sapipe(&[
        "predict",
        P,
        "train",
        "--images",
        "test.npy",
        "--neurons",
        "1,3",
    ])
    .failed_with(
        "--neurons: neuron 3 does not exist; the model of stage 'train' has 3 neurons (0-2)",
    );
    p.sapipe(&["predict", P, "prep", "--images", "test.npy"])
        .failed_with("stage 'prep' (uses: preprocess) has no checkpoint output");
    p.sapipe(&["predict", P, "tain", "--images", "test.npy"])
        .failed_with("no stage 'tain' in this pipeline (stages: data, prep, train)");
    p.sapipe(&["predict", P, "train", "--images", "missing.npy"])
        .failed_with("--images missing.npy: no such file or folder");
    p.sapipe(&[
        "predict",
        P,
        "train",
        "--images",
        "test.npy",
        "--out",
        "no/such/dir/p.npy",
    ])
    .failed_with("the folder");
    p.sapipe(&[
        "--set",
        "train.epochs=2",
        "predict",
        P,
        "train",
        "--images",
        "test.npy",
    ])
    .failed_with("stage 'train' is not up to date");
}
