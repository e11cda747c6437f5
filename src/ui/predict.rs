//! What `sapipe predict` shows: its progress bar (images predicted) and its summary (what ran
//! on what, through which preprocessing, the range of the predictions, where they are).

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// The bar of `predict`: images done of all.
pub fn bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), super::progress::stderr_target());
    bar.set_style(
        ProgressStyle::with_template("  predict {wide_bar} {pos}/{len} images {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// What `predict` prints: what ran on what, and where the predictions are.
pub fn summary(
    stage: &str,
    f: &crate::ops::fitted::Fitted,
    m: &crate::kind::Metrics,
    out: &std::path::Path,
) -> String {
    let g = &f.preprocessing.geometry;
    let num = |k: &str| m.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let neurons = m
        .get("neurons")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    format!(
        "predicted {images} images x {neurons} neurons with {stage} ({model})\n\
         \x20 preprocessing: {h} x {w} -> crop {c} x {c} -> {s} x {s}, normalised with the \
         training mean {mean:.4} and sd {sd:.4}\n\
         \x20 predictions: min {lo:.4}, mean {avg:.4}, max {hi:.4}\n\
         \x20 wrote {out} (float32 [{images}, {neurons}])\n",
        images = m.get("images").and_then(Value::as_u64).unwrap_or(0),
        model = m.get("model").and_then(Value::as_str).unwrap_or("?"),
        h = g.raw_height,
        w = g.raw_width,
        c = g.crop,
        s = g.size,
        mean = f.preprocessing.norm_mean,
        sd = f.preprocessing.norm_std,
        lo = num("prediction_min"),
        avg = num("prediction_mean"),
        hi = num("prediction_max"),
        out = out.display(),
    )
}
