//! Live plots: detection precision and recall, immunity per campaign, accepted signatures (true and false) and
//! messages per tick. The series are built incrementally, one point per new tick, and handed to egui_plot as
//! borrowed slices, so a long run costs no more per frame than drawing its lines.

use bevy_egui::egui;
use egui_plot::{Legend, Line, Plot, PlotPoint};

use crate::gui::source::ViewData;
use crate::model::TickMetrics;

/// Precision and recall are taken over this many ticks: one tick holds too few samples to read.
pub const DETECTION_WINDOW: usize = 10;

#[derive(Default)]
pub struct PlotSeries {
    run_generation: u64,
    ticks: usize,
    pub precision: Vec<PlotPoint>,
    pub recall: Vec<PlotPoint>,
    pub immune: Vec<Vec<PlotPoint>>,
    pub accepted_true: Vec<PlotPoint>,
    pub accepted_false: Vec<PlotPoint>,
    pub messages: Vec<PlotPoint>,
}

/// (caught, flagged, attack samples) summed over a window of ticks.
fn windowed_detection(window: &[TickMetrics]) -> (Option<f64>, Option<f64>) {
    let (mut caught, mut flagged, mut attacks) = (0u64, 0u64, 0u64);
    for m in window {
        caught += m.caught();
        flagged += m.flagged();
        attacks += m.attack_samples;
    }
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    (ratio(caught, flagged), ratio(caught, attacks))
}

impl PlotSeries {
    /// Appends the ticks not yet plotted; starts over when a new run opens.
    pub fn update(&mut self, data: &ViewData) {
        if self.run_generation != data.run_generation {
            *self = Self {
                run_generation: data.run_generation,
                immune: vec![Vec::new(); data.config.traffic.campaigns.len()],
                ..Self::default()
            };
        }
        let (mut total_true, mut total_false) = (
            self.accepted_true.last().map_or(0.0, |p| p.y),
            self.accepted_false.last().map_or(0.0, |p| p.y),
        );
        for i in self.ticks..data.metrics.len() {
            let m = &data.metrics[i];
            let x = m.tick as f64;
            let (precision, recall) =
                windowed_detection(&data.metrics[i.saturating_sub(DETECTION_WINDOW - 1)..=i]);
            if let Some(p) = precision {
                self.precision.push(PlotPoint::new(x, p));
            }
            if let Some(r) = recall {
                self.recall.push(PlotPoint::new(x, r));
            }
            for (series, &fraction) in self.immune.iter_mut().zip(&m.immune_fraction) {
                series.push(PlotPoint::new(x, fraction));
            }
            total_true += m.signatures_accepted_true as f64;
            total_false += m.signatures_accepted_false as f64;
            self.accepted_true.push(PlotPoint::new(x, total_true));
            self.accepted_false.push(PlotPoint::new(x, total_false));
            self.messages
                .push(PlotPoint::new(x, m.messages_sent as f64));
        }
        self.ticks = data.metrics.len();
    }
}

/// The points of a series up to the tick on screen (a replay has them all and shows a prefix).
fn upto(series: &[PlotPoint], tick: u32) -> &[PlotPoint] {
    &series[..series.partition_point(|p| p.x <= tick as f64)]
}

/// A plot is about 300 pixels wide: more points than this only cost frame time.
const MAX_PLOTTED_POINTS: usize = 300;

/// A line of at most `MAX_PLOTTED_POINTS`: the series itself when short (borrowed), else every k-th point plus the
/// last, so the line still ends at the tick on screen.
fn line<'a>(name: impl Into<String>, series: &'a [PlotPoint], tick: u32) -> Line<'a> {
    let shown = upto(series, tick);
    if shown.len() <= MAX_PLOTTED_POINTS {
        return Line::new(name, shown);
    }
    let stride = shown.len().div_ceil(MAX_PLOTTED_POINTS);
    let mut points: Vec<[f64; 2]> = shown.iter().step_by(stride).map(|p| [p.x, p.y]).collect();
    if let Some(last) = shown.last() {
        points.push([last.x, last.y]);
    }
    Line::new(name, points)
}

const PLOT_HEIGHT: f32 = 118.0;

/// What a plot's y axis counts, and the least top of its range: a run with nothing accepted yet shows 0 to 5
/// signatures, not egui_plot's -20 to 20 around an all-zero line.
struct YAxis {
    unit: &'static str,
    least_top: f64,
}

/// The smallest of 1, 2 or 5 times a power of ten that is at least `at_least`.
fn nice_step(at_least: f64) -> f64 {
    let power = 10f64.powf(at_least.max(f64::MIN_POSITIVE).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&step| step >= at_least)
        .unwrap_or(10.0 * power)
}

/// Tick marks about a quarter of the run apart (whole ticks at least), so a narrow plot still labels its time axis:
/// egui_plot's powers of ten left a 60-tick axis with a lone "0".
fn tick_marks(input: egui_plot::GridInput) -> [f64; 3] {
    let span = input.bounds.1 - input.bounds.0;
    let step = nice_step((span / 4.0).max(1.0));
    [step / 5.0, step, step * 5.0]
}

/// Value marks about half the plot's height apart: a 118-pixel plot has room for three labels, not ten.
fn value_marks(input: egui_plot::GridInput) -> [f64; 3] {
    let step = nice_step((input.bounds.1 - input.bounds.0) / 2.0);
    [step / 5.0, step, step * 5.0]
}

