//! Snapshot tests of user-facing output (issue 13): `status` and `explain` of the diamond
//! pipeline on the real binary, before a run, after it and after a parameter change. Anything
//! that depends on the machine or the clock is normalised: the project's path, keys and
//! digests (hex), durations, dates and the host name.

use crate::common::{DIAMOND, Project};

const P: &str = "pipelines/demo.yaml";

/// `text` with the project's path, hex digests, durations, timestamps and the host replaced.
fn normalise(p: &Project, text: &str) -> String {
    let root = p.root().display().to_string();
    let text = text.replace(&root, "[project]");
    let text: String = text
        .split_inclusive('\n')
        .map(|line| match line.strip_prefix("last record: ") {
            // `last record: <key> (<when>, <duration> on <host>)`
            Some(rest) if rest.contains(" on ") => {
                let key = rest.split(' ').next().unwrap_or_default();
                format!("last record: {key} ([time], [duration] on [host])\n")
            }
            _ => line.to_string(),
        })
        .collect();
    text.split_inclusive(['\n', ' ', '(', ')', ',', '`', '"', '\'', '='])
        .map(|word| {
            let core = word.trim_end_matches(['\n', ' ', '(', ')', ',', '`', '"', '\'', '=']);
            let tail = &word[core.len()..];
            let hex = core.len() >= 8 && core.chars().all(|c| c.is_ascii_hexdigit());
            let has_digit = core.chars().any(|c| c.is_ascii_digit());
            let duration = has_digit
                && ["ms", "s", "m", "h"].iter().any(|u| {
                    core.strip_suffix(u)
                        .is_some_and(|n| !n.is_empty() && n.parse::<f64>().is_ok())
                });
            let date = has_digit && core.len() >= 10 && core.as_bytes().get(4) == Some(&b'-');
            if hex && has_digit {
                format!("[hex]{tail}")
            } else if duration {
                format!("[duration]{tail}")
            } else if date {
                format!("[time]{tail}")
            } else {
                word.to_string()
            }
        })
        .collect()
}

#[test]
fn status_and_explain_of_a_small_pipeline() {
    let p = Project::new();
    p.write(P, DIAMOND);
    let out = |args: &[&str]| normalise(&p, &p.ok(args).stdout);
    insta::assert_snapshot!("status_before_run", out(&["status", P]));
    insta::assert_snapshot!("explain_before_run", out(&["explain", P, "count_b"]));
    p.ok(&["run", P]);
    insta::assert_snapshot!("status_after_run", out(&["status", P]));
    p.write(
        P,
        &DIAMOND.replace("with: { scale: 2.0 }", "with: { scale: 2.5 }"),
    );
    insta::assert_snapshot!("status_after_change", out(&["status", P]));
    insta::assert_snapshot!("explain_after_change", out(&["explain", P, "count_b"]));
}
