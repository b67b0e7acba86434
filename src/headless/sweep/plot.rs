//! The report's plots (plotters), one per metric, as SVG and PNG: the metric's mean against a numeric factor, one
//! line per level of the next factor with its 95% confidence band; or, when no factor is numeric, bars with 95%
//! error bars. Sized and lettered for a projector: 1600×1000 pixels, 30-40 px text, colour-blind-safe colours.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::experiment::report::{CellSummary, Factor, Report};

const SIZE: (u32, u32) = (1600, 1000);
const FONT: &str = "sans-serif";

/// Okabe & Ito's palette: distinguishable with every common colour-vision deficiency, and on a washed-out projector.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {message}")]
pub struct PlotError {
    pub path: PathBuf,
    pub message: String,
}

/// One plot's data: each series' (x level index, cell) points.
struct Panel<'a> {
    metric: &'a str,
    x: &'a Factor,
    series: Option<&'a Factor>,
    /// Per series level (one entry when there is no series factor): per x level, the cell if it has values.
    points: Vec<Vec<Option<&'a CellSummary>>>,
    /// `key=value` of the further factors this panel holds fixed.
    facet: Vec<String>,
    seeds: usize,
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // egui's own proportional font, compiled in: the PNG needs no system font library.
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// A file-name-safe form of a metric or level.
fn file_stem(parts: &[String]) -> String {
    parts
        .join("--")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Draws every metric of `report` into `dir` as `<metric>.svg` and `<metric>.png` (with further factors beyond two,
/// one pair of files per combination of their levels). Returns the files written.
pub fn draw_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| PlotError {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut written = Vec::new();
    for metric in &report.metrics {
        for panel in panels(report, metric) {
            let mut stem = vec![metric.clone()];
            stem.extend(panel.facet.iter().cloned());
            let stem = file_stem(&stem);
            let svg = dir.join(format!("{stem}.svg"));
            draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), &panel).map_err(|e| {
                PlotError {
                    path: svg.clone(),
                    message: e.to_string(),
                }
            })?;
            let png = dir.join(format!("{stem}.png"));
            draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), &panel).map_err(|e| {
                PlotError {
                    path: png.clone(),
                    message: e.to_string(),
                }
            })?;
            written.extend([svg, png]);
        }
    }
    Ok(written)
}

/// The x factor is the first numeric one (or the first, for bars), the series the next; any further factors make
/// one panel per combination of their levels.
fn panels<'a>(report: &'a Report, metric: &'a str) -> Vec<Panel<'a>> {
    let factors = &report.factors;
    let x_index = factors.iter().position(|f| f.numeric).unwrap_or(0);
    let series_index = (0..factors.len()).find(|&i| i != x_index);
    let facet_indices: Vec<usize> = (0..factors.len())
        .filter(|&i| i != x_index && Some(i) != series_index)
        .collect();
    let cells: Vec<&CellSummary> = report.cells.iter().filter(|c| c.metric == metric).collect();
    let mut facets: Vec<Vec<&String>> = Vec::new();
    for cell in &cells {
        let facet: Vec<&String> = facet_indices.iter().map(|&i| &cell.levels[i]).collect();
        if !facets.contains(&facet) {
            facets.push(facet);
        }
    }
    let series = series_index.map(|i| &factors[i]);
    facets
        .into_iter()
        .map(|facet| {
            let series_levels = series.map_or(1, |s| s.levels.len());
            let mut points = vec![vec![None; factors[x_index].levels.len()]; series_levels];
            let mut seeds = 0;
            for cell in &cells {
                let in_facet = facet_indices
                    .iter()
                    .zip(&facet)
                    .all(|(&i, level)| cell.levels[i] == **level);
                if !in_facet || cell.description.is_none() {
                    continue;
                }
                let x = level_index(&factors[x_index], &cell.levels[x_index]);
                let s = series_index.map_or(0, |i| level_index(&factors[i], &cell.levels[i]));
                seeds = seeds.max(cell.description.as_ref().map_or(0, |d| d.n));
                points[s][x] = Some(*cell);
            }
            Panel {
                metric,
                x: &factors[x_index],
                series,
                points,
                facet: facet_indices
                    .iter()
                    .zip(&facet)
                    .map(|(&i, level)| format!("{}={level}", factors[i].key))
                    .collect(),
                seeds,
            }
        })
        .collect()
}

fn level_index(factor: &Factor, level: &str) -> usize {
    factor
        .levels
        .iter()
        .position(|l| l == level)
        .expect("a level of its factor")
}

/// A cell's mean and its 95% interval (the mean itself with one seed).
fn interval(cell: &CellSummary) -> (f64, f64, f64) {
    let d = cell.description.as_ref().expect("drawn cells have values");
    let (low, high) = d.ci95.unwrap_or((d.mean, d.mean));
    (low, d.mean, high)
}

/// The y range over every drawn interval, from zero when every value is positive (counts and rates), padded.
fn y_range(panel: &Panel) -> (f64, f64) {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for cell in panel.points.iter().flatten().flatten() {
        let (l, _, h) = interval(cell);
        low = low.min(l);
        high = high.max(h);
    }
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    if low >= 0.0 {
        low = 0.0;
    }
    let pad = ((high - low) * 0.08).max(if high == low { 1.0 } else { 0.0 });
    (if low == 0.0 { 0.0 } else { low - pad }, high + pad)
}

