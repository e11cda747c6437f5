//! The live display of a run: one line per finished stage, and a progress bar per running
//! stage (indicatif) when stderr is a terminal; plain log lines otherwise.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exec::Event;

/// stderr when it is a terminal, else nowhere: bars are for people, logs for files.
pub fn stderr_target() -> ProgressDrawTarget {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

pub struct Progress {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
    interactive: bool,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(stderr_target()),
            bars: Mutex::new(BTreeMap::new()),
            interactive: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }

    fn line(&self, text: String) {
        if self.interactive {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    pub fn handle(&self, event: Event) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Planned { stages } => tracing::debug!(count = stages.len(), "planned"),
            Event::Cached { stage } => self.line(format!("  cached   {stage}")),
            Event::Pulled { stage } => self.line(format!("  pulled   {stage} (from the remote)")),
            Event::Waiting { stage } => self.line(format!(
                "  waiting  {stage} (another sapipe run is computing it)"
            )),
            Event::Started { stage, key } => {
                tracing::info!(stage = %stage, key = %key, "started");
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {spinner} {prefix:.bold} {elapsed} {wide_bar} {pos}/{len} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(stage.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                bars.insert(stage, bar);
            }
            Event::Progress {
                stage,
                done,
                total,
                message,
            } => {
                if let Some(bar) = bars.get(&stage) {
                    bar.set_length(total);
                    bar.set_position(done);
                    bar.set_message(message);
                }
            }
            Event::Finished { stage, duration } => {
                if let Some(bar) = bars.remove(&stage) {
                    bar.finish_and_clear();
                }
                self.line(format!(
                    "  ran      {stage} ({:.1} s)",
                    duration.as_secs_f64()
                ));
            }
            Event::Failed { stage, message } => {
                if let Some(bar) = bars.remove(&stage) {
                    bar.finish_and_clear();
                }
                self.line(format!("  FAILED   {stage}: {message}"));
            }
            Event::Submitted { stage, job } => {
                self.line(format!("  queued   {stage} (Slurm job {job})"))
            }
            Event::JobState { stage, job, state } => {
                self.line(format!("  slurm    {stage}: job {job} {state}"))
            }
            Event::Skipped { stage, because } => {
                self.line(format!("  skipped  {stage} (upstream '{because}' failed)"))
            }
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}
