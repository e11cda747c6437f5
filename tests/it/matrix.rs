//! Matrix stages and `--set` overrides (issue 17): expanded names everywhere stage names go,
//! bindings by placeholder, pattern and whole matrix stage, keys equal to the hand-written
//! pipeline's, located errors, and typed overrides that enter keys but not the lock file.

use crate::common;

use crate::common::Project;

const P: &str = "pipelines/grid.yaml";

/// gen@2, gen@3 -> count@N,SCALE (4 stages) -> join_2 (the n=2 counts), join_all (every count).
const GRID: &str = r#"name: grid
stages:
  gen:
    uses: gen
    matrix: { n: [2, 3] }
    with: { n: "${n}", comment: "n=${n}" }
  count:
    uses: count
    matrix: { n: [2, 3], scale: [1.0, 2.5] }
    needs: ["gen@${n}"]
    with: { scale: "${scale}" }
  join_2:
    uses: join
    inputs: { counts: "count@2,*.count" }
    publish: { all: results/join_2.txt }
  join_all:
    uses: join
    inputs: { counts: count.count }
    publish: { all: results/join_all.txt }
"#;

const INSTANCES: [&str; 8] = [
    "count@2,1.0",
    "count@2,2.5",
    "count@3,1.0",
    "count@3,2.5",
    "gen@2",
    "gen@3",
    "join_2",
    "join_all",
];

fn grid() -> Project {
    let p = Project::new();
    p.write(P, GRID);
    p
}

#[test]
fn expanded_stages_are_named_run_bound_and_locked_by_their_names() {
    let p = grid();
    let status = p.ok(&["status", P]);
    for name in INSTANCES {
        assert!(
            status.stdout.contains(&format!("{name}  ")),
            "{}",
            status.stdout
        );
    }
    assert!(
        status.stdout.contains("8 of 8 stages will run"),
        "{}",
        status.stdout
    );
    let run = p.ok(&["run", P]);
    assert_eq!(run.ran(), INSTANCES);
    // `n: "${n}"` kept its type (gen declares an int): gen@2 wrote 2 lines, gen@3 three.
    assert_eq!(p.read("results/join_2.txt"), "2\n2\n");
    assert_eq!(p.read("results/join_all.txt"), "2\n2\n3\n3\n");
    let lock = p.read("pipelines/grid.lock");
    assert!(lock.contains("count@2,2.5"), "{lock}");
    assert!(p.path("cache/heads/grid/count@3,1.0.json").is_file());
    assert!(
        p.ok(&["run", P]).ran().is_empty(),
        "the lock file reads back"
    );
    assert!(p.ok(&["run", P, "--locked"]).ran().is_empty());

    // --stage takes an instance or the matrix stage (all its instances).
    let one = p.ok(&["status", P, "--stage", "count@3,2.5"]);
    assert!(one.stdout.contains("0 of 2 stages"), "{}", one.stdout);
    let family = p.ok(&["status", P, "--stage", "count"]);
    assert!(family.stdout.contains("0 of 6 stages"), "{}", family.stdout);
    let forced = p.ok(&["run", P, "--stage", "gen", "--force", "gen"]);
    assert_eq!(forced.ran(), ["gen@2", "gen@3"]);

    let explain = p.ok(&["explain", P, "count@3,2.5"]);
    assert!(
        explain.stdout.starts_with("stage count@3,2.5: up to date"),
        "{}",
        explain.stdout
    );
    assert!(explain.stdout.contains("scale = 2.5"), "{}", explain.stdout);
    let show = p.ok(&["show", P, "join_all", "--json"]);
    assert!(show.stdout.contains("\"join_all\""), "{}", show.stdout);
    let family = p.sapipe(&["explain", P, "count"]);
    assert_eq!(family.code, 2, "{}", family.stderr);
    assert!(
        family
            .stderr
            .contains("'count' is a matrix stage: name one of its 4 instances, e.g. 'count@2,1.0'"),
        "{}",
        family.stderr
    );
    let dag = p.ok(&["dag", P, "--format", "mermaid"]);
    assert!(
        dag.stdout.contains("s_count_40_2_2c_2_2e_5 --> s_join_2"),
        "{}",
        dag.stdout
    );
}

