//! Pushing records to a remote and pulling them from one. Push sends a record's blobs, then
//! its manifests, then the record itself, each only where the remote lacks it (or holds it
//! with the wrong size), so a record on a remote always has what it names. Pull fetches a
//! record, checks that it is the record of the key asked for, fetches what it names that the
//! local cache lacks, hashes every byte against its name and the record, and only then adopts
//! it: blobs, manifests, and the record last. Anything that does not check out is reported by
//! key and object and never stored. Transfers run on `jobs` threads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use super::transfer::{Hashing, Meter};
use super::{Backend, RemoteError, object_path, record_path, tree_path};
use crate::key::{ContentDigest, StageKey};
use crate::spec::OutputType;
use crate::store::integrity::Depth;
use crate::store::objects::Manifest;
use crate::store::{StageRecord, Store};

/// What a push or pull moved, for the terminal and `--json`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TransferSummary {
    pub remote: String,
    /// Stages whose records moved.
    pub stages: Vec<String>,
    /// Stages whose records were already there.
    pub already: Vec<String>,
    pub objects_moved: usize,
    pub objects_present: usize,
    pub bytes: u64,
    pub seconds: f64,
    /// One line per record that could not move, naming its stage, key and object.
    pub problems: Vec<String>,
}

impl TransferSummary {
    pub fn absorb(&mut self, other: TransferSummary) {
        self.stages.extend(other.stages);
        self.already.extend(other.already);
        self.objects_moved += other.objects_moved;
        self.objects_present += other.objects_present;
        self.bytes += other.bytes;
        self.problems.extend(other.problems);
    }
}