/// What a headline column means, for a plot's title (the axis keeps the column's own name, to look up).
fn title_of(metric: &str) -> String {
    let known = [
        ("signatures_accepted_false", "Forged signatures accepted"),
        ("signatures_accepted_true", "True signatures accepted"),
        ("detection_precision", "Detection precision"),
        ("detection_recall", "Detection recall"),
        ("messages", "Messages sent"),
        ("ticks_per_second", "Simulation speed (ticks/s)"),
    ];
    if let Some((_, title)) = known.iter().find(|(k, _)| *k == metric) {
        return title.to_string();
    }
    match metric.strip_prefix("time_to_immunity_") {
        Some(campaign) => format!("Time to immunity against {campaign} (ticks)"),
        None => metric.to_string(),
    }
}

fn series_name(panel: &Panel, s: usize) -> String {
    panel.series.map_or_else(
        || panel.metric.to_string(),
        |f| format!("{} = {}", f.key, f.levels[s]),
    )
}

/// Both axes' names and the grid, in projector-sized text.
fn label_axes<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
    panel: &Panel,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    DB: DrawingBackend,
{
    mesh.x_desc(&panel.x.key)
        .y_desc(panel.metric)
        .label_style((FONT, 30))
        .axis_desc_style((FONT, 34))
        .light_line_style(RGBColor(235, 235, 235))
}

/// The series' legend, boxed and half-opaque over the plot.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(120, 120, 120))
        .label_font((FONT, 30))
        .legend_area_size(45)
        .margin(15)
        .draw()
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let title = if panel.facet.is_empty() {
        title_of(panel.metric)
    } else {
        format!("{} ({})", title_of(panel.metric), panel.facet.join(", "))
    };
    let note = format!(
        "mean of {} seeds; {} 95% confidence interval (Student t)",
        panel.seeds,
        if panel.x.numeric { "band:" } else { "bars:" }
    );
    let (y_low, y_high) = y_range(panel);
    let (root, footer) = root.split_vertically(SIZE.1 - 50);
    footer.draw_text(
        &note,
        &(FONT, 26).into_font().color(&RGBColor(80, 80, 80)),
        (30, 10),
    )?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&title, (FONT, 44))
        .margin(30)
        .x_label_area_size(100)
        .y_label_area_size(150);
    if panel.x.numeric {
        let xs: Vec<f64> = panel
            .x
            .levels
            .iter()
            .map(|l| l.parse().expect("a numeric factor"))
            .collect();
        let (x_low, x_high) = (xs[0], xs[xs.len() - 1]);
        let x_pad = ((x_high - x_low) * 0.03).max(if x_high == x_low { 1.0 } else { 0.0 });
        let mut chart =
            builder.build_cartesian_2d((x_low - x_pad)..(x_high + x_pad), y_low..y_high)?;
        let mut mesh = chart.configure_mesh();
        label_axes(&mut mesh, panel).draw()?;
        for (s, points) in panel.points.iter().enumerate() {
            let colour = COLOURS[s % COLOURS.len()];
            let drawn: Vec<(f64, (f64, f64, f64))> = points
                .iter()
                .zip(&xs)
                .filter_map(|(cell, &x)| cell.map(|c| (x, interval(c))))
                .collect();
            if drawn.is_empty() {
                continue;
            }
            let band: Vec<(f64, f64)> = drawn
                .iter()
                .map(|(x, (_, _, h))| (*x, *h))
                .chain(drawn.iter().rev().map(|(x, (l, _, _))| (*x, *l)))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.18))))?;
            chart
                .draw_series(LineSeries::new(
                    drawn.iter().map(|(x, (_, m, _))| (*x, *m)),
                    colour.stroke_width(4),
                ))?
                .label(series_name(panel, s))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 30, y)], colour.stroke_width(4))
                });
            chart.draw_series(
                drawn
                    .iter()
                    .map(|(x, (_, m, _))| Circle::new((*x, *m), 7, colour.filled())),
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    } else {
        let groups = panel.x.levels.len();
        let bars = panel.points.len();
        let width = 0.8 / bars as f64;
        let labels = panel.x.levels.clone();
        let label = move |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        let mut chart = builder.build_cartesian_2d(-0.5..(groups as f64 - 0.5), y_low..y_high)?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_x_mesh()
            .x_labels(groups * 2 + 1)
            .x_label_formatter(&label);
        label_axes(&mut mesh, panel).draw()?;
        for (s, points) in panel.points.iter().enumerate() {
            let colour = COLOURS[s % COLOURS.len()];
            let left = |g: usize| g as f64 - 0.4 + s as f64 * width;
            let drawn: Vec<(usize, (f64, f64, f64))> = points
                .iter()
                .enumerate()
                .filter_map(|(g, cell)| cell.map(|c| (g, interval(c))))
                .collect();
            chart
                .draw_series(drawn.iter().map(|(g, (_, m, _))| {
                    Rectangle::new(
                        [
                            (left(*g), 0.0_f64.max(y_low)),
                            (left(*g) + width * 0.92, *m),
                        ],
                        colour.filled(),
                    )
                }))?
                .label(series_name(panel, s))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 10), (x + 24, y + 10)], colour.filled())
                });
            chart.draw_series(drawn.iter().map(|(g, (l, m, h))| {
                ErrorBar::new_vertical(
                    left(*g) + width * 0.46,
                    *l,
                    *m,
                    *h,
                    BLACK.stroke_width(3),
                    16,
                )
            }))?;
        }
        if panel.series.is_some() {
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
    }
    root.present()?;
    Ok(())
}
