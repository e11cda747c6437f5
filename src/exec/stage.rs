//! Executes one stage into the cache: under the key's lock, in a scratch directory, then the
//! outputs are stored by content and, last of all, the record is written. A failure or a kill
//! at any point leaves no record, so nothing incomplete ever looks complete.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use super::keys::Known;
use super::{Engine, Event, ExecError};
use crate::key::{ContentDigest, KeyRecord, StageKey};
use crate::kind::{KindError, Metrics, StageContext};
use crate::spec::{Implementation, OutputType, Stage};
use crate::store::integrity::Depth;
use crate::store::{OutputRecord, StageRecord};

/// How a stage ended up done.
#[derive(Debug)]
pub enum Done {
    Executed(StageRecord),
    /// Another run computed the key while we waited for its lock.
    ComputedElsewhere(StageRecord),
    /// A remote cache had the key's result, verified and adopted instead of executing.
    Pulled(StageRecord),
}

/// Executes `stage` unless (and `force` overrides this) another run completed its key while
/// this one waited for the key's lock.
pub fn execute(
    engine: &Engine,
    stage: &Stage,
    record: KeyRecord,
    known: &Known,
    force: bool,
) -> Result<Done, ExecError> {
    // Whoever executes stages here (run, audit, a Slurm job) stops their commands on a signal.
    super::interrupt::install();
    let key = record.key();
    let store = engine.store;
    let _lock = store.lock_key(&key, || {
        (engine.events)(Event::Waiting {
            stage: stage.name.clone(),
        })
    })?;
    if !force && let Some(r) = trusted_record(engine, stage, &key)? {
        return Ok(Done::ComputedElsewhere(r));
    }
    (engine.events)(Event::Started {
        stage: stage.name.clone(),
        key: key.hex().to_string(),
    });
    let workdir = store.scratch_dir(&stage.name)?;
    let result = run_in(engine, stage, &key, record, known, &workdir);
    let _ = std::fs::remove_dir_all(&workdir);
    // A stage stopped by a signal reports nothing of its own: the handler says what it stopped.
    super::interrupt::check()?;
    result.map(Done::Executed)
}