/// The grid written out by hand, with the names a `name:` template gives.
const HAND: &str = r#"name: grid
stages:
  gen_2: { uses: gen, with: { n: 2, comment: "n=2" } }
  gen_3: { uses: gen, with: { n: 3, comment: "n=3" } }
  count_2_1: { uses: count, needs: [gen_2], with: { scale: 1 } }
  count_2_2: { uses: count, needs: [gen_2], with: { scale: 2 } }
  count_3_1: { uses: count, needs: [gen_3], with: { scale: 1 } }
  count_3_2: { uses: count, needs: [gen_3], with: { scale: 2 } }
  join_all:
    uses: join
    inputs: { counts: [count_2_1.count, count_2_2.count, count_3_1.count, count_3_2.count] }
"#;

const TEMPLATED: &str = r#"name: grid
stages:
  gen:
    uses: gen
    name: "gen_${n}"
    matrix: { n: [2, 3] }
    with: { n: "${n}", comment: "n=${n}" }
  count:
    uses: count
    name: "count_${n}_${s}"
    matrix: { n: [2, 3], s: [1, 2] }
    needs: ["gen_${n}"]
    with: { scale: "${s}" }
  join_all: { uses: join, inputs: { counts: count.count } }
"#;

#[test]
fn a_matrix_and_its_hand_written_form_have_the_same_keys() {
    let p = Project::new();
    p.write("pipelines/hand.yaml", HAND);
    p.write("pipelines/matrix.yaml", TEMPLATED);
    assert_eq!(p.ok(&["run", "pipelines/hand.yaml"]).ran().len(), 7);
    let status = p.ok(&["status", "pipelines/matrix.yaml"]);
    assert!(
        status.stdout.contains("0 of 7 stages will run"),
        "{}",
        status.stdout
    );
    assert!(p.ok(&["run", "pipelines/matrix.yaml"]).ran().is_empty());
    assert_eq!(
        p.read("pipelines/matrix.lock"),
        p.read("pipelines/hand.lock"),
        "same keys, same digests"
    );
    let json = |file: &str| {
        let out = p.ok(&["status", file, "--json"]).stdout;
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| (s["stage"].clone(), s["key"].clone()))
            .collect::<Vec<_>>()
    };
    let mut hand = json("pipelines/hand.yaml");
    let mut matrix = json("pipelines/matrix.yaml");
    hand.sort_by_key(|(s, _)| s.to_string());
    matrix.sort_by_key(|(s, _)| s.to_string());
    assert_eq!(hand, matrix);
}

/// `status` on `pipeline`: asserts exit 2 and that stderr holds each of `expected`.
fn rejected(pipeline: &str, args: &[&str], expected: &[&str]) {
    let p = Project::new();
    p.write(P, pipeline);
    let mut all = vec!["status", P];
    all.extend(args);
    let r = p.sapipe(&all);
    assert_eq!(r.code, 2, "{}", r.stderr);
    for e in expected {
        assert!(r.stderr.contains(e), "expected {e:?} in:\n{}", r.stderr);
    }
}

