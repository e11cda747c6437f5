//! Profiles (`profiles:` in a pipeline, `--profile NAME`): overrides that change keys, their own
//! lock file, located errors, and the paper profile of every experiment pipeline accepted.

use crate::common;

use crate::common::{DIAMOND, Project};

const P: &str = "pipelines/demo.yaml";

fn with_profiles(profiles: &str) -> Project {
    let p = Project::new();
    p.write(
        P,
        &DIAMOND.replace("\nstages:\n", &format!("\n{profiles}\nstages:\n")),
    );
    p
}

const BIG: &str = r#"profiles:
  big:
    doc: "more of everything"
    with:
      gen: { n: 5 }
      "*": { scale: 3.0 }
      count_b: { scale: 4.0 }"#;

#[test]
fn a_profile_overrides_parameters_changes_keys_and_keeps_its_own_lock() {
    let p = with_profiles(BIG);
    p.ok(&["run", P]);
    let default_lock = p.read("pipelines/demo.lock");
    let status = p.ok(&["status", P, "--profile", "big"]);
    assert!(
        status
            .stdout
            .contains("gen      will run: parameter `n` 3 -> 5"),
        "{}",
        status.stdout
    );
    let run = p.ok(&["run", P, "--profile", "big"]);
    assert_eq!(run.ran(), ["count_a", "count_b", "gen", "join"]);
    // `*` reaches every stage declaring the parameter; a named stage's entry wins.
    let explain = p.ok(&["explain", P, "count_a", "--profile", "big"]);
    assert!(explain.stdout.contains("scale = 3.0"), "{}", explain.stdout);
    let explain = p.ok(&["explain", P, "count_b", "--profile", "big"]);
    assert!(explain.stdout.contains("scale = 4.0"), "{}", explain.stdout);
    assert_eq!(
        p.read("pipelines/demo.lock"),
        default_lock,
        "default lock untouched"
    );
    assert!(p.read("pipelines/demo.big.lock").contains("gen:"));
    // Both stay valid: the default results are still cached, the profile's too.
    assert!(p.ok(&["run", P]).ran().is_empty());
    assert!(
        p.ok(&["run", P, "--profile", "big", "--locked"])
            .ran()
            .is_empty()
    );
}

#[test]
fn unknown_profiles_stages_and_parameters_are_located_errors() {
    let p = with_profiles(BIG);
    let r = p.sapipe(&["status", P, "--profile", "huge"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("no profile 'huge' (profiles: big)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("demo.yaml"), "{}", r.stderr);

    let p = with_profiles(&BIG.replace("gen: { n: 5 }", "gne: { n: 5 }"));
    let r = p.sapipe(&["status", P, "--profile", "big"]);
    assert!(
        r.stderr.contains("no stage 'gne' in this pipeline"),
        "{}",
        r.stderr
    );

    let p = with_profiles(&BIG.replace("gen: { n: 5 }", "gen: { m: 5 }"));
    let r = p.sapipe(&["status", P, "--profile", "big"]);
    assert!(
        r.stderr.contains("profile 'big', stage 'gen'")
            && r.stderr.contains("declares no parameter 'm'"),
        "{}",
        r.stderr
    );
    let plain = Project::new();
    plain.write(P, DIAMOND);
    let r = plain.sapipe(&["status", P, "--profile", "big"]);
    assert!(r.stderr.contains("declares no `profiles:`"), "{}", r.stderr);
}

#[test]
fn the_paper_profile_of_every_experiment_pipeline_is_accepted() {
    let root = env!("CARGO_MANIFEST_DIR");
    let cache = tempfile::tempdir().unwrap();
    for pipeline in ["incremental", "data_efficiency", "factorized"] {
        let file = format!("{root}/pipelines/{pipeline}.yaml");
        for command in ["status", "explain"] {
            let mut args = vec![command, file.as_str()];
            if command == "explain" {
                args.push("data");
            }
            args.extend(["--profile", "paper"]);
            let out = std::process::Command::new(common::bin())
                .args(&args)
                .env("SAPIPE_CACHE", cache.path())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout.contains("data"), "{args:?}: {stdout}");
        }
    }
}

/// The experiment pipelines depart from the paper's protocol to learn within their CPU budgets;
/// each `paper` profile must restore the protocol (models.md §4) for every train stage.
#[test]
fn every_experiments_paper_profile_restores_the_papers_protocol() {
    let cache = tempfile::tempdir().unwrap();
    let explain = |pipeline: &str, stage: &str, profile: Option<&str>| {
        let file = format!("{}/pipelines/{pipeline}.yaml", env!("CARGO_MANIFEST_DIR"));
        let mut args = vec!["explain", file.as_str(), stage];
        if let Some(p) = profile {
            args.extend(["--profile", p]);
        }
        let out = std::process::Command::new(common::bin())
            .args(&args)
            .env("SAPIPE_CACHE", cache.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let protocol = [
        "param   epochs = 50\n",
        "param   batch_size = 50\n",
        "param   lr = 0.001\n",
        "param   readout_bias = \"default\"\n",
        "param   patience = 0\n",
        "param   refit_bias = \"none\"\n",
    ];
    let models = ["ff-cnn", "ff-sa-cnn", "rf-cnn", "rf-sa-cnn"];
    let mut stages: Vec<(&str, String)> = [
        "rf_cnn",
        "rf_sa_incr",
        "fc2_incr",
        "fc1_incr",
        "rf_sa_simul",
        "ff_sa_simul",
    ]
    .iter()
    .map(|s| ("incremental", s.to_string()))
    .collect();
    for model in models {
        stages.push(("factorized", format!("train@{model}")));
        for fraction in ["0.25", "0.5", "1.0"] {
            stages.push(("data_efficiency", format!("train@{model},{fraction}")));
        }
    }
    for (pipeline, stage) in &stages {
        let paper = explain(pipeline, stage, Some("paper"));
        for line in protocol {
            assert!(
                paper.contains(line),
                "{pipeline} {stage}: {line:?} missing:\n{paper}"
            );
        }
        let demo = explain(pipeline, stage, None);
        for line in [
            "param   readout_bias = \"mean\"\n",
            "param   refit_bias = \"train\"\n",
        ] {
            assert!(
                demo.contains(line),
                "{pipeline} {stage}: the demo departs from the protocol ({line:?}):\n{demo}"
            );
        }
        assert!(
            !demo.contains("param   patience = 0\n"),
            "{pipeline} {stage}: the demo stops early:\n{demo}"
        );
    }
}
