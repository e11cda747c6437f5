//! PNG figures of the `decompose` stage: a grid heatmap (the FCL contribution map, the centre
//! hypercolumn's attention map) and a per-neuron scatter of centre vs surround strength.
//! Drawn like the report's other figures (plotters, text only when a font is registered).
//!
//! A heatmap is coloured against a stated reference value (zero for signed contributions, the
//! uniform weight for attention): white is the reference, red above it, blue below, on a
//! scale symmetric about it, with a colour bar. A map that barely differs from its reference
//! therefore looks pale, instead of its own small range being stretched from white to red.

use std::path::Path;

use plotters::prelude::*;

use super::figures::{Area, Drawn, FigureError, render, with_text};
use super::font::FAMILY;
use crate::neuro::analysis::summary::uniform_weight;

const ABOVE: (f64, f64, f64) = (180.0, 20.0, 30.0);
const BELOW: (f64, f64, f64) = (30.0, 60.0, 180.0);

/// The value a map is drawn against, how the colour bar names it, and the least distance
/// from it that is drawn in full colour (so that a map barely off its reference stays pale:
/// for attention, the uniform weight itself, i.e. full colour at 0 and at twice uniform).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reference<'a> {
    pub value: f64,
    pub name: &'a str,
    pub least_half_range: f64,
}

impl Reference<'static> {
    /// Signed values: white at zero, scaled by the largest magnitude.
    pub const ZERO: Reference<'static> = Reference {
        value: 0.0,
        name: "0",
        least_half_range: 0.0,
    };

    /// Attention weights over `positions` positions: white at the uniform weight, full colour
    /// at 0 and at twice uniform (or further, if some weight is).
    pub fn uniform(positions: usize) -> Self {
        let u = uniform_weight(positions);
        Reference {
            value: u,
            name: "uniform",
            least_half_range: u,
        }
    }
}

/// The colour of `v` on a scale centred on `reference` reaching full colour at
/// `reference ± half_range`: white at the reference, red above, blue below.
fn colour(v: f64, reference: f64, half_range: f64) -> RGBColor {
    let mix = |t: f64, to: (f64, f64, f64)| {
        let t = t.clamp(0.0, 1.0);
        let c = |a: f64| (255.0 + (a - 255.0) * t).round() as u8;
        RGBColor(c(to.0), c(to.1), c(to.2))
    };
    if half_range <= 0.0 || !half_range.is_finite() {
        return RGBColor(255, 255, 255);
    }
    let t = (v - reference) / half_range;
    if t >= 0.0 {
        mix(t, ABOVE)
    } else {
        mix(-t, BELOW)
    }
}

/// The colour scale's half range: the largest distance of a finite value from the
/// reference, at least the reference's `least_half_range`.
fn half_range(values: &[f64], reference: Reference) -> f64 {
    values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| (v - reference.value).abs())
        .fold(reference.least_half_range, f64::max)
}

/// A `side` x `side` map (`values` in raster order, row 0 on top) as coloured cells against
/// `reference`, with a colour bar; the title states the value range.
pub fn heatmap(
    values: &[f64],
    side: usize,
    reference: Reference,
    title: &str,
    path: &Path,
    text: bool,
) -> Result<(), FigureError> {
    if values.len() != side * side {
        return Err(FigureError {
            file: path.display().to_string(),
            message: format!("{} values for a {side}x{side} map", values.len()),
        });
    }
    let text = with_text(text);
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let half = half_range(values, reference);
    render(path, (680, 560), |root| {
        let (map, bar) = root.split_horizontally(520);
        draw_heatmap(
            &map,
            values,
            side,
            (lo, hi),
            (reference.value, half),
            title,
            text,
        )?;
        draw_colour_bar(&bar, (lo, hi), reference, half, text)
    })
}

