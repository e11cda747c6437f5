//! Hostile records served by an S3 remote (cases 1 and 2), on the moto server the S3 tests
//! start (`scripts/setup-s3-server`; skipped without it unless `SAPIPE_REQUIRE_S3=1`): the
//! same records as from a directory remote, put on the server by another client.

use super::records::a_remote_refuses_hostile_records;
use super::*;
use crate::common::s3::{BUCKET, credentials, put_object, start};

#[test]
fn case1_case2_pull_from_an_s3_remote_refuses_hostile_records() {
    let Some(server) = start("case1_case2_pull_from_an_s3_remote_refuses_hostile_records") else {
        return;
    };
    let endpoint = server.endpoint();
    let remote = format!("s3://{BUCKET}/hostile");
    let p = project();
    let mut push = p.command(&["push", P, "--remote", &remote]);
    credentials(&mut push, &endpoint);
    let pushed = within_a_minute(push);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let record = record_of(&p.path("cache"), "gen");
    let rel = record.strip_prefix(p.path("cache")).unwrap();
    let key = format!("hostile/{}", rel.display());
    let good: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    a_remote_refuses_hostile_records(
        &remote,
        &good,
        &|v| put_object(&endpoint, &key, &serde_json::to_vec_pretty(v).unwrap()),
        &|c| credentials(c, &endpoint),
    );
}
