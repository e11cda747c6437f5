//! PNG figures of a report, drawn with plotters' bitmap backend: example tuning curves,
//! the population tuning curve, PTJ/PTS bars per model, and training curves.
//!
//! Text (titles, axis labels, legends) needs the font of [`super::font`]: with `text: true`
//! it is drawn when a font could be registered; with `text: false`, or without a font, the
//! same figures are drawn without any text.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::font::{FAMILY, FontStatus, ensure_font};
use super::training::TrainingCurve;
use crate::neuro::scoring::evaluation::Evaluation;
use crate::neuro::scoring::metrics::TuningCurve;

#[derive(Debug, thiserror::Error)]
#[error("figure {file}: {message}")]
pub struct FigureError {
    pub file: String,
    pub message: String,
}

pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
pub(super) type Drawn = Result<(), String>;

/// One line of a line chart.
pub(super) struct Line {
    pub name: String,
    pub color: RGBColor,
    pub width: u32,
    pub points: Vec<(f64, f64)>,
}

/// Titles of one panel.
pub(super) struct Labels<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
}

pub(super) fn model_color(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

/// A range covering `values`, padded by 5% (1 if they are all equal).
fn padded(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
    lo - pad..hi + pad
}

pub(super) fn draw_lines(area: &Area, labels: &Labels, lines: &[Line], text: bool) -> Drawn {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (x, y) = (padded(all().map(|p| p.0)), padded(all().map(|p| p.1)));
    let mut builder = ChartBuilder::on(area);
    builder.margin(12);
    if text {
        builder
            .caption(labels.title, (FAMILY, 20))
            .x_label_area_size(40)
            .y_label_area_size(64);
    }
    let mut chart = builder
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    let mut mesh = chart.configure_mesh();
    // Every x axis here counts (ranks, epochs): label whole numbers only.
    let whole = |v: &f64| match (v - v.round()).abs() < 1e-9 {
        true => format!("{v:.0}"),
        false => String::new(),
    };
    if text {
        mesh.x_desc(labels.x)
            .y_desc(labels.y)
            .x_label_formatter(&whole)
            .label_style((FAMILY, 14));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| e.to_string())?;
    for line in lines {
        let style = line.color.stroke_width(line.width);
        let points = line
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        let series = chart
            .draw_series(LineSeries::new(points, style))
            .map_err(|e| e.to_string())?;
        if text {
            let color = line.color;
            series.label(line.name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        }
    }
    if text && !lines.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 13))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The recorded curve (black) and each model's predictions, over ranks 1.. (`take` of them).
fn tuning_lines(curves: &[(String, &TuningCurve)], take: usize) -> Vec<Line> {
    let ranked = |values: &[f64]| -> Vec<(f64, f64)> {
        values
            .iter()
            .take(take)
            .enumerate()
            .map(|(r, &v)| ((r + 1) as f64, v))
            .collect()
    };
    let mut lines = Vec::new();
    if let Some((_, first)) = curves.first() {
        let points = ranked(&first.recorded);
        lines.push(Line {
            name: "recorded".into(),
            color: BLACK,
            width: 3,
            points,
        });
    }
    for (i, (name, curve)) in curves.iter().enumerate() {
        let points = ranked(&curve.predicted);
        lines.push(Line {
            name: name.clone(),
            color: model_color(i),
            width: 2,
            points,
        });
    }
    lines
}

/// Renders `draw` into a PNG of `size` at `path`.
pub(super) fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area) -> Drawn,
) -> Result<(), FigureError> {
    let fail = |message: String| FigureError {
        file: path.display().to_string(),
        message,
    };
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    draw(&root).map_err(fail)?;
    root.present().map_err(|e| fail(e.to_string()))
}

/// Text is drawn only if asked for and a font is registered.
pub(super) fn with_text(asked: bool) -> bool {
    asked && matches!(ensure_font(), FontStatus::Registered(_))
}

pub(super) fn grid(n: usize) -> (usize, usize) {
    match n {
        0 | 1 => (1, 1),
        2 => (1, 2),
        _ => (n.div_ceil(2), 2),
    }
}

