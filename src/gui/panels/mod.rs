//! The egui panels around the scene: controls and timeline on top; legend, inspector and parameters on the left;
//! plots and the ledger feed on the right. Panel sizes are fixed (see `gui::TOP_BAR` and friends) so the scene's
//! rectangle never moves. Panels only read view data and write requests (playback, selection, restart).

mod chain;
mod controls;
mod inspector;
mod intervene;
mod ledger_feed;
mod legend;
mod lesson;
mod metrics;
mod params;
#[cfg(target_arch = "wasm32")]
mod recording;
mod timeline;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};

use super::camera::Selection;
use super::source::{PendingRestart, Playback, RecordingRequests, ViewData, ViewSource};
use super::{LEFT_PANEL, RIGHT_PANEL, TOP_BAR, ViewStyle};
use crate::config::SimConfig;

/// State the panels keep between frames.
#[derive(Resource, Default)]
pub struct PanelState {
    /// The parameters being edited, and the run they were taken from.
    pub draft: Option<(u64, SimConfig)>,
    /// Why the last "apply" was refused.
    pub draft_error: Option<String>,
    pub plots: metrics::PlotSeries,
    /// The strategy and campaign the intervention buttons use.
    pub intervention_choices: intervene::InterventionChoices,
    /// The text size the panels were last styled with (None before the first frame).
    styled: Option<bool>,
}

/// Puts a changed style into effect: the palette switch, the background, and a fresh draw of every mesh (a new
/// layout generation redraws edges, nodes and overlays from the same positions).
fn apply_view_style(
    style: Res<ViewStyle>,
    mut clear: ResMut<ClearColor>,
    mut data: ResMut<ViewData>,
    mut applied: Local<Option<(bool, bool)>>,
) {
    let wanted = (style.high_contrast, style.size_by_links);
    if *applied == Some(wanted) {
        return;
    }
    let first = applied.is_none();
    *applied = Some(wanted);
    super::palette::set_high_contrast(style.high_contrast);
    clear.0 = super::palette::background();
    if !first || style.high_contrast || !style.size_by_links {
        data.run_generation += 1;
    }
}

pub fn egui_colour(c: Srgba) -> egui::Color32 {
    let [r, g, b, a] = c.to_u8_array();
    egui::Color32::from_rgba_unmultiplied(r, g, b, a)
}

/// Larger type than egui's default: the panels are read from the back of a classroom; "Large text" makes it half
/// as large again.
fn style_panels(ctx: &egui::Context, state: &mut PanelState, large_text: bool) {
    if state.styled == Some(large_text) {
        return;
    }
    state.styled = Some(large_text);
    let scale = if large_text { 1.5 } else { 1.0 };
    ctx.set_theme(egui::Theme::Dark);
    ctx.all_styles_mut(|style| {
        for (text_style, font) in style.text_styles.iter_mut() {
            font.size = scale
                * match text_style {
                    egui::TextStyle::Heading => 17.0,
                    egui::TextStyle::Small => 11.0,
                    _ => 14.0,
                };
        }
        style.spacing.item_spacing = egui::vec2(6.0, 4.0);
    });
    // Feathering (egui's anti-aliasing of shapes) doubles the triangles of every line and plot; under a software
    // renderer it cost about 9 ms a frame. Text keeps its smooth glyphs.
    ctx.tessellation_options_mut(|options| options.feathering = false);
}

/// Text colours the panels share: a good outcome (accepted, a link that holds, a yes), an alarm (a false signature,
/// a refusal, a broken link, a no), and a warning (a hint).
pub(super) const GOOD: egui::Color32 = egui::Color32::from_rgb(48, 196, 141);
pub(super) const ALARM: egui::Color32 = egui::Color32::from_rgb(229, 72, 77);
pub(super) const WARNING: egui::Color32 = egui::Color32::from_rgb(245, 166, 35);

