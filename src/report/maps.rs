//! PNG figures of the `decompose` stage: a grid heatmap (the FCL contribution map, the centre
//! hypercolumn's attention map) and a per-neuron scatter of centre vs surround strength.
//! Drawn like the report's other figures (plotters, text only when a font is registered).

use std::path::Path;

use plotters::prelude::*;

use super::figures::{Area, Drawn, FigureError, render, with_text};
use super::font::FAMILY;

/// White to dark red for non-negative maps; blue - white - red, symmetric about 0, when the
/// map has both signs.
fn colour(v: f64, lo: f64, hi: f64) -> RGBColor {
    let mix = |t: f64, to: (f64, f64, f64)| {
        let t = t.clamp(0.0, 1.0);
        let c = |a: f64| (255.0 + (a - 255.0) * t).round() as u8;
        RGBColor(c(to.0), c(to.1), c(to.2))
    };
    if lo < 0.0 && hi > 0.0 {
        let m = lo.abs().max(hi);
        if v >= 0.0 {
            mix(v / m, (180.0, 20.0, 30.0))
        } else {
            mix(-v / m, (30.0, 60.0, 180.0))
        }
    } else if hi > lo {
        mix((v - lo) / (hi - lo), (180.0, 20.0, 30.0))
    } else {
        mix(0.5, (180.0, 20.0, 30.0))
    }
}

/// A `side` x `side` map (`values` in raster order, row 0 on top) as coloured cells; the title
/// states the value range.
pub fn heatmap(
    values: &[f64],
    side: usize,
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
    render(path, (520, 560), |root| {
        draw_heatmap(root, values, side, (lo, hi), title, text)
    })
}

fn draw_heatmap(
    area: &Area,
    values: &[f64],
    side: usize,
    range: (f64, f64),
    title: &str,
    text: bool,
) -> Drawn {
    let (lo, hi) = range;
    let mut builder = ChartBuilder::on(area);
    builder.margin(16);
    if text {
        let caption = format!("{title} [{lo:.3}, {hi:.3}]");
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
            colour(v, lo, hi)
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

    #[test]
    fn heatmap_colours_cells_by_value_and_checks_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.png");
        let values: Vec<f64> = (0..9).map(|i| i as f64 - 4.0).collect();
        heatmap(&values, 3, "map", &path, false).unwrap();
        let (w, h, px) = pixels(&path);
        assert_eq!((w, h), (520, 560));
        let at = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            (px[i], px[i + 1], px[i + 2])
        };
        // Without text the plot spans the margins: cell (0, 0) is top left, most negative.
        let (first, last) = (at(40, 40), at(w - 40, h - 40));
        assert!(first.2 > first.0, "negative cell is blue: {first:?}");
        assert!(last.0 > last.2, "positive cell is red: {last:?}");
        let err = heatmap(&values, 4, "map", &path, false).unwrap_err();
        assert!(err.message.contains("9 values for a 4x4 map"), "{err}");
        assert_eq!(colour(0.0, -1.0, 1.0), RGBColor(255, 255, 255));
        assert_eq!(colour(1.0, 0.0, 1.0), RGBColor(180, 20, 30));
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