#[test]
fn expansion_errors_are_located_and_say_what_is_valid() {
    rejected(
        &GRID.replace("comment: \"n=${n}\"", "comment: \"${m}\""),
        &[],
        &[
            "grid.yaml:6: stage 'gen': unknown placeholder '${m}'",
            "did you mean 'n'?",
        ],
    );
    rejected(
        &GRID.replace("[2, 3] }\n    with: { n", "[] }\n    with: { n"),
        &[],
        &["grid.yaml:5: stage 'gen', field 'matrix': matrix key 'n' has no values"],
    );
    rejected(
        &GRID.replace("n: [2, 3] }\n    with: { n", "n: [[2], 3] }\n    with: { n"),
        &[],
        &["grid.yaml:5: ", "a list is not a string, number or boolean"],
    );
    rejected(
        &GRID.replace(
            "    matrix: { n: [2, 3], scale",
            "    name: \"c_${n}\"\n    matrix: { n: [2, 3], scale",
        ),
        &[],
        &[
            "grid.yaml:9: stage 'count', field 'name' \"c_${n}\": the template does not use the matrix key 'scale'",
        ],
    );
    rejected(
        &GRID.replace(
            "    matrix: { n: [2, 3] }\n",
            "    name: \"join_${n}\"\n    matrix: { n: [2, 3] }\n",
        ),
        &[],
        &[
            "grid.yaml:3: stage 'gen', field 'matrix': the matrix makes a stage named 'join_2', and the pipeline already has a stage of that name",
        ],
    );
    rejected(
        &GRID.replace("\"count@2,*.count\"", "\"count@4,*.count\""),
        &[],
        &["stage 'join_2', input 'counts': 'count@4,*.count' names no stage 'count@4,*'"],
    );
    // A whole matrix stage bound to an input that takes one artifact.
    rejected(
        &format!("{GRID}  more:\n    uses: count\n    needs: [gen]\n"),
        &[],
        &[
            "grid.yaml:20: stage 'more', input 'text': several upstream outputs match (gen@2.text, gen@3.text)",
            "'count' takes one artifact, and 'gen' in 'needs' stands for 2 stages",
        ],
    );
}

#[test]
fn set_overrides_are_typed_enter_keys_and_leave_the_lock_file() {
    let p = grid();
    p.ok(&["run", P]);
    let lock = p.read("pipelines/grid.lock");
    // The value written, given again: the same key.
    let same = p.ok(&["status", P, "--set", "gen@2.n=2"]);
    assert!(
        same.stdout.contains("0 of 8 stages will run"),
        "{}",
        same.stdout
    );
    // gen@2 made exactly like gen@3: gen@3's key, so gen@2 is up to date with it.
    let like = p.ok(&[
        "status",
        P,
        "--set",
        "gen@2.n=3",
        "--set",
        "gen@2.comment=n=3",
    ]);
    assert!(
        like.stdout.contains("gen@2        up to date"),
        "{}",
        like.stdout
    );
    let changed = p.ok(&["status", P, "--set", "gen@2.n=4"]);
    assert!(
        changed
            .stdout
            .contains("gen@2        will run: parameter `n` 2 -> 4"),
        "{}",
        changed.stdout
    );
    // '*' reaches every stage declaring the parameter; a later --set wins; the value is
    // typed (3 -> 3.0). (With one scale for all, the 2.5 instances would be the 1.0 ones.)
    let sets = ["--set", "*.scale=3", "--set", "count@*,2.5.scale=4"];
    let run = p.ok(&[&["run", P][..], &sets].concat());
    assert_eq!(
        run.ran(),
        ["count@2,1.0", "count@2,2.5", "count@3,1.0", "count@3,2.5"]
    );
    assert!(
        run.stdout.contains(
            "left as it is: the run had --set overrides (*.scale=3, count@*,2.5.scale=4)"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        p.read("pipelines/grid.lock"),
        lock,
        "the lock file is the pipeline's"
    );
    let explain = p.ok(&["explain", P, "count@2,2.5", "--set", "count.scale=3"]);
    assert!(explain.stdout.contains("scale = 3.0"), "{}", explain.stdout);
    assert!(explain.stdout.contains("up to date"), "{}", explain.stdout);
    let records: Vec<serde_json::Value> = common::walk(&p.path("cache/records"))
        .iter()
        .filter_map(|f| serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok())
        .collect();
    let overridden: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r.get("overrides").is_some())
        .collect();
    assert_eq!(overridden.len(), 4, "one record per overridden stage");
    for r in overridden {
        let scale = if r["stage"].as_str().unwrap().ends_with(",2.5") {
            4.0
        } else {
            3.0
        };
        assert_eq!(r["overrides"], serde_json::json!({ "scale": scale }), "{r}");
    }
    assert!(
        records
            .iter()
            .filter(|r| r["stage"] == "gen@2")
            .all(|r| r.get("overrides").is_none())
    );
    p.sapipe(&["run", P, "--locked", "--set", "gen.n=5"])
        .failed_with("run without --set");
}