fn draw_heatmap(
    area: &Area,
    values: &[f64],
    side: usize,
    range: (f64, f64),
    scale: (f64, f64),
    title: &str,
    text: bool,
) -> Drawn {
    let (lo, hi) = range;
    let mut builder = ChartBuilder::on(area);
    builder.margin(16);
    if text {
        let caption = format!("{title} [{lo:.4}, {hi:.4}]");
        builder
            .caption(caption, (FAMILY, 16))
            .x_label_area_size(30)
            .y_label_area_size(30);
    }
    let s = side as f64;
    let mut chart = builder
        .build_cartesian_2d(0.0..s, s..0.0)
        .map_err(|e| e.to_string())?;
    if text {
        let whole = |v: &f64| match (v.fract() - 0.5).abs() < 1e-9 {
            true => format!("{:.0}", v - 0.5),
            false => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(2 * side + 1)
            .y_labels(2 * side + 1)
            .x_label_formatter(&whole)
            .y_label_formatter(&whole)
            .label_style((FAMILY, 12))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    let cells = values.iter().enumerate().map(|(i, &v)| {
        let (r, c) = ((i / side) as f64, (i % side) as f64);
        let fill = if v.is_finite() {
            colour(v, scale.0, scale.1)
        } else {
            RGBColor(128, 128, 128)
        };
        Rectangle::new([(c, r), (c + 1.0, r + 1.0)], fill.filled())
    });
    chart.draw_series(cells).map_err(|e| e.to_string())?;
    let centre = (side / 2) as f64;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(centre, centre), (centre + 1.0, centre + 1.0)],
            BLACK.stroke_width(2),
        )))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The values a colour bar spans: the map's range, the reference and the reference's least
/// half range on either side (where those are defined), so that the reference is always on it.
fn bar_range(range: (f64, f64), reference: Reference) -> (f64, f64) {
    let (r, least) = (reference.value, reference.least_half_range);
    let lo = range.0.min(r - least).min(r);
    let hi = range.1.max(r + least).max(r);
    if hi > lo && lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (r - 1.0, r + 1.0)
    }
}

