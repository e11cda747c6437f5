//! sapipe outside its own repository (issue 20): a lab's folder with only a pipeline runs on
//! the built-in definitions, a project file overrides a built-in (new key, reported by
//! status, explain and `stages`), `init` makes a project that runs as it is and never
//! overwrites, and the project-root rule and its error.

use crate::common;

use crate::common::{Project, strs};

/// Tiny simulated data and preprocessing: pure-Rust built-in kinds, seconds.
const MINE: &str = "name: mine
seed: 3
stages:
  data: { uses: synthetic-v1, with: { neurons: 2, train_images: 40, validation_images: 10, test_images: 10, repeats: 2, image_size: 32 } }
  prep: { uses: preprocess, needs: [data], with: { size: 16 } }
";

fn key(p: &Project, pipeline: &str, stage: &str) -> String {
    let r = p.ok(&["explain", pipeline, stage, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["status"]["key"].as_str().unwrap().to_string()
}

#[test]
fn a_pipeline_outside_the_repository_runs_with_builtin_definitions_only() {
    let p = Project::bare();
    assert!(!p.root().starts_with(env!("CARGO_MANIFEST_DIR")));
    p.write("pipelines/mine.yaml", MINE);
    let r = p.ok(&["run", "pipelines/mine.yaml"]);
    assert_eq!(r.ran(), strs(&["data", "prep"]), "{}", r.stderr);
    // The root is the folder holding pipelines/, not pipelines/ itself, from anywhere below.
    assert!(p.path("cache").is_dir() && !p.path("pipelines/cache").exists());
    let mut c = p.command(&["status", "mine.yaml"]);
    let st: common::Run = c.current_dir(p.path("pipelines")).output().unwrap().into();
    assert_eq!(st.code, 0, "{}", st.stderr);
    assert!(
        st.stdout.contains("0 of 2 stages will run"),
        "{}",
        st.stdout
    );
    assert!(
        st.stdout
            .contains("definitions: built-in: synthetic-v1, preprocess\n"),
        "{}",
        st.stdout
    );
    let ex = p.ok(&["explain", "pipelines/mine.yaml", "prep"]);
    assert!(
        ex.stdout.contains("definition preprocess from built-in\n"),
        "{}",
        ex.stdout
    );
}

#[test]
fn builtin_and_identical_project_files_give_the_same_keys() {
    // What keeps this repository's lock files valid: its stages/ are the built-ins' source.
    let builtin = Project::bare();
    builtin.write("pipelines/mine.yaml", MINE);
    let files = Project::with_project_stages();
    files.write("pipelines/mine.yaml", MINE);
    builtin.ok(&["run", "pipelines/mine.yaml"]);
    files.ok(&["run", "pipelines/mine.yaml"]);
    for stage in ["data", "prep"] {
        assert_eq!(
            key(&builtin, "pipelines/mine.yaml", stage),
            key(&files, "pipelines/mine.yaml", stage),
            "{stage}"
        );
    }
    let st = files.ok(&["status", "pipelines/mine.yaml"]);
    assert!(
        st.stdout.contains(
            "definitions: project stages/, same as the built-in: synthetic-v1, preprocess"
        ),
        "{}",
        st.stdout
    );
}

#[test]
fn an_override_in_the_project_changes_the_key_and_is_reported() {
    let p = Project::bare();
    p.write("pipelines/mine.yaml", MINE);
    p.ok(&["run", "pipelines/mine.yaml"]);
    let before = key(&p, "pipelines/mine.yaml", "prep");
    let builtin = p.ok(&["stages", "show", "preprocess"]).stdout;
    assert!(
        builtin.starts_with("preprocess (kind preprocess) from built-in\n"),
        "{builtin}"
    );

    // The lab's own preprocess: another default validation share.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/stages/preprocess.yaml"
    ))
    .unwrap();
    let ours = text.replace(
        "default: 0.1, min: 0.0, max: 0.9",
        "default: 0.2, min: 0.0, max: 0.9",
    );
    assert_ne!(ours, text, "the override must change the definition");
    p.write("stages/preprocess.yaml", &ours);

    let st = p.ok(&["status", "pipelines/mine.yaml"]);
    assert!(st.stdout.contains("prep  will run"), "{}", st.stdout);
    assert!(
        st.stdout.contains(
            "built-in: synthetic-v1; project stages/, OVERRIDING the built-in: preprocess"
        ),
        "{}",
        st.stdout
    );
    let after = key(&p, "pipelines/mine.yaml", "prep");
    assert_ne!(before, after);
    let ex = p.ok(&["explain", "pipelines/mine.yaml", "prep"]);
    assert!(
        ex.stdout
            .contains("definition preprocess from stages/preprocess.yaml (overrides the built-in)"),
        "{}",
        ex.stdout
    );
    assert!(ex.stdout.contains("validation"), "{}", ex.stdout);
    let list = p.ok(&["stages"]).stdout;
    let line = list.lines().find(|l| l.starts_with("preprocess ")).unwrap();
    assert!(
        line.contains("stages/preprocess.yaml (overrides the built-in)"),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("train ") && l.contains("built-in")),
        "{list}"
    );

    let r = p.ok(&["run", "pipelines/mine.yaml"]);
    assert_eq!(r.ran(), strs(&["prep"]), "{}", r.stderr);
    // Back to the built-in's text: the old key, up to date again.
    p.write("stages/preprocess.yaml", &text);
    assert_eq!(key(&p, "pipelines/mine.yaml", "prep"), before);
    let r = p.ok(&["run", "pipelines/mine.yaml"]);
    assert!(r.ran().is_empty(), "{}", r.stderr);
}

