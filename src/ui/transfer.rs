//! Push and pull on the terminal: one progress bar with bytes moved, total and rate (when
//! stderr is a terminal), and the summary of what moved.

use std::fmt::Write;

use indicatif::{ProgressBar, ProgressStyle};

use crate::remote::sync::TransferSummary;
use crate::remote::transfer::Meter;

/// A byte-and-rate progress bar (drawn only on a terminal).
pub struct TransferBar {
    bar: ProgressBar,
}

impl TransferBar {
    pub fn new(verb: &str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), super::progress::stderr_target());
        bar.set_style(
            ProgressStyle::with_template(
                "  {prefix:.bold} {wide_bar} {binary_bytes}/{binary_total_bytes} \
                 {binary_bytes_per_sec} {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(verb.to_string());
        Self { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Meter for TransferBar {
    fn planned(&self, bytes: u64) {
        self.bar.inc_length(bytes);
    }

    fn moved(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
}

fn size(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}

/// `pushed 3 records (2 already there), 7 objects, 1.2 MiB in 0.4 s (3.0 MiB/s) to REMOTE`.
pub fn summary(verb: &str, s: &TransferSummary) -> String {
    let direction = if verb == "pushed" { "to" } else { "from" };
    let rate = if s.seconds > 0.0 {
        format!(" ({}/s)", size((s.bytes as f64 / s.seconds) as u64))
    } else {
        String::new()
    };
    let mut out = format!(
        "{verb} {} record(s) ({} already there), {} object(s) ({} already there), {} in {:.1} s{rate} {direction} {}\n",
        s.stages.len(),
        s.already.len(),
        s.objects_moved,
        s.objects_present,
        size(s.bytes),
        s.seconds,
        s.remote
    );
    if !s.stages.is_empty() {
        let _ = writeln!(out, "  {}", s.stages.join(", "));
    }
    for p in &s.problems {
        let _ = writeln!(out, "error: {p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_names_the_stages_the_remote_and_each_problem() {
        let s = TransferSummary {
            remote: "/nfs/cache".into(),
            stages: vec!["prep".into()],
            already: vec!["data".into()],
            objects_moved: 2,
            objects_present: 1,
            bytes: 2048,
            seconds: 0.5,
            problems: vec!["key x: object y".into()],
        };
        let text = summary("pulled", &s);
        assert!(
            text.starts_with("pulled 1 record(s) (1 already there), 2 object(s)"),
            "{text}"
        );
        assert!(
            text.contains("from /nfs/cache") && text.contains("  prep\n"),
            "{text}"
        );
        assert!(text.contains("error: key x: object y"), "{text}");
    }
}
