//! Seed repeats (issue 17, item 4): `repeat: { seeds: [...] }` expands a stage once per seed
//! with readable names and keys that differ only by the seed (each equal to the stage written
//! out by hand), and the evaluation and report aggregate a model's seeds: mean ± s.d. across
//! seeds, comparisons over neurons with each model's seeds averaged per neuron (issue 27).

use crate::common;

use crate::common::Project;

const P: &str = "pipelines/seeds.yaml";

/// Two models x two seeds on a toy population: one epoch, two neurons.
const SEEDS: &str = r#"name: seeds
seed: 3
device: cpu
deterministic: true
stages:
  data:
    uses: synthetic-v1
    with: { neurons: 2, train_images: 60, validation_images: 20, test_images: 30, repeats: 3, image_size: 50 }
  prep: { uses: preprocess, needs: [data] }
  train:
    uses: train
    matrix: { model: [ff-cnn, rf-cnn] }
    repeat: { seeds: [1, 2] }
    needs: [prep]
    with: { model: "${model}", epochs: 1, batch_size: 8, lr: 0.003 }
  eval:
    uses: evaluate
    needs: [prep, train]
    with: { baseline: "train@ff-cnn,seed1" }
  report:
    uses: report
    needs: [eval]
    with: { title: "Seeds", tables: [summary, table1] }
    publish: { report: results/seeds }
"#;

/// The ff-CNN of seed 2 written out by hand, after the same data and prep.
fn hand() -> String {
    let head = &SEEDS[..SEEDS.find("  train:").unwrap()];
    let stage = "  ff_2:\n    uses: train\n    needs: [prep]\n    with: { model: ff-cnn, epochs: 1, batch_size: 8, lr: 0.003, seed: 2 }\n";
    format!("{head}{stage}").replace("name: seeds", "name: hand")
}

const TRAINS: [&str; 4] = [
    "train@ff-cnn,seed1",
    "train@ff-cnn,seed2",
    "train@rf-cnn,seed1",
    "train@rf-cnn,seed2",
];

/// `explain`'s parameter lines of a stage.
fn params(p: &Project, stage: &str) -> Vec<String> {
    let out = p.ok(&["explain", P, stage]).stdout;
    out.lines()
        .filter(|l| l.trim_start().starts_with("param "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn repeated_trains_are_named_by_seed_keyed_by_it_and_reported_across_seeds() {
    let p = Project::with_project_stages();
    p.write(P, SEEDS);
    let dag = p.ok(&["dag", P]).stdout;
    for name in TRAINS {
        assert!(dag.contains(&format!("{name}  [train]  <- prep")), "{dag}");
    }
    assert!(
        dag.contains(&format!("eval  [evaluate]  <- prep, {}", TRAINS.join(", "))),
        "{dag}"
    );

    let run = p.ok(&["run", P]);
    let mut expected = vec!["data", "eval", "prep", "report"];
    expected.extend(TRAINS);
    expected.sort();
    assert_eq!(run.ran(), expected, "{}", run.stderr);

    // Seeds 1 and 2 of one model: the same parameters but `seed`, and different keys.
    let (one, two) = (
        params(&p, "train@ff-cnn,seed1"),
        params(&p, "train@ff-cnn,seed2"),
    );
    let differ: Vec<(&String, &String)> = one.iter().zip(&two).filter(|(a, b)| a != b).collect();
    assert_eq!(one.len(), two.len());
    assert_eq!(
        differ,
        [(
            &"param   seed = 1".to_string(),
            &"param   seed = 2".to_string()
        )],
        "{one:?}"
    );
    let keys = p.ok(&["status", P, "--json"]).stdout;
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let key = |stage: &str| {
        let all = keys.as_array().unwrap();
        let s = all.iter().find(|s| s["stage"] == stage).unwrap();
        s["key"].as_str().unwrap().to_string()
    };
    assert_ne!(key("train@ff-cnn,seed1"), key("train@ff-cnn,seed2"));
    // Written out by hand with `seed: 2`, it is the same stage: nothing to run.
    p.write("pipelines/hand.yaml", &hand());
    let hand = p.ok(&["status", "pipelines/hand.yaml"]).stdout;
    assert!(hand.contains("0 of 3 stages will run"), "{hand}");

    // The evaluation's metrics: per seed, and per model across seeds.
    let records: Vec<serde_json::Value> = common::walk(&p.path("cache/records"))
        .iter()
        .filter_map(|f| serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok())
        .collect();
    let eval = records.iter().find(|r| r["stage"] == "eval").unwrap();
    let metrics = &eval["metrics"];
    assert_eq!(metrics["train@ff-cnn.seeds"], 2, "{metrics}");
    let corr = |stage: &str| metrics[format!("{stage}.corr")].as_f64().unwrap();
    let (c1, c2) = (corr("train@rf-cnn,seed1"), corr("train@rf-cnn,seed2"));
    let mean = metrics["train@rf-cnn.corr_mean"].as_f64().unwrap();
    let sd = metrics["train@rf-cnn.corr_sd"].as_f64().unwrap();
    assert!((mean - (c1 + c2) / 2.0).abs() < 1e-12, "{metrics}");
    assert!(
        (sd - (c1 - c2).abs() / 2f64.sqrt()).abs() < 1e-12,
        "{metrics}"
    );

    // The report: one row per model, mean ± s.d. across its seeds.
    let report = p.read("results/seeds/report.md");
    let row = report
        .lines()
        .find(|l| l.starts_with("| rf-CNN | train@rf-cnn (seeds 1, 2) | 28865 |"))
        .unwrap_or_else(|| panic!("no rf-cnn row over seeds:\n{report}"));
    assert!(
        row.contains(&format!("| {mean:.3} ± {sd:.3} |")),
        "{row}\n{report}"
    );
    assert!(
        report.contains(&format!(
            "| rf-CNN | train@rf-cnn (seeds 1, 2) | {mean:.3} ± {sd:.3} |"
        )),
        "table 1 over seeds:\n{report}"
    );
    assert!(
        report.contains("(seeds 2/2, averaged per neuron"),
        "comparisons average seeds per neuron, never pool neurons × seeds:\n{report}"
    );
}

#[test]
fn repeat_errors_are_located() {
    let p = Project::with_project_stages();
    let check = |text: &str, expected: &str| {
        p.write(P, text);
        let r = p.sapipe(&["status", P]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains(expected),
            "{expected:?} in:\n{}",
            r.stderr
        );
    };
    check(
        &SEEDS.replace(
            "    needs: [eval]\n",
            "    needs: [eval]\n    repeat: { seeds: [1] }\n",
        ),
        "seeds.yaml:23: stage 'report', field 'repeat': 'report' declares no parameter `seed`",
    );
    check(
        &SEEDS.replace("epochs: 1,", "seed: 4, epochs: 1,"),
        "seeds.yaml:15: stage 'train', field 'with': `repeat:` sets the parameter `seed`",
    );
    check(
        &SEEDS.replace("seeds: [1, 2]", "seeds: [1, 1]"),
        "seeds.yaml:13: stage 'train', field 'repeat': `seeds` lists 1 twice",
    );
}
