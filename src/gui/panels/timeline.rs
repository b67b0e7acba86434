//! The replay's timeline: drag to any recorded tick.

use bevy_egui::egui;

use crate::gui::source::{Playback, ViewData};

pub fn show(ui: &mut egui::Ui, data: &ViewData, playback: &mut Playback) {
    ui.separator();
    let mut tick = playback.seek.unwrap_or(data.tick).max(1);
    let last = data.last_tick.max(1);
    let response = ui.add(
        egui::Slider::new(&mut tick, 1..=last)
            .text("timeline")
            .clamping(egui::SliderClamping::Always),
    );
    if response.changed() {
        playback.seek = Some(tick);
    }
}