/// Example neurons' responses rank-ordered by recorded response, recorded vs each model.
pub fn tuning_examples(e: &Evaluation, path: &Path, text: bool) -> Result<(), FigureError> {
    let text = with_text(text);
    let (rows, cols) = grid(e.example_neurons.len());
    render(path, (600 * cols as u32, 420 * rows as u32), |root| {
        let panels = root.split_evenly((rows, cols));
        for (panel, &neuron) in panels.iter().zip(&e.example_neurons) {
            let curves: Vec<(String, &TuningCurve)> = e
                .models
                .iter()
                .filter_map(|m| {
                    let ex = m.examples.iter().find(|x| x.neuron == neuron)?;
                    Some((m.model.label.clone(), &ex.curve))
                })
                .collect();
            let title = format!("neuron {neuron}");
            let labels = Labels {
                title: &title,
                x: "image rank (by recorded response)",
                y: "response",
            };
            draw_lines(panel, &labels, &tuning_lines(&curves, usize::MAX), text)?;
        }
        Ok(())
    })
}

/// The population tuning curve: all ranks, and the top 10% of ranks where peak tuning is
/// measured.
pub fn population_tuning(e: &Evaluation, path: &Path, text: bool) -> Result<(), FigureError> {
    let text = with_text(text);
    let curves: Vec<(String, &TuningCurve)> = e
        .models
        .iter()
        .filter_map(|m| Some((m.model.label.clone(), m.population_tuning.as_ref()?)))
        .collect();
    let top = (e.images / 10).max(e.k).max(2);
    render(path, (1300, 500), |root| {
        let (left, right) = root.split_horizontally(650);
        let labels = Labels {
            title: "population tuning curve",
            x: "image rank",
            y: "mean response",
        };
        draw_lines(&left, &labels, &tuning_lines(&curves, usize::MAX), text)?;
        let title = format!("top {top} ranks (k = {})", e.k);
        let zoom = Labels {
            title: &title,
            x: "image rank",
            y: "mean response",
        };
        draw_lines(&right, &zoom, &tuning_lines(&curves, top), text)
    })
}

