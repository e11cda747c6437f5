//! Fitted models at work on the command line: `sapipe predict` (find the train stage's fitted
//! model with `ops::fitted`, run the worker's `predict` kind on the images with the progress
//! bar and summary of `ui::predict`) and the `preprocessing` each train stage's `show --json`
//! entry gains.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Value, json};

use crate::kind::{DeviceClass, KindError, StageContext, StageKind};
use crate::ops::fitted::fitted;
use crate::ops::{self, Session};

pub struct Request {
    pub stage: String,
    pub images: PathBuf,
    pub neurons: Option<Vec<usize>>,
    pub out: PathBuf,
    pub device: Option<DeviceClass>,
    pub json: bool,
}

/// `show --json`: the entries, each train stage's (one with a checkpoint whose chain
/// resolves) with `preprocessing`, the transform its images went through.
pub fn show_json(session: &Session, entries: &[ops::show::ShowEntry]) -> anyhow::Result<String> {
    // The chain runs through upstream stages, which a one-stage `show` does not list.
    let all = match entries.iter().any(|e| e.files.contains_key("checkpoint")) {
        true => ops::show::show(session, None)?,
        false => Vec::new(),
    };
    let mut out = Vec::new();
    for e in entries {
        let mut v = serde_json::to_value(e)?;
        if e.files.contains_key("checkpoint")
            && let Ok(f) = fitted(&all, &e.stage)
        {
            v["preprocessing"] = serde_json::to_value(f.preprocessing)?;
        }
        out.push(v);
    }
    Ok(serde_json::to_string_pretty(&out)?)
}

/// Runs `sapipe predict`; returns the exit code.
pub fn predict(session: &Session, req: &Request) -> anyhow::Result<i32> {
    let entries = ops::show::show(session, None)?;
    let f = fitted(&entries, &req.stage)?;
    if !req.images.exists() {
        anyhow::bail!("--images {}: no such file or folder", req.images.display());
    }
    let out =
        std::path::absolute(&req.out).with_context(|| format!("--out {}", req.out.display()))?;
    if let Some(parent) = out.parent().filter(|p| !p.is_dir()) {
        anyhow::bail!(
            "--out {}: the folder {} does not exist",
            req.out.display(),
            parent.display()
        );
    }
    let group_size = entries
        .iter()
        .find(|e| e.stage == req.stage)
        .and_then(|e| e.record.as_ref())
        .and_then(|r| r.metrics.get("neurons_per_group"))
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let params = BTreeMap::from([
        (
            "preprocessing".to_owned(),
            serde_json::to_value(f.preprocessing)?,
        ),
        ("neurons".to_owned(), json!(req.neurons)),
        ("group_size".to_owned(), json!(group_size)),
    ]);
    let inputs = BTreeMap::from([
        ("checkpoint".to_owned(), f.checkpoint.clone()),
        ("prepared".to_owned(), f.prepared.clone()),
        ("images".to_owned(), std::path::absolute(&req.images)?),
    ]);
    let outputs = BTreeMap::from([("predictions".to_owned(), out.clone())]);
    let scratch = tempfile::tempdir()?;
    let log_path = scratch.path().join("predict.log");
    let bar = crate::ui::predict::bar();
    let progress = |done: u64, total: u64, _: &str| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let ctx = StageContext {
        stage: &req.stage,
        params: &params,
        inputs: &inputs,
        outputs: &outputs,
        workdir: scratch.path().to_owned(),
        log_path: log_path.clone(),
        device: req.device.unwrap_or(session.device),
        deterministic: true,
        progress: &progress,
        numerics: &|_| {},
    };
    let result = crate::ops::predict::worker_kind().run(&ctx);
    bar.finish_and_clear();
    let metrics = match result {
        Ok(m) => m,
        Err(KindError::Invalid(message)) => anyhow::bail!("predict {}: {message}", req.stage),
        Err(e) => {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            anyhow::bail!(
                "predict {}: {e}{}",
                req.stage,
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("\nworker log:\n{}", tail.join("\n"))
                }
            )
        }
    };
    if req.json {
        let mut v = serde_json::to_value(&metrics)?;
        v["stage"] = json!(req.stage);
        v["out"] = json!(out);
        v["checkpoint"] = json!(f.checkpoint);
        v["preprocessing"] = serde_json::to_value(f.preprocessing)?;
        crate::outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        crate::out!(
            "{}",
            crate::ui::predict::summary(&req.stage, &f, &metrics, &out)
        );
    }
    Ok(0)
}
