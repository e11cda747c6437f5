//! Plain-text rendering of each operation's result for the terminal (JSON goes through serde).

use std::fmt::Write;

use crate::exec::plan::{StageStatus, State};
use crate::exec::scheduler::RunSummary;
use crate::ops::show::ShowEntry;
use crate::store::gc::GcReport;
use crate::store::verify::VerifyReport;

pub fn run_summary(s: &RunSummary) -> String {
    let pulled = match s.pulled.len() {
        0 => String::new(),
        n => format!("{n} pulled, "),
    };
    let mut out = format!(
        "{} ran, {pulled}{} cached, {} failed, {} skipped\n",
        s.executed.len(),
        s.cached.len(),
        s.failed.len(),
        s.skipped.len()
    );
    for line in &s.lock_verdicts {
        let _ = writeln!(out, "lock: {line}");
    }
    for (_, message) in &s.failed {
        let _ = writeln!(out, "error: {message}");
    }
    out
}

fn state_word(s: State) -> &'static str {
    match s {
        State::UpToDate => "up to date",
        State::WillRun => "will run",
        State::MayRun => "may run",
    }
}

/// `sapipe status`: a line per stage, then `definitions` (which definitions they use, see
/// `catalogue::definitions_used`), then the count line, last (scripts read it).
pub fn status(statuses: &[StageStatus], definitions: &str) -> String {
    let width = statuses.iter().map(|s| s.stage.len()).max().unwrap_or(0);
    let mut out = String::new();
    for s in statuses {
        let reasons: Vec<String> = s.reasons.iter().map(|r| r.to_string()).collect();
        let why = if reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", reasons.join("; "))
        };
        let _ = writeln!(out, "{:width$}  {}{why}", s.stage, state_word(s.state));
    }
    out.push_str(definitions);
    let count = |state| statuses.iter().filter(|s| s.state == state).count();
    let _ = writeln!(
        out,
        "{} of {} stages will run; {} may run (only if an upstream output changes)",
        count(State::WillRun),
        statuses.len(),
        count(State::MayRun)
    );
    out
}

/// `  param   NAME = VALUE` lines, as `explain` lists a stage's parameters.
fn param_lines(out: &mut String, params: &std::collections::BTreeMap<String, serde_json::Value>) {
    for (name, v) in params {
        let _ = writeln!(out, "  param   {name} = {v}");
    }
}

pub fn explain(s: &StageStatus) -> String {
    let mut out = format!("stage {}: {}\n", s.stage, state_word(s.state));
    match &s.key {
        Some(k) if s.state == State::UpToDate => {
            let _ = writeln!(out, "key {k}");
        }
        Some(k) => {
            let _ = writeln!(
                out,
                "key {k}{}",
                if s.state == State::MayRun {
                    " (assuming upstream outputs unchanged)"
                } else {
                    ""
                }
            );
        }
        None => out.push_str("key: not computable yet\n"),
    }
    if s.record.is_none() && !s.params.is_empty() {
        out.push_str("parameters (the key also needs upstream outputs, not known yet):\n");
        param_lines(&mut out, &s.params);
    }
    if let Some(r) = &s.record {
        out.push_str("components:\n");
        let _ = writeln!(out, "  schema          {}", r.schema);
        let _ = writeln!(out, "  definition      {} (kind {})", r.definition, r.kind);
        let imp = serde_json::to_string(&r.implementation).unwrap_or_default();
        let _ = writeln!(out, "  implementation  {imp}");
        param_lines(&mut out, &r.params);
        for (name, v) in &r.inputs {
            let _ = writeln!(
                out,
                "  input   {name} = {}",
                serde_json::to_string(v).unwrap_or_default()
            );
        }
        if let Some(c) = &r.context {
            let _ = writeln!(
                out,
                "  context libtorch {}, device {}, deterministic {}",
                c.libtorch, c.device, c.deterministic
            );
        }
    }
    match &s.previous {
        Some(p) => {
            let _ = writeln!(
                out,
                "last record: {} ({}, {:.1} s on {})",
                p.key.short(),
                p.finished,
                p.duration_s,
                p.host
            );
        }
        None => out.push_str("last record: none\n"),
    }
    if s.reasons.is_empty() {
        out.push_str("nothing changed\n");
    } else {
        out.push_str("changed:\n");
        for r in &s.reasons {
            let _ = writeln!(out, "  {r}");
        }
    }
    out
}

pub fn show(entries: &[ShowEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let state = if e.stale {
            "not up to date; last result shown"
        } else {
            "up to date"
        };
        let _ = writeln!(out, "{} ({}): {}", e.stage, e.definition, state);
        if let Some(r) = &e.record {
            let _ = writeln!(
                out,
                "  key {}  {:.1} s on {} ({}), finished {}",
                r.key.short(),
                r.duration_s,
                r.host,
                r.device,
                r.finished
            );
            for (name, path) in &e.files {
                let _ = writeln!(out, "  output  {name}: {}", path.display());
            }
            for name in &e.missing {
                let _ = writeln!(
                    out,
                    "  output  {name}: missing from the cache (`sapipe run` recomputes it)"
                );
            }
            for (name, v) in &r.metrics {
                let _ = writeln!(out, "  metric  {name} = {}", compact(v));
            }
        } else {
            out.push_str("  no result yet\n");
        }
    }
    out
}