fn plot<'a>(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    data: &'a ViewData,
    y: YAxis,
    lines: impl FnOnce(&mut egui_plot::PlotUi<'a>) + 'a,
) {
    ui.label(egui::RichText::new(title).strong());
    Plot::new(id)
        .height(PLOT_HEIGHT)
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .x_axis_label("tick")
        .x_grid_spacer(egui_plot::uniform_grid_spacer(tick_marks))
        .y_grid_spacer(egui_plot::uniform_grid_spacer(value_marks))
        .y_axis_label(y.unit)
        .include_x(0.0)
        .include_x(data.tick.max(10) as f64)
        .include_y(0.0)
        .include_y(y.least_top)
        .show(ui, |p| {
            marks(p, data);
            lines(p);
        });
}

/// Vertical marks on every plot: each intervention applied so far (thin amber), and where a forked run left its
/// recording (white).
fn marks(p: &mut egui_plot::PlotUi<'_>, data: &ViewData) {
    let mut ticks: Vec<u32> = data.visible_interventions().map(|(t, _)| *t).collect();
    ticks.dedup();
    for tick in ticks {
        p.vline(
            egui_plot::VLine::new("", tick as f64)
                .color(super::WARNING.gamma_multiply(0.6))
                .width(1.0),
        );
    }
    if let Some(fork) = &data.fork {
        p.vline(
            egui_plot::VLine::new("fork", fork.tick as f64)
                .color(egui::Color32::WHITE)
                .width(1.5),
        );
    }
}

const CAMPAIGN_COLOURS: [egui::Color32; 4] = [
    egui::Color32::from_rgb(48, 196, 141),
    egui::Color32::from_rgb(125, 211, 252),
    egui::Color32::from_rgb(245, 166, 35),
    egui::Color32::from_rgb(176, 124, 255),
];

pub fn show<'a>(ui: &mut egui::Ui, data: &'a ViewData, series: &'a PlotSeries) {
    let tick = data.tick;
    plot(
        ui,
        "detection",
        "Detection (10-tick window)",
        data,
        YAxis {
            unit: "share",
            least_top: 1.0,
        },
        |p| {
            p.line(
                line("precision", &series.precision, tick)
                    .color(egui::Color32::from_rgb(125, 211, 252)),
            );
            p.line(
                line("recall", &series.recall, tick).color(egui::Color32::from_rgb(245, 166, 35)),
            );
        },
    );
    plot(
        ui,
        "immunity",
        "Immune share of honest agents",
        data,
        YAxis {
            unit: "share",
            least_top: 1.0,
        },
        |p| {
            for (c, series_line) in series.immune.iter().enumerate() {
                let name = data
                    .config
                    .traffic
                    .campaigns
                    .get(c)
                    .map_or_else(|| format!("campaign {c}"), |c| c.name.clone());
                p.line(
                    line(name, series_line, tick)
                        .color(CAMPAIGN_COLOURS[c % CAMPAIGN_COLOURS.len()]),
                );
            }
        },
    );
    plot(
        ui,
        "signatures",
        "Signatures accepted (total)",
        data,
        YAxis {
            unit: "signatures",
            least_top: 5.0,
        },
        |p| {
            p.line(
                line("true threats", &series.accepted_true, tick)
                    .color(egui::Color32::from_rgb(48, 196, 141)),
            );
            p.line(
                line("false (normal traffic)", &series.accepted_false, tick)
                    .color(egui::Color32::from_rgb(229, 72, 77)),
            );
        },
    );
    let messages = YAxis {
        unit: "hops",
        least_top: 10.0,
    };
    plot(
        ui,
        "messages",
        "Messages sent per tick",
        data,
        messages,
        |p| {
            p.line(
                line("messages", &series.messages, tick)
                    .color(egui::Color32::from_rgb(255, 224, 102)),
            );
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_axis_steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(15.0), 20.0);
        assert_eq!(nice_step(2.5), 5.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(75.0), 100.0);
        assert_eq!(nice_step(0.3), 0.5);
    }

    #[test]
    fn detection_is_measured_over_the_window_and_undefined_without_data() {
        let tick = |tp: u64, fp: u64, attacks: u64| TickMetrics {
            true_positive: tp,
            false_positive: fp,
            attack_samples: attacks,
            ..TickMetrics::default()
        };
        assert_eq!(windowed_detection(&[tick(0, 0, 0)]), (None, None));
        let (p, r) = windowed_detection(&[tick(3, 1, 4), tick(1, 3, 4)]);
        assert_eq!((p, r), (Some(0.5), Some(0.5)));
    }

    #[test]
    fn series_grow_by_new_ticks_only_and_show_a_prefix() {
        let mut data = ViewData {
            run_generation: 1,
            ..ViewData::default()
        };
        data.metrics = (1..=5)
            .map(|t| TickMetrics {
                tick: t,
                messages_sent: t as u64,
                signatures_accepted_true: 1,
                ..TickMetrics::default()
            })
            .collect();
        let mut series = PlotSeries::default();
        series.update(&data);
        series.update(&data);
        assert_eq!(series.messages.len(), 5);
        assert_eq!(series.accepted_true.last().map(|p| p.y), Some(5.0));
        assert_eq!(upto(&series.messages, 3).len(), 3);
    }
}
