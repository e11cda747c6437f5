//! Object identity, not just size (case 3): an object whose bytes are another real object's
//! (same size), or a flipped byte of unchanged size, is caught by hashing before a downstream
//! stage reads it and before `show` names it to people; `status` and a no-op `run` check
//! sizes only (README, "Cache integrity", says what hashing costs and where).

use super::*;
use crate::common::strs;
use crate::integrity::{object_starting, overwrite};

const IDENT: &str = "name: ident
stages:
  gen: { uses: gen, with: { n: 3 } }
  gen5: { uses: gen, with: { n: 5 } }
  count_a: { uses: count, needs: [gen] }
  count_5: { uses: count, needs: [gen5] }
  join: { uses: join, needs: [count_a], inputs: { counts: [count_a.count] }, publish: { all: results/all.txt } }
";

/// The stored object holding exactly `bytes` (its content starts with them, and no other
/// object of the pipeline's does).
fn object_holding(p: &Project, bytes: &[u8]) -> PathBuf {
    let o = object_starting(p, bytes);
    assert_eq!(std::fs::read(&o).unwrap(), bytes);
    o
}

/// The pipeline, run.
fn ident() -> Project {
    let p = Project::new();
    p.write(P, IDENT);
    p.ok(&["run", P]);
    p
}

#[test]
fn case3_an_object_holding_another_objects_bytes_of_the_same_size_is_caught_before_use() {
    let p = ident();
    // count_a's count ("3\n") made a copy of count_5's ("5\n"), a real object of the same size.
    let victim = object_holding(&p, b"3\n");
    object_holding(&p, b"5\n");
    overwrite(&victim, b"5\n");

    let r = p.ok(&["run", P, "--force", "join"]);
    assert!(
        r.stderr
            .contains("input 'counts/count_a' (output of stage 'count_a') is damaged"),
        "{}",
        r.stderr
    );
    assert_eq!(r.ran(), strs(&["count_a", "join"]), "{}", r.stderr);
    assert_eq!(
        p.read("results/all.txt"),
        "3\n",
        "join read the wrong object"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"3\n", "healed in place");
    p.ok(&["verify"]);
}

#[test]
fn case3_a_flipped_byte_of_unchanged_size_is_not_shown_and_not_read() {
    let p = ident();
    let victim = object_holding(&p, b"3\n");
    overwrite(&victim, b"2\n");

    let show = p.ok(&["show", P, "count_a"]);
    assert!(
        !show.stdout.contains(&victim.display().to_string())
            && show.stdout.contains("count: missing from the cache"),
        "show names the damaged object:\n{}",
        show.stdout
    );
    assert!(
        show.stderr
            .contains("output 'count' is damaged in the cache"),
        "{}",
        show.stderr
    );
    // show quarantined it and removed count_a's record: run recomputes count_a, and join,
    // whose input digest is unchanged, stays cached.
    let r = p.ok(&["run", P]);
    assert_eq!(r.ran(), strs(&["count_a"]), "{}", r.stderr);
    assert_eq!(std::fs::read(&victim).unwrap(), b"3\n");

    overwrite(&victim, b"2\n");
    let r = p.ok(&["run", P, "--force", "join"]);
    assert_eq!(r.ran(), strs(&["count_a", "join"]), "{}", r.stderr);
    assert_eq!(p.read("results/all.txt"), "3\n");
    p.ok(&["verify"]);
}

#[test]
fn case3_a_record_naming_another_real_object_of_the_same_size_is_corrupt() {
    let p = ident();
    // count_a's record made to name count_5's count: a real, intact object of the same size.
    let other = object_holding(&p, b"5\n");
    let shard = other
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let hex = format!("{shard}{}", other.file_name().unwrap().to_string_lossy());
    let record = record_of(&p.path("cache"), "count_a");
    let mut swapped: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    swapped["outputs"]["count"]["digest"] = json!(hex);
    write_json(&record, &swapped);

    let verify = p.sapipe(&["verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify.stdout.contains("corrupt stage record")
            && verify.stdout.contains("do not match its seal"),
        "{}",
        verify.stdout
    );
    write_json(&record, &swapped);
    let r = p.ok(&["run", P]);
    assert!(
        r.stderr.contains(&record.display().to_string())
            && r.stderr.contains("do not match its seal"),
        "{}",
        r.stderr
    );
    assert_eq!(r.ran(), strs(&["count_a"]), "{}", r.stderr);
    assert_eq!(
        p.read("results/all.txt"),
        "3\n",
        "join read the wrong object"
    );
    p.ok(&["verify"]);
}