/// Mean PTJ and PTS (%) per model, as horizontal bars (the axis runs 30% past the longest bar,
/// leaving room for the legend).
pub fn peak_bars(e: &Evaluation, path: &Path, text: bool) -> Result<(), FigureError> {
    let text = with_text(text);
    let n = e.models.len();
    let values: Vec<[f64; 2]> = e
        .models
        .iter()
        .map(|m| [m.summary.ptj_percent.mean, m.summary.pts_percent.mean].map(|v| v.unwrap_or(0.0)))
        .collect();
    let labels: Vec<String> = e.models.iter().map(|m| m.model.label.clone()).collect();
    let x_max = values
        .iter()
        .flatten()
        .fold(10.0f64, |a, &b| a.max(b * 1.3));
    render(path, (1000, 140 + 60 * n as u32), |root| {
        let mut builder = ChartBuilder::on(root);
        builder.margin(14);
        if text {
            builder.caption("peak tuning per model", (FAMILY, 20));
            builder.x_label_area_size(40).y_label_area_size(230);
        }
        let y_range = -0.5..n as f64 - 0.5;
        let mut chart = builder
            .build_cartesian_2d(0.0..x_max, y_range)
            .map_err(|e| e.to_string())?;
        draw_bar_mesh(&mut chart, &labels, text)?;
        let colors = [RGBColor(70, 110, 190), RGBColor(230, 140, 40)];
        for (k, name) in ["PTJ", "PTS"].into_iter().enumerate() {
            let bars = values.iter().enumerate().map(|(i, v)| {
                let y = (n - 1 - i) as f64;
                let (lo, hi) = if k == 0 { (y, y + 0.38) } else { (y - 0.38, y) };
                Rectangle::new([(0.0, lo), (v[k], hi)], colors[k].filled())
            });
            let series = chart.draw_series(bars).map_err(|e| e.to_string())?;
            if text {
                let c = colors[k];
                series.label(name).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 16, y + 6)], c.filled())
                });
            }
        }
        if text {
            let mut legend = chart.configure_series_labels();
            legend
                .position(SeriesLabelPosition::LowerRight)
                .border_style(BLACK)
                .label_font((FAMILY, 14));
            legend
                .background_style(WHITE.mix(0.85))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

type BarChart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The bar chart's axes: percent along x, the model labels (first model on top) along y.
fn draw_bar_mesh(chart: &mut BarChart, labels: &[String], text: bool) -> Drawn {
    let n = labels.len();
    let label_at = |y: &f64| {
        let i = y.round();
        let close = (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n;
        if close {
            labels[n - 1 - i as usize].clone()
        } else {
            String::new()
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.disable_y_mesh();
    if text {
        mesh.y_labels(n.max(1))
            .y_label_formatter(&label_at)
            .x_desc("percent of the k peak images");
        mesh.label_style((FAMILY, 14));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| e.to_string())
}

/// Which series of a training curve a panel shows.
type Pick = fn(&TrainingCurve) -> &Vec<Option<f64>>;

/// Per train stage, mean over neurons by epoch: training loss, validation loss, validation CORR.
pub fn training_curves(
    curves: &[(String, TrainingCurve)],
    path: &Path,
    text: bool,
) -> Result<(), FigureError> {
    let text = with_text(text);
    let panel = |pick: Pick| -> Vec<Line> {
        curves
            .iter()
            .enumerate()
            .map(|(i, (name, c))| {
                let points = c
                    .epochs
                    .iter()
                    .zip(pick(c))
                    .filter_map(|(&e, v)| Some((e as f64, (*v)?)));
                Line {
                    name: name.clone(),
                    color: model_color(i),
                    width: 2,
                    points: points.collect(),
                }
            })
            .collect()
    };
    render(path, (1650, 480), |root| {
        let panels = root.split_evenly((1, 3));
        let specs: [(&str, &str, Pick); 3] = [
            ("training loss", "mean MSE", |c| &c.train_loss),
            ("validation loss", "mean MSE", |c| &c.val_loss),
            ("validation CORR", "mean Pearson r", |c| &c.val_corr),
        ];
        for (area, (title, y, pick)) in panels.iter().zip(specs) {
            draw_lines(
                area,
                &Labels {
                    title,
                    x: "epoch",
                    y,
                },
                &panel(pick),
                text,
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::computed;
    use crate::report::font::{FontStatus, ensure_font};
    use crate::report::training::parse_curves;

    /// (width, height, RGB bytes) of a PNG file.
    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn font_registered() {
        let status = ensure_font();
        assert!(
            matches!(status, FontStatus::Registered(_)),
            "figure text needs a TrueType font (Debian: fonts-dejavu-core, or SAPIPE_FONT): {status:?}"
        );
    }

    #[test]
    fn axis_labels_render_as_pixels() {
        font_registered();
        let dir = tempfile::tempdir().unwrap();
        let line = || Line {
            name: "a".into(),
            color: RED,
            width: 2,
            points: vec![(0.0, 0.0), (1.0, 1.0)],
        };
        let draw = |y: &'static str, file: &str| {
            let path = dir.path().join(file);
            let labels = Labels {
                title: "t",
                x: "rank",
                y,
            };
            render(&path, (400, 300), |a| {
                draw_lines(a, &labels, &[line()], true)
            })
            .unwrap();
            decode(&path)
        };
        let (w, h, with) = draw("response", "with.png");
        let (_, _, without) = draw("", "without.png");
        let differing_in_left_strip = (0..h as usize)
            .flat_map(|y| (0..30usize).map(move |x| (y * w as usize + x) * 3))
            .filter(|&i| with[i..i + 3] != without[i..i + 3])
            .count();
        assert!(
            differing_in_left_strip > 80,
            "the y label drew {differing_in_left_strip} pixels"
        );
    }

    #[test]
    fn every_figure_renders_with_and_without_text() {
        font_registered();
        let dir = tempfile::tempdir().unwrap();
        let e = computed();
        let csv = "epoch,neuron,train_loss,val_loss,val_corr\n1,0,2,3,0.1\n2,0,1,2,0.3\n";
        let curves = vec![("rf_cnn".to_string(), parse_curves(csv).unwrap())];
        for text in [true, false] {
            let at = |name: &str| dir.path().join(format!("{name}_{text}.png"));
            tuning_examples(&e, &at("examples"), text).unwrap();
            population_tuning(&e, &at("population"), text).unwrap();
            peak_bars(&e, &at("peaks"), text).unwrap();
            training_curves(&curves, &at("training"), text).unwrap();
            assert_eq!(
                decode(&at("examples")).0,
                1200,
                "4 example neurons: 2 columns"
            );
            assert_eq!(decode(&at("peaks")).1, 140 + 60 * 3);
            let (_, _, pixels) = decode(&at("population"));
            assert!(pixels.iter().any(|&p| p < 128), "something was drawn");
        }
        if let Some(out) = std::env::var_os("SAPIPE_FIGURE_SAMPLES") {
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let p = entry.unwrap().path();
                std::fs::copy(&p, Path::new(&out).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}
