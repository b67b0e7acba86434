//! The replay's timeline: drag to any recorded tick, or continue live from the tick on screen. A forked live run
//! says where it forked.

use bevy_egui::egui;

use crate::gui::source::{ForkPoint, PendingFork, Playback, ViewData};

pub fn show(ui: &mut egui::Ui, data: &ViewData, playback: &mut Playback, fork: &mut PendingFork) {
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
    if ui
        .add_enabled(data.tick > 0, egui::Button::new("↪ Continue live"))
        .on_hover_text(format!(
            "Re-simulate to tick {} and go on as a live run, where you can intervene differently",
            data.tick
        ))
        .clicked()
    {
        fork.0 = Some(data.tick);
    }
}

/// The mark a forked run carries in the top bar.
pub fn forked(ui: &mut egui::Ui, fork: &ForkPoint) {
    ui.separator();
    let text = if fork.reached {
        format!("↪ forked at tick {}", fork.tick)
    } else {
        format!("↪ re-simulating to tick {}…", fork.tick)
    };
    ui.label(egui::RichText::new(text).strong())
        .on_hover_text(format!(
            "continued live from {} at tick {}",
            fork.from, fork.tick
        ));
}
