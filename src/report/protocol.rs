//! Where a run departs from the paper's training protocol (models.md §4 and the recorded
//! population's size): one row per model that departs, each departure shown beside the
//! paper's value, so a reader never mistakes a demo's numbers for the paper's set-up.

use std::fmt::Write as _;

use crate::neuro::scoring::evaluation::Evaluation;
use crate::neuro::train::predictions::Recipe;
use crate::neuro::train::{BiasRefit, ReadoutBias};

/// The paper's protocol, as `stages/train.yaml`'s defaults and the `paper` profiles state it.
pub fn paper() -> Recipe {
    Recipe {
        epochs: 50,
        patience: None,
        batch_size: 50,
        lr: 1e-3,
        readout_bias: ReadoutBias::Default,
        refit_bias: None,
        train_images: 34_000,
    }
}

/// Neurons the paper fits.
pub const PAPER_NEURONS: usize = 300;

/// `value (paper: p)` where they differ, `value` where they agree.
fn cell(value: String, paper: String) -> (String, bool) {
    if value == paper {
        (value, false)
    } else {
        (format!("**{value}** (paper: {paper})"), true)
    }
}

fn lr(v: f64) -> String {
    format!("{v:e}")
}

/// `none`, or `after N epochs without a better validation CORR`.
fn early_stopping(patience: Option<usize>) -> String {
    match patience {
        None => "none".into(),
        Some(p) => format!("patience {p}"),
    }
}

/// The cells of one model's recipe and whether any departs from the paper's.
fn recipe_cells(r: &Recipe, neurons: usize) -> (Vec<String>, bool) {
    let paper = paper();
    let cells = [
        cell(neurons.to_string(), PAPER_NEURONS.to_string()),
        cell(r.train_images.to_string(), paper.train_images.to_string()),
        cell(r.epochs.to_string(), paper.epochs.to_string()),
        cell(early_stopping(r.patience), early_stopping(paper.patience)),
        cell(r.batch_size.to_string(), paper.batch_size.to_string()),
        cell(lr(r.lr), lr(paper.lr)),
        cell(r.readout_bias.id().into(), paper.readout_bias.id().into()),
        cell(
            r.refit_bias.unwrap_or_default().id().into(),
            BiasRefit::None.id().into(),
        ),
    ];
    let departs = cells.iter().any(|(_, d)| *d);
    (cells.into_iter().map(|(c, _)| c).collect(), departs)
}

/// The report's protocol section: a table of the models whose recipe departs from the paper's
/// (or one sentence saying that none does, or that no model recorded its recipe).
pub fn protocol_section(evaluations: &[(String, Evaluation)]) -> String {
    let mut out = String::from("## Training protocol\n\n");
    let mut rows = Vec::new();
    let mut unrecorded = Vec::new();
    for (_, e) in evaluations {
        for m in &e.models {
            match &m.model.recipe {
                Some(r) => {
                    let (cells, departs) = recipe_cells(r, e.neurons);
                    let model = format!("{} ({})", m.model.label, m.model.stage);
                    if departs && !rows.iter().any(|(known, _)| known == &model) {
                        rows.push((model, cells));
                    }
                }
                None => unrecorded.push(m.model.label.clone()),
            }
        }
    }
    let paper = paper();
    let _ = write!(
        out,
        "The paper's protocol (models.md §4) is the default of `stages/train.yaml`: {} neurons, \
         {} training images, {} epochs (no early stopping), batch {}, Adam with learning rate {}, the readout's \
         bias initialised as PyTorch does.",
        PAPER_NEURONS,
        paper.train_images,
        paper.epochs,
        paper.batch_size,
        lr(paper.lr)
    );
    if rows.is_empty() && unrecorded.is_empty() {
        out += " Every model of this run follows it.\n\n";
        return out;
    }
    if !rows.is_empty() {
        out += " This run departs from it where the table shows bold values; its numbers are \
                 not the paper's and should be compared with each other, not with the paper's \
                 tables.\n\n| Model | Neurons | Training images | Epochs (most) | Early stopping | \
                 Batch | Learning rate | Readout bias | Bias refit |\n|---|---|---|---|---|---|---|---|---|\n";
        for (model, cells) in &rows {
            let _ = writeln!(out, "| {model} | {} |", cells.join(" | "));
        }
    } else {
        out.push('\n');
    }
    if !unrecorded.is_empty() {
        let _ = writeln!(
            out,
            "\nNot recorded by their train stage (predictions written by another tool): {}.",
            unrecorded.join(", ")
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{evaluation, model};

    fn demo() -> Recipe {
        Recipe {
            epochs: 6,
            patience: Some(3),
            batch_size: 16,
            lr: 3e-3,
            readout_bias: ReadoutBias::Mean,
            refit_bias: Some(BiasRefit::Train),
            train_images: 1500,
        }
    }

    fn rf_cnn_only() -> Evaluation {
        evaluation(vec![model(
            "rf_cnn",
            "rf-cnn",
            false,
            1.0,
            [0.5, 6.0, 12.0],
        )])
    }

    #[test]
    fn departures_are_bold_beside_the_paper_value() {
        let mut e = rf_cnn_only();
        e.models[0].model.recipe = Some(demo());
        let md = protocol_section(&[("eval".into(), e.clone()), ("again".into(), e)]);
        let row = format!(
            "| rf-cnn (rf_cnn) | **{}** (paper: 300) | **1500** (paper: 34000) | **6** (paper: 50) \
             | **patience 3** (paper: none) | **16** (paper: 50) | **3e-3** (paper: 1e-3) | **mean** (paper: default) | **train** (paper: none) |",
            crate::report::fixtures::FIXTURE_NEURONS
        );
        assert!(md.contains(&row), "{md}");
        assert_eq!(
            md.matches("| rf-cnn (rf_cnn) |").count(),
            1,
            "one row per stage: {md}"
        );
    }

    #[test]
    fn the_paper_protocol_and_unrecorded_models_are_said_in_words() {
        let mut e = rf_cnn_only();
        e.neurons = PAPER_NEURONS;
        e.models[0].model.recipe = Some(paper());
        let md = protocol_section(&[("eval".into(), e.clone())]);
        assert!(md.contains("Every model of this run follows it."), "{md}");
        e.models[0].model.recipe = None;
        let md = protocol_section(&[("eval".into(), e)]);
        assert!(md.contains("Not recorded by their train stage"), "{md}");
        assert!(!md.contains("follows it"), "{md}");
    }
}
