//! The report's probe section and the probe stage's figure: one table per `probe` stage (per
//! model: median OSI and SSI, and agreement with the simulated truth) and orientation tuning
//! curves of a few neurons, models vs truth
//! ([`crate::neuro::analysis::probe::files::FIGURE_FILE`]).

use std::path::Path;

use plotters::prelude::BLACK;

use super::figures::{FigureError, Labels, Line, draw_lines, grid, model_color, render, with_text};
use super::tables::{MISSING, Table, fmt1, fmt3, row};
use crate::neuro::analysis::probe::files::ProbeSummary;
use crate::neuro::analysis::probe::tuning::{NeuronProbe, ProbeResult};

/// Neurons drawn in the figure.
pub const FIGURE_NEURONS: usize = 4;

/// The three population medians: OSI, SSI parallel, SSI orthogonal.
fn population_cells(r: &ProbeResult) -> [String; 3] {
    let p = &r.population;
    [
        fmt3(p.median_osi),
        fmt3(p.median_ssi_parallel),
        fmt3(p.median_ssi_orthogonal),
    ]
}

/// The table of one probe stage.
pub fn probe_table(stage: &str, s: &ProbeSummary) -> Table {
    let truth = s.truth.is_some();
    let mut header = vec![
        "Model",
        "Median OSI",
        "Median SSI, parallel",
        "Median SSI, orthogonal",
        "Responsive",
    ];
    if truth {
        header.extend([
            "Median orientation error vs truth (°)",
            "r OSI",
            "r SSI parallel",
            "r SSI orthogonal",
        ]);
    }
    let mut rows = Vec::new();
    let responsive =
        |r: &ProbeResult| format!("{} of {}", r.population.responsive, r.population.neurons);
    if let Some(t) = &s.truth {
        let mut cells = vec!["simulated truth (noise-free)".to_string()];
        cells.extend(population_cells(t));
        cells.push(responsive(t));
        cells.extend(std::iter::repeat_n(MISSING.to_string(), 4));
        rows.push(cells);
    }
    for (train, m) in &s.models {
        let mut cells = vec![format!("{} ({train})", m.label)];
        cells.extend(population_cells(&m.result));
        cells.push(responsive(&m.result));
        if truth {
            let a = m.agreement.as_ref();
            cells.extend([
                fmt1(a.and_then(|a| a.median_orientation_error_deg)),
                fmt3(a.and_then(|a| a.osi_corr)),
                fmt3(a.and_then(|a| a.ssi_parallel_corr)),
                fmt3(a.and_then(|a| a.ssi_orthogonal_corr)),
            ]);
        }
        rows.push(cells);
    }
    let p = &s.protocol;
    let mut note = format!(
        "Drifting gratings ({} orientations x {} phases, {:?} cycles per {c} px field) in a \
         disc of radius {:.1} px at the image centre, alone or with an annulus out to {:.1} \
         px, parallel or orthogonal; {} stimuli. OSI = 1 - circular variance of the tuning \
         curve at the preferred frequency; SSI = 1 - r(centre + surround) / r(centre) at the \
         preferred orientation and frequency (positive: suppression), responses taken above \
         the blank. Medians over responsive neurons.",
        p.orientations,
        p.phases,
        p.frequencies,
        p.centre_radius * s.canvas.field as f64,
        p.surround_radius * s.canvas.field as f64,
        s.stimuli,
        c = s.canvas.field,
    );
    if truth {
        note += " The truth is the simulator's noise-free neurons shown the same stimuli; r is \
                 Pearson's across neurons, model vs truth.";
    }
    Table {
        title: format!("In-silico probe: orientation tuning and surround suppression — {stage}"),
        header: row(&header),
        rows,
        notes: vec![note],
    }
}

/// One neuron's tuning curve normalised to its peak, over orientations in degrees.
fn curve(n: &NeuronProbe, orientations: usize) -> Vec<(f64, f64)> {
    let peak = n
        .orientation_tuning
        .iter()
        .fold(0.0f64, |a, &b| a.max(b.abs()));
    let scale = if peak > 0.0 { peak } else { 1.0 };
    n.orientation_tuning
        .iter()
        .enumerate()
        .map(|(o, &r)| (180.0 * o as f64 / orientations as f64, r / scale))
        .collect()
}

/// The first [`FIGURE_NEURONS`] neurons' orientation tuning: truth in black, models coloured.
pub fn tuning_figure(s: &ProbeSummary, path: &Path, text: bool) -> Result<(), FigureError> {
    let text = with_text(text);
    let o = s.protocol.orientations;
    let neurons = s
        .models
        .values()
        .map(|m| m.result.neurons.len())
        .chain(s.truth.iter().map(|t| t.neurons.len()))
        .max()
        .unwrap_or(0)
        .min(FIGURE_NEURONS);
    let (rows, cols) = grid(neurons);
    render(path, (560 * cols as u32, 400 * rows as u32), |root| {
        let panels = root.split_evenly((rows, cols));
        for (i, panel) in panels.iter().enumerate().take(neurons) {
            let mut lines = Vec::new();
            if let Some(n) = s.truth.as_ref().and_then(|t| t.neurons.get(i)) {
                lines.push(Line {
                    name: "truth".into(),
                    color: BLACK,
                    width: 3,
                    points: curve(n, o),
                });
            }
            for (k, m) in s.models.values().enumerate() {
                if let Some(n) = m.result.neurons.get(i) {
                    lines.push(Line {
                        name: m.label.clone(),
                        color: model_color(k),
                        width: 2,
                        points: curve(n, o),
                    });
                }
            }
            let title = format!("neuron {i}");
            let labels = Labels {
                title: &title,
                x: "orientation (degrees)",
                y: "response / peak",
            };
            draw_lines(panel, &labels, &lines, text)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::analysis::probe::files::fixtures::summary;

    #[test]
    fn one_row_per_model_after_the_truth() {
        let md = probe_table("probe", &summary()).to_markdown();
        assert!(
            md.contains("| simulated truth (noise-free) | 0.500 | 0.400 | 0.200 | 2 of 2 | — |"),
            "{md}"
        );
        assert!(
            md.contains("| ff+sa-CNN* (ff_sa) | 0.500 | 0.400 | 0.200 | 2 of 2 | 7.5 |"),
            "{md}"
        );
        let mut no_truth = summary();
        no_truth.truth = None;
        let md = probe_table("probe", &no_truth).to_markdown();
        assert!(!md.contains("truth"), "{md}");
    }

    #[test]
    fn the_figure_draws_curves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.png");
        tuning_figure(&summary(), &path, false).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(
            (img.width(), img.height()),
            (1120, 400),
            "2 neurons side by side"
        );
        assert!(
            img.pixels().any(|p| p.0 == [0, 0, 0]),
            "the truth's black line"
        );
    }
}