fn run_in(
    engine: &Engine,
    stage: &Stage,
    key: &StageKey,
    key_record: KeyRecord,
    known: &Known,
    workdir: &std::path::Path,
) -> Result<StageRecord, ExecError> {
    let store = engine.store;
    let fail = |message: String| ExecError::Stage {
        stage: stage.name.clone(),
        message,
    };
    let bound = bound_inputs(engine, stage, known)?;
    let inputs: BTreeMap<String, PathBuf> = bound
        .iter()
        .map(|b| (b.name.clone(), b.path.clone()))
        .collect();
    let out_dir = workdir.join("out");
    let mut outputs = BTreeMap::new();
    for (name, spec) in &stage.definition.outputs {
        let path = out_dir.join(name);
        if spec.ty == OutputType::Dir {
            std::fs::create_dir_all(&path)
                .map_err(|e| fail(format!("cannot create {}: {e}", path.display())))?;
        }
        outputs.insert(name.clone(), path);
    }
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", out_dir.display())))?;
    let log_path = store.log_path(key);
    write_log_header(&log_path, stage, key)
        .map_err(|e| fail(format!("cannot write the log {}: {e}", log_path.display())))?;
    let mut params = stage.params.clone();
    for (name, path) in &stage.paths {
        params.insert(
            name.clone(),
            serde_json::Value::String(path.display().to_string()),
        );
    }
    let progress = |done: u64, total: u64, message: &str| {
        (engine.events)(Event::Progress {
            stage: stage.name.clone(),
            done,
            total,
            message: message.to_string(),
        })
    };
    let numerics = std::sync::Mutex::new(None);
    let report_numerics = |n: crate::reproducibility::Numerics| {
        *numerics.lock().unwrap_or_else(|p| p.into_inner()) = Some(n);
    };
    let ctx = StageContext {
        stage: &stage.name,
        params: &params,
        inputs: &inputs,
        outputs: &outputs,
        workdir: workdir.to_owned(),
        log_path: log_path.clone(),
        device: engine.stage_device(stage),
        deterministic: engine.pipeline.deterministic,
        progress: &progress,
        numerics: &report_numerics,
    };
    let started = SystemTime::now();
    let clock = Instant::now();
    let metrics = run_kind(engine, stage, &ctx).map_err(|e| {
        let _ = append_log(&log_path, &format!("FAILED: {e}\n"));
        fail(format!("{e}{}", log_tail(&log_path)))
    })?;
    let duration = clock.elapsed();
    if matches!(
        stage.definition.implementation,
        Implementation::Command { .. }
    ) {
        // Root ignores read-only bits: make sure the command left its inputs as they were.
        check_inputs(engine, stage, &bound, Moment::After)?;
    }
    let mut stored = BTreeMap::new();
    for (name, path) in &outputs {
        let ty = stage.definition.outputs[name].ty;
        if let Some((file, kind)) = crate::store::fsutil::first_irregular(path) {
            return Err(fail(format!(
                "its output '{name}' is or holds {kind} ({}): outputs must be regular files \
                 or folders of regular files (copy the data instead of linking it)",
                file.display()
            )));
        }
        let produced = match ty {
            OutputType::File => path.is_file(),
            OutputType::Dir => path.is_dir(),
        };
        if !produced {
            return Err(fail(format!(
                "it did not produce its output '{name}' (expected a {} at {})",
                if ty == OutputType::Dir {
                    "directory"
                } else {
                    "file"
                },
                path.display()
            )));
        }
        let (digest, bytes) = match ty {
            OutputType::File => store.put_file(path)?,
            OutputType::Dir => store.put_dir(path)?,
        };
        stored.insert(name.clone(), OutputRecord { digest, ty, bytes });
    }
    let record = StageRecord {
        key: key.clone(),
        pipeline: engine.pipeline.name.clone(),
        stage: stage.name.clone(),
        key_record,
        outputs: stored,
        metrics,
        started: humantime::format_rfc3339_seconds(started).to_string(),
        finished: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        duration_s: duration.as_secs_f64(),
        host: engine.env.host.clone(),
        device: engine.stage_device(stage).to_string(),
        sapipe_version: env!("CARGO_PKG_VERSION").to_string(),
        environment: Some(crate::reproducibility::Environment::here(
            numerics.lock().unwrap_or_else(|p| p.into_inner()).take(),
        )),
        overrides: stage.overrides.clone(),
        seal: None,
    }
    .sealed();
    let _ = append_log(
        &log_path,
        &format!("done in {:.2} s\n", duration.as_secs_f64()),
    );
    store.write_record(&record)?;
    Ok(record)
}

fn run_kind(engine: &Engine, stage: &Stage, ctx: &StageContext) -> Result<Metrics, KindError> {
    let call = || match &stage.definition.implementation {
        Implementation::Command { command, .. } => {
            super::command::run(command, &engine.pipeline.root, ctx)
        }
        Implementation::Builtin { .. } => match engine.kinds.get(&stage.definition.kind) {
            Some(kind) => kind.run(ctx),
            None => Err(KindError::Invalid(format!(
                "unknown kind '{}'",
                stage.definition.kind
            ))),
        },
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(KindError::Failed(format!(
                "internal error (a bug in sapipe, please report it): {what}"
            )))
        }
    }
}

/// The record of `key` if its outputs are intact: sizes always, digests too when the stage
/// publishes (its bytes leave the cache). A damaged output is quarantined and its record
/// removed, so the stage reruns.
pub fn trusted_record(
    engine: &Engine,
    stage: &Stage,
    key: &StageKey,
) -> Result<Option<StageRecord>, ExecError> {
    let Some(r) = engine.store.record(key)? else {
        return Ok(None);
    };
    let depth = if stage.publish.is_empty() {
        Depth::Size
    } else {
        Depth::Digest
    };
    match engine.store.check_record(&r, depth) {
        Ok(()) => Ok(Some(r)),
        Err(damage) => {
            tracing::warn!("stage '{}': {damage}; it will rerun", stage.name);
            engine.store.condemn(Some(key), &damage)?;
            Ok(None)
        }
    }
}