/// Runs `f` over `items` on up to `jobs` threads; results in order.
fn parallel<T: Sync, R: Send>(jobs: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    out.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// One local file to send: its remote path and size.
struct Upload {
    remote: String,
    local: PathBuf,
    size: u64,
}

/// What a record names, as push sends it and pull fetches it: the blobs of its outputs, each
/// with what it is (for messages) and its size where the record says it, and the manifests of
/// its directory outputs. `manifest` gives a directory output's manifest (`(output, digest)`).
struct Named {
    blobs: BTreeMap<ContentDigest, (String, Option<u64>)>,
    trees: Vec<ContentDigest>,
}

fn named_by(
    record: &StageRecord,
    mut manifest: impl FnMut(&str, &ContentDigest) -> Result<Manifest, RemoteError>,
) -> Result<Named, RemoteError> {
    let mut named = Named {
        blobs: BTreeMap::new(),
        trees: Vec::new(),
    };
    for (name, o) in &record.outputs {
        match o.ty {
            OutputType::File => {
                named.blobs.insert(
                    o.digest.clone(),
                    (format!("output '{name}'"), Some(o.bytes)),
                );
            }
            OutputType::Dir => {
                for (rel, b) in &manifest(name, &o.digest)?.files {
                    named.blobs.insert(
                        b.clone(),
                        (format!("file '{rel}' of output '{name}'"), None),
                    );
                }
                named.trees.push(o.digest.clone());
            }
        }
    }
    Ok(named)
}

/// Sends what the remote lacks of `entries`; returns (moved, present, bytes).
fn upload_all(
    remote: &dyn Backend,
    entries: &[Upload],
    jobs: usize,
    meter: &dyn Meter,
) -> Result<(usize, usize, u64), RemoteError> {
    let results = parallel(jobs, entries, |u| -> Result<bool, RemoteError> {
        if remote.stat(&u.remote)? == Some(u.size) {
            return Ok(false);
        }
        meter.planned(u.size);
        remote.write_from(&u.remote, &u.local, &|n| meter.moved(n))?;
        Ok(true)
    });
    let (mut moved, mut present, mut bytes) = (0, 0, 0);
    for (u, r) in entries.iter().zip(results) {
        if r? {
            moved += 1;
            bytes += u.size;
        } else {
            present += 1;
        }
    }
    Ok((moved, present, bytes))
}

/// Pushes `records` (each with its stage name): what they name first, then the records.
/// A record whose local outputs are damaged is not pushed (reported as a problem).
pub fn push(
    store: &Store,
    remote: &dyn Backend,
    records: &[(String, StageRecord)],
    jobs: usize,
    meter: &dyn Meter,
) -> Result<TransferSummary, RemoteError> {
    let mut summary = TransferSummary {
        remote: remote.describe(),
        ..TransferSummary::default()
    };
    let mut blobs = BTreeMap::new();
    let mut trees = BTreeMap::new();
    let mut sendable = Vec::new();
    for (stage, r) in records {
        if let Err(damage) = store.check_record(r, Depth::Digest) {
            summary.problems.push(format!(
                "stage '{stage}' (key {}): not pushed, its local output is damaged: {damage} \
                 (run `sapipe verify --repair`, then `sapipe run`)",
                r.key.short()
            ));
            continue;
        }
        let named = named_by(r, |_, d| Ok(store.read_manifest(d)?))?;
        let upload = |remote: String, local: PathBuf| -> Result<(String, Upload), RemoteError> {
            let size = std::fs::metadata(&local)
                .map_err(crate::store::StoreError::io(&local))?
                .len();
            Ok((
                remote.clone(),
                Upload {
                    remote,
                    local,
                    size,
                },
            ))
        };
        for d in named.blobs.keys() {
            let (at, u) = upload(object_path(d), store.object_path(d))?;
            blobs.insert(at, u);
        }
        for d in &named.trees {
            let (at, u) = upload(tree_path(d), store.tree_path(d))?;
            trees.insert(at, u);
        }
        sendable.push((stage.clone(), r));
    }
    let mut tally = |(moved, present, bytes): (usize, usize, u64)| {
        summary.objects_moved += moved;
        summary.objects_present += present;
        summary.bytes += bytes;
    };
    tally(upload_all(
        remote,
        &blobs.into_values().collect::<Vec<_>>(),
        jobs,
        meter,
    )?);
    tally(upload_all(
        remote,
        &trees.into_values().collect::<Vec<_>>(),
        jobs,
        meter,
    )?);
    // Records last: one on the remote means everything it names is there.
    let uploads: Vec<Upload> = sendable
        .iter()
        .map(|(_, r)| {
            let local = store.record_file(&r.key);
            let size = std::fs::metadata(&local).map(|m| m.len()).unwrap_or(0);
            Upload {
                remote: record_path(&r.key),
                local,
                size,
            }
        })
        .collect();
    let results = parallel(jobs, &uploads, |u| -> Result<Option<u64>, RemoteError> {
        if remote.stat(&u.remote)?.is_some() {
            return Ok(None); // the key's record is there (from any machine): consistent
        }
        remote.write_from(&u.remote, &u.local, &|n| meter.moved(n))?;
        Ok(Some(u.size))
    });
    for ((stage, _), r) in sendable.iter().zip(results) {
        match r? {
            Some(bytes) => {
                summary.bytes += bytes;
                summary.stages.push(stage.clone());
            }
            None => summary.already.push(stage.clone()),
        }
    }
    Ok(summary)
}

/// Fetches one remote entry into memory (records and manifests are small).
fn fetch_small(remote: &dyn Backend, path: &str) -> Result<Option<Vec<u8>>, RemoteError> {
    let mut bytes = Vec::new();
    Ok(remote.read_to(path, &mut bytes, &|_| {})?.then_some(bytes))
}

/// Pulls the record of `key` (for `stage`) and everything it names that the local cache
/// lacks. `Ok(None)`: the remote has no record of it. Errors name the key and the object.
pub fn pull_record(
    store: &Store,
    remote: &dyn Backend,
    stage: &str,
    key: &StageKey,
    jobs: usize,
    meter: &dyn Meter,
) -> Result<Option<(StageRecord, TransferSummary)>, RemoteError> {
    let untrusted = |what: String, why: String| RemoteError::Untrusted {
        remote: remote.describe(),
        key: format!("{} (stage '{stage}')", key.short()),
        what,
        why,
    };
    let Some(bytes) = fetch_small(remote, &record_path(key))? else {
        return Ok(None);
    };
    let record: StageRecord = serde_json::from_slice(&bytes)
        .map_err(|e| untrusted("its record".into(), format!("it does not parse: {e}")))?;
    if record.key != *key || record.key_record.key() != *key {
        return Err(untrusted(
            "its record".into(),
            format!(
                "it describes key {} (its key record hashes to {})",
                record.key.short(),
                record.key_record.key().short()
            ),
        ));
    }
    if let Some(why) = record.fault(key) {
        return Err(untrusted("its record".into(), why));
    }
    let mut summary = TransferSummary {
        remote: remote.describe(),
        ..TransferSummary::default()
    };
    // Manifests first (small, in memory), so the blobs they name are known.
    let mut new_trees = Vec::new();
    let named = named_by(&record, |name, digest| {
        if store
            .check_artifact(digest, OutputType::Dir, None, Depth::Size)
            .is_ok()
        {
            return Ok(store.read_manifest(digest)?);
        }
        let what = format!("manifest {} of output '{name}'", digest.short());
        let text = fetch_small(remote, &tree_path(digest))?
            .ok_or_else(|| untrusted(what.clone(), "the remote lacks it".into()))?;
        let actual = ContentDigest::of_bytes(&text);
        if actual != *digest {
            return Err(untrusted(
                what,
                format!("its bytes hash to {}", actual.short()),
            ));
        }
        let m: Manifest = serde_json::from_slice(&text)
            .map_err(|e| untrusted(what, format!("it does not parse: {e}")))?;
        new_trees.push((digest.clone(), text));
        Ok(m)
    })?;
    let wanted = named.blobs;
    let wanted_count = wanted.len() + new_trees.len();
    let missing: Vec<(ContentDigest, String, Option<u64>)> = wanted
        .into_iter()
        .filter(|(d, _)| store.check_blob(d, None, Depth::Size).is_err())
        .map(|(d, (what, size))| (d, what, size))
        .collect();
    let scratch = store.scratch_dir("pull")?;
    let results = parallel(
        jobs,
        &missing,
        |(d, what, size)| -> Result<u64, RemoteError> {
            let what = format!("object {} ({what})", d.short());
            if let Some(expected) = size {
                meter.planned(*expected);
            }
            let tmp = scratch.join(d.hex());
            let file = std::fs::File::create(&tmp).map_err(crate::store::StoreError::io(&tmp))?;
            let mut sink = Hashing::new(std::io::BufWriter::new(file));
            let found = remote.read_to(&object_path(d), &mut sink, &|n| meter.moved(n))?;
            if !found {
                return Err(untrusted(what, "the remote lacks it".into()));
            }
            let (writer, actual) = sink.finish();
            writer
                .into_inner()
                .map_err(|e| crate::store::StoreError::io(&tmp)(e.into_error()))?
                .sync_all()
                .map_err(crate::store::StoreError::io(&tmp))?;
            let got = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
            if actual != *d {
                let _ = std::fs::remove_file(&tmp);
                return Err(untrusted(
                    what,
                    format!("its bytes hash to {}", actual.short()),
                ));
            }
            if let Some(expected) = size
                && *expected != got
            {
                let _ = std::fs::remove_file(&tmp);
                return Err(untrusted(
                    what,
                    format!("{got} bytes where the record says {expected}"),
                ));
            }
            store.adopt_blob(&tmp, d)?;
            Ok(got)
        },
    );
    let outcome = (|| -> Result<(), RemoteError> {
        for r in results {
            summary.bytes += r?;
            summary.objects_moved += 1;
        }
        for (d, text) in &new_trees {
            store.write_tree(d, text)?;
            summary.objects_moved += 1;
        }
        // The whole record, sizes included, before it is adopted.
        store
            .check_record(&record, Depth::Size)
            .map_err(|damage| untrusted("its outputs".into(), damage.to_string()))?;
        store.write_record(&record)?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    outcome?;
    summary.objects_present = wanted_count - summary.objects_moved;
    summary.bytes += bytes.len() as u64;
    summary.stages.push(stage.to_string());
    Ok(Some((record, summary)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_keeps_the_order_of_its_items() {
        let items: Vec<u32> = (0..50).collect();
        assert_eq!(
            parallel(4, &items, |i| i * 2),
            (0..50).map(|i| i * 2).collect::<Vec<_>>()
        );
        assert!(parallel(4, &[] as &[u32], |i| *i).is_empty());
    }

    /// A remote in memory: entries by path, as any backend (directory, S3) serves them.
    struct Memory(BTreeMap<String, Vec<u8>>);

    impl Backend for Memory {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn stat(&self, path: &str) -> Result<Option<u64>, RemoteError> {
            Ok(self.0.get(path).map(|b| b.len() as u64))
        }
        fn read_to(
            &self,
            path: &str,
            to: &mut dyn std::io::Write,
            _: &dyn Fn(u64),
        ) -> Result<bool, RemoteError> {
            let Some(b) = self.0.get(path) else {
                return Ok(false);
            };
            to.write_all(b).map_err(|cause| RemoteError::Io {
                remote: "memory".into(),
                path: path.into(),
                cause,
            })?;
            Ok(true)
        }
        fn write_from(
            &self,
            _: &str,
            _: &std::path::Path,
            _: &dyn Fn(u64),
        ) -> Result<(), RemoteError> {
            unreachable!("pull never writes to the remote")
        }
    }

    /// Issue 30, cases 1 and 2, for every backend: a remote record whose digest names a file
    /// outside the cache, or whose key or digest is short, is refused by key, never stored, and
    /// nothing it names is touched (pull counted such an object as already present).
    #[test]
    fn case1_case2_pull_refuses_remote_records_with_invalid_digests_or_keys() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("cache")).unwrap();
        let outside = d.path().join("precious.txt");
        std::fs::write(&outside, "precious\n").unwrap();
        let record = StageRecord::fixture(crate::key::fixtures::fixture());
        let key = record.key.clone();
        let mut good = serde_json::to_value(&record).unwrap();
        good["outputs"] = serde_json::json!({"checkpoint": {
            "digest": ContentDigest::of_bytes(b"x"), "type": "file", "bytes": 1}});
        let hostile = |path: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v.pointer_mut(path).map(|at| *at = value).unwrap();
            v
        };
        for (record, named) in [
            (
                hostile(
                    "/outputs/checkpoint/digest",
                    format!("xx{}", outside.display()).into(),
                ),
                "invalid content digest",
            ),
            (
                hostile("/outputs/checkpoint/digest", "b".into()),
                "invalid content digest",
            ),
            (hostile("/key", "a".into()), "invalid stage key"),
            (
                hostile("/key_record/inputs/prepared", "../x".into()),
                "invalid content digest",
            ),
        ] {
            let remote = Memory(BTreeMap::from([(
                record_path(&key),
                serde_json::to_vec(&record).unwrap(),
            )]));
            let e = pull_record(
                &store,
                &remote,
                "s",
                &key,
                2,
                &super::super::transfer::NoMeter,
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains(named) && e.contains("stage 's'") && e.contains("not stored"),
                "{e}"
            );
            assert!(!store.has_record(&key));
            assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
        }
    }
}