fn compact(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 100 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(99).map(|(i, _)| i).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

pub fn verify(r: &VerifyReport) -> String {
    let mut out = format!(
        "checked {} objects, {} manifests, {} records\n",
        r.objects, r.trees, r.records
    );
    for p in &r.problems {
        let _ = writeln!(out, "problem: {p}");
    }
    for p in &r.repaired {
        let _ = writeln!(out, "repaired: {p}");
    }
    if r.problems.is_empty() {
        out.push_str("the cache is intact\n");
    }
    out
}

pub fn gc(r: &GcReport) -> String {
    let mut out = String::new();
    let verb = if r.dry_run { "would remove" } else { "removed" };
    for p in &r.removed {
        let _ = writeln!(out, "{verb} {}", p.display());
    }
    let _ = writeln!(
        out,
        "{verb} {} entries ({} bytes); kept {} records",
        r.removed.len(),
        r.bytes,
        r.kept_records
    );
    out
}

pub fn doctor(r: &crate::neuro::runtime::RuntimeReport) -> String {
    let mut out = String::new();
    if let Some(w) = &r.worker {
        let _ = writeln!(out, "worker:        {w}");
    }
    let _ = writeln!(
        out,
        "libtorch:      {}{}",
        r.libtorch
            .as_deref()
            .unwrap_or("not built in (built without the `torch` feature)"),
        r.libtorch_dir
            .as_deref()
            .map(|d| format!(" at {d}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "CUDA:          {}",
        if r.cuda_available {
            "available"
        } else {
            "not available"
        }
    );
    let _ = writeln!(
        out,
        "cuDNN:         {}",
        if r.cudnn_available {
            "available"
        } else {
            "not available"
        }
    );
    let _ = writeln!(out, "devices:       {}", r.devices.join(", "));
    let _ = writeln!(
        out,
        "determinism:   {}",
        r.determinism.as_deref().unwrap_or("n/a")
    );
    let _ = writeln!(
        out,
        "CUBLAS_WORKSPACE_CONFIG: {}",
        r.cublas_workspace_config.as_deref().unwrap_or("(unset)")
    );
    out
}

pub fn bench_noop(b: &crate::ops::bench_noop::NoopBench) -> String {
    format!(
        "no-op `sapipe run` on a cached {}-stage pipeline: median {:.1} ms over {} runs\n\
         baseline `sapipe --version` (process start): median {:.1} ms\n\
         ratio no-op run / process start: {:.2}\n",
        b.stages, b.noop_run_ms, b.repeats, b.process_start_ms, b.ratio
    )
}

pub fn bench_matrix(b: &crate::ops::bench_matrix::MatrixBench) -> String {
    format!(
        "generated matrix pipeline of {} command stages, medians over {} runs:\n\
         `sapipe status` (all cached):   {:8.1} ms  ({:.2} x process start)\n\
         no-op `sapipe run`:             {:8.1} ms  ({:.2} x process start)\n\
         baseline `sapipe --version`:    {:8.1} ms\n\
         cold `sapipe run --jobs 1`:     {:8.1} ms\n\
         the same commands run directly: {:8.1} ms\n\
         scheduling overhead per executed stage: {:.2} ms\n",
        b.stages,
        b.repeats,
        b.status_ms,
        b.status_ms / b.process_start_ms,
        b.noop_run_ms,
        b.noop_run_ms / b.process_start_ms,
        b.process_start_ms,
        b.cold_run_ms,
        b.direct_commands_ms,
        b.overhead_per_stage_ms
    )
}

pub fn audit(r: &crate::ops::audit::AuditReport) -> String {
    use crate::ops::audit::Verdict;
    let width = r
        .stages
        .iter()
        .map(|s| s.stage.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!("{:width$}  verdict\n", "stage");
    for s in &r.stages {
        let verdict = match s.verdict {
            Verdict::Identical => "identical",
            Verdict::WithinTolerance => "within tolerance",
            Verdict::WithinToleranceOnOtherHardware => "within tolerance on other hardware",
            Verdict::Differs => "DIFFERS",
            Verdict::Stale => "STALE",
            Verdict::NoReference => "NO REFERENCE",
            Verdict::Failed => "FAILED",
        };
        let _ = writeln!(out, "{:width$}  {verdict}", s.stage);
        if let Some(n) = &s.note {
            let _ = writeln!(out, "{:width$}    {n}", "");
        }
        for d in &s.differences {
            let _ = writeln!(out, "{:width$}    {d}", "");
        }
    }
    let bad = r.stages.iter().filter(|s| !s.verdict.passed()).count();
    let _ = writeln!(
        out,
        "{}",
        if r.passed {
            "audit passed: every output reproduced".to_string()
        } else {
            format!("audit FAILED: {bad} stage(s) did not reproduce")
        }
    );
    out
}

pub fn models(
    archs: &[crate::neuro::model::ArchInfo],
    chain: &[crate::neuro::model::ChainStep],
) -> String {
    let mut out = format!(
        "{:<16} {:<20} {:>3}  {:<40} {:>12}\n",
        "model", "id", "C", "body -> readout", "params/neuron"
    );
    for a in archs {
        let body = format!("{} -> {}", a.body, a.readout);
        let _ = writeln!(
            out,
            "{:<16} {:<20} {:>3}  {:<40} {:>12}",
            a.name, a.id, a.channels, body, a.trainable_params
        );
    }
    out.push_str(
        "\nincremental chain (models.md §5): trainable parameters with upstream blocks frozen\n",
    );
    for c in chain {
        let _ = writeln!(
            out,
            "{:<24} {:<20} frozen [{}]  {:>6}",
            c.label,
            c.model,
            c.frozen.join(", "),
            c.trainable_params
        );
    }
    out
}

#[cfg(feature = "torch")]
pub fn bench_train(b: &crate::neuro::train::bench::BenchReport) -> String {
    use crate::neuro::train::memory::gib;
    let show = |bytes: Option<u64>| bytes.map_or_else(|| "unknown".to_owned(), gib);
    let mut out = format!(
        "train throughput, {} x {} neurons on {}, batch {}, {} timed steps per network, median of {} rounds\n\
         population trainer ({} neurons per chunk): {:.0} image x neuron / s\n",
        b.model,
        b.neurons,
        b.device,
        b.batch_size,
        b.steps,
        b.rounds,
        b.population.group_size,
        b.population.images_neuron_per_s,
    );
    if let (Some(one), Some(ratio), Some(faster)) = (&b.per_neuron, b.ratio, b.faster) {
        out.push_str(&format!(
            "one neuron at a time (baseline):            {:.0} image x neuron / s\n\
             ratio population / one-at-a-time: {ratio:.2} ({faster} is faster)\n",
            one.images_neuron_per_s
        ));
    }
    let m = &b.memory;
    out.push_str(&format!(
        "memory: budget {}{}; peak resident {} (predicted {}; {} before training, {} per neuron)\n",
        m.budget,
        m.budget_bytes
            .map(|bytes| format!(" = {} for the process", gib(bytes)))
            .unwrap_or_default(),
        show(m.peak_rss_bytes),
        show(m.predicted_peak_bytes),
        show(m.start_rss_bytes),
        gib(m.per_neuron_bytes),
    ));
    out
}

pub fn bench_data(b: &crate::neuro::data::sim::bench::BenchReport) -> String {
    format!(
        "synthetic-v1: {} images x {} neurons ({} px, {} threads)\n\
         calibration ({} images): {:.1} s; generation: {:.1} s; total {:.1} s\n\
         {:.0} image x neuron / s; ratio to the 60 s budget of issue 4: {:.2}\n\
         responses digest {}\n",
        b.images,
        b.neurons,
        b.image_size,
        b.threads,
        b.calibration_images,
        b.calibration_seconds,
        b.generation_seconds,
        b.total_seconds,
        b.image_neurons_per_second,
        b.total_seconds / 60.0,
        b.responses_digest
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::compare::Difference;
    use crate::ops::audit::{AuditReport, StageAudit, Verdict};

    fn stage(name: &str, verdict: Verdict) -> StageAudit {
        StageAudit {
            stage: name.into(),
            verdict,
            reference_key: None,
            differences: Vec::new(),
            note: None,
        }
    }

    /// Every verdict as `sapipe audit` prints it, with a note and both kinds of difference.
    #[test]
    fn audit_verdicts_render() {
        let mut differs = stage("train_ff_sa_cnn", Verdict::Differs);
        differs.differences = vec![
            Difference {
                what: "checkpoint.safetensors: tensor alpha1.conv.weight".into(),
                max_abs: Some(0.5),
                max_rel: Some(0.25),
                note: None,
                parameters: false,
            },
            Difference {
                what: "metrics: mean_corr".into(),
                max_abs: None,
                max_rel: None,
                note: Some("missing".into()),
                parameters: false,
            },
        ];
        let mut stale = stage("evaluate", Verdict::Stale);
        stale.note = Some("the pipeline changed since the lock file was written".into());
        let report = AuditReport {
            stages: vec![
                stage("data", Verdict::Identical),
                stage("prep", Verdict::WithinTolerance),
                stage("train_rf", Verdict::WithinToleranceOnOtherHardware),
                differs,
                stale,
                stage("report", Verdict::NoReference),
                stage("decompose", Verdict::Failed),
            ],
            passed: false,
        };
        insta::assert_snapshot!("audit_failed", audit(&report));
        let passed = AuditReport {
            stages: vec![stage("gen", Verdict::Identical)],
            passed: true,
        };
        insta::assert_snapshot!("audit_passed", audit(&passed));
    }
}