/// An artifact bound to an input (`many` inputs are named `input/stage`).
struct Bound {
    name: String,
    producer: String,
    digest: ContentDigest,
    ty: OutputType,
    path: PathBuf,
}

#[derive(PartialEq)]
enum Moment {
    Before,
    After,
}

/// The artifacts bound to each input, their digests checked before the stage reads them.
fn bound_inputs(engine: &Engine, stage: &Stage, known: &Known) -> Result<Vec<Bound>, ExecError> {
    let mut out = Vec::new();
    for (input, bindings) in &stage.inputs {
        let many = stage.definition.inputs.get(input).is_some_and(|i| i.many);
        for b in bindings {
            let digest = known
                .get(&b.stage)
                .and_then(|o| o.get(&b.output))
                .ok_or_else(|| {
                    ExecError::Input(format!(
                        "stage '{}': input '{input}' from {b} is not available",
                        stage.name
                    ))
                })?;
            let up = engine
                .pipeline
                .stage(&b.stage)
                .expect("bindings name stages");
            let ty = up.definition.outputs[&b.output].ty;
            out.push(Bound {
                name: if many {
                    format!("{input}/{}", b.stage)
                } else {
                    input.clone()
                },
                producer: b.stage.clone(),
                digest: digest.clone(),
                ty,
                path: PathBuf::new(),
            });
        }
    }
    check_inputs(engine, stage, &out, Moment::Before)?;
    for b in &mut out {
        b.path = engine.store.artifact_path(&b.digest, b.ty)?;
    }
    Ok(out)
}

/// Re-hashes the bound inputs; a damaged one is quarantined and named in the error, whose
/// producers the scheduler reruns (and, when found before the stage ran, the stage after).
fn check_inputs(
    engine: &Engine,
    stage: &Stage,
    bound: &[Bound],
    moment: Moment,
) -> Result<(), ExecError> {
    let mut producers = Vec::new();
    let mut lines = Vec::new();
    for b in bound {
        let input = format!("input '{}' (output of stage '{}')", b.name, b.producer);
        match engine.store.check_input(&b.digest, b.ty) {
            Ok(false) => {}
            // A folder with files added or replaced (its blobs intact): dropped, rebuilt.
            Ok(true) if moment == Moment::Before => {}
            Ok(true) => lines.push(format!(
                "{input} was modified while the stage ran: files were added to or replaced in \
                 {}",
                b.path.display()
            )),
            Err(damage) => {
                engine.store.condemn(None, &damage)?;
                lines.push(format!(
                    "{input} {}: {damage}",
                    if moment == Moment::Before {
                        "is damaged in the cache"
                    } else {
                        "was modified while the stage ran"
                    }
                ));
                producers.push(b.producer.clone());
            }
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    let retry = moment == Moment::Before;
    let rerun = if producers.is_empty() {
        String::new()
    } else {
        format!("; quarantined it, and {} will rerun", producers.join(", "))
    };
    Err(ExecError::Damaged {
        stage: stage.name.clone(),
        message: format!(
            "{}{rerun}{}",
            lines.join("; "),
            if retry {
                ""
            } else {
                " (a stage must not write to its inputs)"
            }
        ),
        producers,
        retry,
    })
}

fn write_log_header(path: &std::path::Path, stage: &Stage, key: &StageKey) -> std::io::Result<()> {
    let now = humantime::format_rfc3339_seconds(SystemTime::now());
    std::fs::write(
        path,
        format!(
            "== sapipe stage '{}' ({}) key {} at {now}\n",
            stage.name, stage.definition.name, key
        ),
    )
}

fn append_log(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// The last lines of a log, for failure messages.
pub fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("== sapipe stage") && !l.starts_with("FAILED: "))
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(15)..];
    format!(
        "\n  log {} (last lines):\n    {}",
        path.display(),
        tail.join("\n    ")
    )
}