#[test]
fn stages_show_prints_types_defaults_bounds_and_docs() {
    let p = Project::bare();
    let out = p.ok(&["stages", "show", "preprocess"]).stdout;
    let expected_lines = [
        "preprocess (kind preprocess) from built-in",
        "parameters:",
        "  size        int     default 50 [min 1; max 1024]",
        "              model input side in pixels (area-average downsampling, bilinear upsampling)",
        "  fraction    float   default 1.0 [one of 0.25, 0.5, 1.0]",
        "  seed        int     default: the pipeline's seed [min 0]",
        "inputs:",
        "  data  raw dataset directory (output of synthetic-v1 or import)",
        "outputs:",
    ];
    for l in expected_lines {
        assert!(out.lines().any(|x| x == l), "missing {l:?} in:\n{out}");
    }
    let r = p.sapipe(&["stages", "show", "preproces"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("did you mean 'preprocess'"),
        "{}",
        r.stderr
    );
    let json: serde_json::Value =
        serde_json::from_str(&p.ok(&["stages", "--json"]).stdout).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "train" && d["source"] == "builtin"),
        "{json}"
    );
}

#[test]
fn init_creates_a_project_that_runs_as_is_and_refuses_to_overwrite() {
    let p = Project::bare();
    let r = p.ok(&["init", "lab"]);
    assert!(r.stdout.contains("pipelines/example.yaml"), "{}", r.stdout);
    for f in [
        "sapipe.toml",
        ".gitignore",
        "README.md",
        "pipelines/example.yaml",
        "stages/summary.yaml",
    ] {
        assert!(p.path("lab").join(f).is_file(), "{f}");
    }
    assert!(p.read("lab/.gitignore").contains("/cache/"));
    let mut run = p.command(&["run", "pipelines/example.yaml"]);
    run.current_dir(p.path("lab"));
    if !cfg!(feature = "torch") {
        // Without the libtorch worker: every stage that does not train.
        run.args(["--stage", "summary"]);
    }
    let r: common::Run = run.output().unwrap().into();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let summary = p.read("lab/results/example/summary.txt");
    assert!(
        summary.starts_with("simulated V1, 4 neurons\n"),
        "{summary}"
    );
    if cfg!(feature = "torch") {
        assert!(p.path("lab/results/example/metrics.csv").is_file());
    }

    let readme = p.read("lab/README.md");
    std::fs::remove_file(p.path("lab/sapipe.toml")).unwrap();
    let again = p.sapipe(&["init", "lab"]);
    assert_eq!(again.code, 2, "refusing is an error in what was asked");
    assert!(
        again.stderr.contains("README.md") && again.stderr.contains("nothing was written"),
        "{}",
        again.stderr
    );
    assert!(
        !p.path("lab/sapipe.toml").exists(),
        "init wrote despite refusing"
    );
    assert_eq!(p.read("lab/README.md"), readme);
}

#[test]
fn without_a_project_the_error_says_how_to_create_one() {
    let p = Project::bare();
    p.write("loose/mine.yaml", MINE);
    if p.root()
        .ancestors()
        .any(|d| d.join("sapipe.toml").is_file() || d.join("pipelines").is_dir())
    {
        return; // a project above the temp folder: the rule finds it, nothing to test
    }
    let r = p.sapipe(&["run", "loose/mine.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no sapipe project here") && r.stderr.contains("sapipe init DIR"),
        "{}",
        r.stderr
    );
    // A marker file makes the folder a project.
    p.write("loose/sapipe.toml", "");
    let r = p.ok(&["run", "loose/mine.yaml"]);
    assert_eq!(r.ran(), strs(&["data", "prep"]));
    assert!(p.path("loose/cache").is_dir());
}