/// A vertical colour bar over [`bar_range`], coloured as the map is; with text, its two ends
/// and the reference (by name) are labelled.
fn draw_colour_bar(
    area: &Area,
    range: (f64, f64),
    reference: Reference,
    half: f64,
    text: bool,
) -> Drawn {
    let (lo, hi) = bar_range(range, reference);
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(60)
        .margin_bottom(46)
        .margin_right(8)
        .y_label_area_size(if text { 100 } else { 0 });
    let mut chart = builder
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(|e| e.to_string())?;
    const STEPS: usize = 64;
    let strip = (0..STEPS).map(|i| {
        let (a, b) = (i as f64 / STEPS as f64, (i + 1) as f64 / STEPS as f64);
        let (y0, y1) = (lo + (hi - lo) * a, lo + (hi - lo) * b);
        let fill = colour((y0 + y1) / 2.0, reference.value, half);
        Rectangle::new([(0.0, y0), (1.0, y1)], fill.filled())
    });
    chart.draw_series(strip).map_err(|e| e.to_string())?;
    if text {
        let r = reference.value;
        let near = |v: f64| (v - r).abs() < 0.06 * (hi - lo);
        let mut labels = vec![(r, format!("{} {r:.4}", reference.name))];
        labels.extend(
            [hi, lo]
                .into_iter()
                .filter(|&v| !near(v))
                .map(|v| (v, format!("{v:.4}"))),
        );
        // Chart coordinates map to the whole image; the area draws relative to its corner.
        let base = area.get_base_pixel();
        for (v, label) in labels {
            let (x, y) = chart.backend_coord(&(0.0, v));
            let at = (x - base.0 - 96, y - base.1 - 6);
            area.draw(&Text::new(label, at, (FAMILY, 12)))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// One dot per neuron at (centre, surround); the diagonal separates centre-dominated neurons
/// (below it) from surround-dominated ones.
pub fn centre_surround_scatter(
    points: &[(f64, f64)],
    title: &str,
    path: &Path,
    text: bool,
) -> Result<(), FigureError> {
    let text = with_text(text);
    let max = points
        .iter()
        .flat_map(|&(x, y)| [x, y])
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = if max > 0.0 { max * 1.05 } else { 1.0 };
    render(path, (560, 560), |root| {
        let mut builder = ChartBuilder::on(root);
        builder.margin(16);
        if text {
            builder
                .caption(title, (FAMILY, 16))
                .x_label_area_size(44)
                .y_label_area_size(64);
        }
        let mut chart = builder
            .build_cartesian_2d(0.0..top, 0.0..top)
            .map_err(|e| e.to_string())?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc("centre strength (sd over images)")
                .y_desc("surround strength (sd over images)")
                .label_style((FAMILY, 12));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (top, top)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
        let dots = points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| Circle::new((x, y), 4, RGBColor(70, 110, 190).filled()));
        chart.draw_series(dots).map_err(|e| e.to_string())?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(path: &Path) -> (u32, u32, Vec<u8>) {
        let img = image::open(path).unwrap().to_rgb8();
        (img.width(), img.height(), img.into_raw())
    }

    const ZERO: Reference = Reference::ZERO;

    #[test]
    fn heatmap_colours_cells_against_the_reference_and_checks_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.png");
        let values: Vec<f64> = (0..9).map(|i| i as f64 - 4.0).collect();
        heatmap(&values, 3, ZERO, "map", &path, false).unwrap();
        let (w, h, px) = pixels(&path);
        assert_eq!((w, h), (680, 560));
        let at = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            (px[i], px[i + 1], px[i + 2])
        };
        // Without text the plot spans the margins: cell (0, 0) is top left, most negative.
        let (first, last) = (at(40, 40), at(480, h - 40));
        assert!(first.2 > first.0, "negative cell is blue: {first:?}");
        assert!(last.0 > last.2, "positive cell is red: {last:?}");
        // The colour bar: red at its top, blue at its bottom.
        let (top, bottom) = (at(w - 40, 70), at(w - 40, h - 56));
        assert!(top.0 > top.2 && bottom.2 > bottom.0, "{top:?} {bottom:?}");
        let err = heatmap(&values, 4, ZERO, "map", &path, false).unwrap_err();
        assert!(err.message.contains("9 values for a 4x4 map"), "{err}");
    }

    #[test]
    fn colours_are_white_at_the_reference_and_full_at_the_half_range() {
        assert_eq!(colour(0.5, 0.5, 0.1), RGBColor(255, 255, 255));
        assert_eq!(colour(0.6, 0.5, 0.1), RGBColor(180, 20, 30));
        assert_eq!(colour(0.4, 0.5, 0.1), RGBColor(30, 60, 180));
        assert_eq!(colour(3.0, 3.0, 0.0), RGBColor(255, 255, 255));
        assert_eq!(
            half_range(&[1.0, 4.0, f64::NAN], Reference { value: 2.0, ..ZERO }),
            2.0
        );
        let floor = Reference {
            value: 2.0,
            least_half_range: 5.0,
            ..ZERO
        };
        assert_eq!(half_range(&[1.0, 4.0], floor), 5.0);
    }

    #[test]
    fn the_colour_bar_always_shows_the_reference() {
        let uniform = Reference::uniform(4);
        assert_eq!(bar_range((0.2, 0.3), uniform), (0.0, 0.5));
        assert_eq!(bar_range((0.1, 0.9), uniform), (0.0, 0.9));
        assert_eq!(bar_range((1.0, 2.0), Reference::ZERO), (0.0, 2.0));
        assert_eq!(bar_range((-3.0, -1.0), Reference::ZERO), (-3.0, 0.0));
        assert_eq!(bar_range((0.0, 0.0), Reference::ZERO), (-1.0, 1.0));
    }

    /// A map within 1% of a uniform 1/81 is drawn nearly white, not stretched from white to
    /// dark red over its own tiny range as it used to be.
    #[test]
    fn a_nearly_uniform_attention_map_is_drawn_nearly_white() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.png");
        let u = 1.0 / 81.0;
        let values: Vec<f64> = (0..81)
            .map(|i| u * (1.0 + 0.01 * ((i % 3) as f64 - 1.0)))
            .collect();
        heatmap(&values, 9, Reference::uniform(81), "map", &path, false).unwrap();
        let (w, _, px) = pixels(&path);
        let i = ((40 * w + 40) * 3) as usize;
        assert!(
            px[i..i + 3].iter().all(|&c| c >= 250),
            "{:?}",
            &px[i..i + 3]
        );
    }

    #[test]
    fn scatter_draws_dots() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        centre_surround_scatter(&[(1.0, 0.5), (0.2, 0.9)], "s", &path, true).unwrap();
        let (_, _, px) = pixels(&path);
        let blue = px
            .chunks(3)
            .filter(|p| p[0] == 70 && p[1] == 110 && p[2] == 190)
            .count();
        assert!(blue > 20, "{blue} dot pixels");
    }
}