#[test]
fn set_errors_name_the_stage_the_parameter_or_the_form() {
    let cases: [(&str, &str); 6] = [
        (
            "gen@2.n=two",
            "--set 'gen@2.n=two': stage 'gen@2', parameter 'n': expected an integer, found the string \"two\"",
        ),
        (
            "gne.n=1",
            "--set 'gne.n=1': no stage named 'gne' (did you mean 'gen'?)",
        ),
        (
            "gen.nn=1",
            "--set 'gen.nn=1': stage 'gen@2' ('gen') declares no parameter 'nn' (did you mean 'n'? valid: comment, n)",
        ),
        (
            "join_2.zzzz=1",
            "--set 'join_2.zzzz=1': stage 'join_2' ('join') declares no parameter 'zzzz' ('join' has no parameters)",
        ),
        (
            "gen.n",
            "--set 'gen.n': expected STAGE.PARAM=VALUE (no '=')",
        ),
        (
            "*.nope=1",
            "--set '*.nope=1': no stage matching '*' declares a parameter 'nope'",
        ),
    ];
    for (set, expected) in cases {
        rejected(
            GRID,
            &["--set", set],
            &[&format!("error: pipelines/grid.yaml: {expected}")],
        );
    }
    let p = grid();
    p.sapipe(&["verify", "--set", "gen.n=1"])
        .failed_with("--set sets a pipeline stage's parameter");
}

#[test]
fn the_readme_grid_binds_each_evaluation_to_its_fraction() {
    let readme = include_str!("../../README.md");
    let section = &readme[readme
        .find("### Grids and overrides")
        .expect("the README section")..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let yaml = &section[start..start + section[start..].find("```").unwrap()];
    let p = Project::new();
    p.write("pipelines/mine.yaml", &format!("name: mine\n{yaml}"));
    let dag = p.ok(&["dag", "pipelines/mine.yaml"]).stdout;
    for line in [
        "train@rf-cnn,0.5  [train]  <- prep@0.5",
        "eval@0.25  [evaluate]  <- prep@0.25, train@ff-cnn,0.25, train@rf-cnn,0.25",
        "report  [report]  <- eval@0.25, eval@0.5",
    ] {
        assert!(dag.contains(line), "{line:?} in:\n{dag}");
    }
    let explain = p
        .ok(&["explain", "pipelines/mine.yaml", "train@rf-cnn,0.5"])
        .stdout;
    assert!(explain.contains("label = \"rf-cnn (0.5)\""), "{explain}");
    assert!(explain.contains("model = \"rf-cnn\""), "{explain}");
}

#[test]
fn a_profile_reaches_a_matrix_stage_and_an_instance_and_set_comes_last() {
    let p = Project::new();
    let profiles = "profiles:\n  big:\n    with:\n      count: { scale: 5.0 }\n      \"count@3,2.5\": { scale: 6.0 }\nstages:\n";
    p.write(P, &GRID.replace("stages:\n", profiles));
    let scale = |stage: &str, extra: &[&str]| {
        let out = p.ok(&[&["explain", P, stage, "--profile", "big"][..], extra].concat());
        let line = out.stdout.lines().find(|l| l.contains("param   scale"));
        line.unwrap_or_default().trim().to_string()
    };
    assert_eq!(scale("count@2,1.0", &[]), "param   scale = 5.0");
    assert_eq!(scale("count@3,2.5", &[]), "param   scale = 6.0");
    let set = ["--set", "count@3,*.scale=7"];
    assert_eq!(scale("count@3,2.5", &set), "param   scale = 7.0");
    rejected(
        &p.read(P),
        &["--profile", "big", "--set", "count@9,*.scale=7"],
        &["--set 'count@9,*.scale=7': no stage named 'count@9,*'"],
    );
}