/// What the panels may ask of the app beyond playback: a new run, or (in the browser) a recording saved or opened.
#[derive(SystemParam)]
pub struct Requests<'w> {
    restart: ResMut<'w, PendingRestart>,
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    recording: ResMut<'w, RecordingRequests>,
    chain: ResMut<'w, chain::ChainDemo>,
    link: ResMut<'w, super::camera::SelectedLink>,
    interventions: ResMut<'w, super::interventions::InterventionRequests>,
    fork: ResMut<'w, super::source::PendingFork>,
    lesson: ResMut<'w, super::lesson::ActiveLesson>,
    pending_lesson: ResMut<'w, super::lesson::PendingLesson>,
    style: ResMut<'w, ViewStyle>,
}

/// The panels' own systems (those that answer what the panels asked).
pub fn plugin(app: &mut App) {
    chain::plugin(app);
    app.add_systems(Update, apply_view_style.in_set(super::ViewSet::Input));
}

pub fn draw_panels(
    mut contexts: EguiContexts,
    data: Res<ViewData>,
    source: Res<ViewSource>,
    mut playback: ResMut<Playback>,
    mut selection: ResMut<Selection>,
    mut requests: Requests,
    mut state: ResMut<PanelState>,
) -> Result {
    let pending = requests.restart.as_mut();
    let ctx = contexts.ctx_mut()?;
    style_panels(ctx, &mut state, requests.style.large_text);
    let replay = source.is_replay();
    let state = state.as_mut();
    state.plots.update(&data);

    let mut root = egui::Ui::new(
        ctx.clone(),
        "dais-root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    egui::Panel::top("controls")
        .exact_size(TOP_BAR)
        .resizable(false)
        .show(&mut root, |ui| {
            ui.horizontal_centered(|ui| {
                controls::show(ui, &data, replay, &mut playback, pending);
                controls::style_toggles(ui, &mut requests.style);
                if replay {
                    timeline::show(ui, &data, &mut playback, &mut requests.fork);
                } else if let Some(fork) = &data.fork {
                    timeline::forked(ui, fork);
                }
                ui.separator();
                controls::settings(ui, &data, replay);
            });
        });
    egui::Panel::left("explain")
        .exact_size(LEFT_PANEL)
        .resizable(false)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                #[cfg(target_arch = "wasm32")]
                {
                    recording::show(ui, &data, replay, &mut requests.recording, pending);
                    ui.separator();
                }
                let cut_links = data
                    .interventions
                    .iter()
                    .any(|(_, a)| matches!(a, crate::config::Intervention::Cut(..)));
                let large_text = requests.style.large_text;
                let drawn_links = legend::DrawnLinks {
                    stride: super::graph_view::link_stride(data.edges.len()),
                    total: data.edges.len(),
                };
                legend::show(
                    ui,
                    cut_links,
                    drawn_links,
                    &mut requests.style.size_by_links,
                    large_text,
                );
                ui.separator();
                inspector::show(
                    ui,
                    &data,
                    &source,
                    &mut selection,
                    inspector::Hands {
                        link: &mut requests.link,
                        choices: &mut state.intervention_choices,
                        requests: &mut requests.interventions,
                    },
                );
                ui.separator();
                lesson::picker(ui, &mut requests.pending_lesson);
                ui.separator();
                params::show(ui, &data, replay, state, pending);
            });
        });
    egui::Panel::right("measure")
        .exact_size(RIGHT_PANEL)
        .resizable(false)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                // Settings that stop the defence, named before the plots show their effect.
                for hint in &data.hints {
                    ui.colored_label(WARNING, format!("Why the defence may fail: {hint}"));
                    ui.separator();
                }
                metrics::show(ui, &data, &state.plots);
                ui.separator();
                chain::button(ui, &mut requests.chain);
                ledger_feed::show(ui, &data, requests.style.large_text);
            });
        });
    chain::window(ctx, &mut requests.chain);
    lesson::window(ctx, &mut requests.lesson, &data, playback.playing);
    if let Some(problem) = &data.problem {
        egui::Window::new("Problem")
            .collapsible(false)
            .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -16.0))
            .show(ctx, |ui| {
                ui.colored_label(egui::Color32::LIGHT_RED, problem);
            });
    }
    Ok(())
}
