//! Play, pause, step, speed, reset: the teacher's remote control. Changing the run is disabled in a replay.

use bevy_egui::egui;

use crate::gui::source::{PendingRestart, Playback, SPEED_RANGE, ViewData};

pub fn show(
    ui: &mut egui::Ui,
    data: &ViewData,
    replay: bool,
    playback: &mut Playback,
    pending: &mut PendingRestart,
) {
    ui.heading("DAIS");
    let at_end = data.tick >= data.last_tick && data.last_tick > 0;
    let label = if playback.playing {
        "⏸ Pause"
    } else {
        "▶ Play"
    };
    if ui
        .add_enabled(!at_end || playback.playing, egui::Button::new(label))
        .on_hover_text("Space")
        .clicked()
        || ui.input(|i| i.key_pressed(egui::Key::Space))
    {
        playback.playing = !playback.playing && !at_end;
    }
    if ui
        .add_enabled(!replay && !at_end, egui::Button::new("⏭ Step"))
        .on_hover_text("Run one tick")
        .clicked()
    {
        playback.playing = false;
        playback.step_once = true;
    }
    ui.add(
        egui::Slider::new(&mut playback.speed, SPEED_RANGE.0..=SPEED_RANGE.1)
            .logarithmic(true)
            .max_decimals(1)
            .suffix(" ticks/s"),
    );
    let mut restart = |seed: u64| {
        let mut config = data.config.clone();
        config.simulation.seed = seed;
        pending.0 = Some(config);
    };
    if ui
        .add_enabled(!replay, egui::Button::new("⟲ Reset"))
        .on_hover_text("Start the same run again")
        .clicked()
    {
        restart(data.config.simulation.seed);
    }
    if ui
        .add_enabled(!replay, egui::Button::new("🎲 New seed"))
        .on_hover_text("Start again with the next seed")
        .clicked()
    {
        restart(data.config.simulation.seed.wrapping_add(1));
    }
    ui.separator();
    ui.label(
        egui::RichText::new(format!("tick {} / {}", data.tick, data.last_tick))
            .strong()
            .monospace(),
    );
}

/// "A+" (large text) and "HC" (high contrast): for the back of the room and for colour-blind eyes.
pub fn style_toggles(ui: &mut egui::Ui, style: &mut crate::gui::ViewStyle) {
    ui.toggle_value(&mut style.large_text, "A+")
        .on_hover_text("Large text: the panels' type half as large again");
    ui.toggle_value(&mut style.high_contrast, "HC")
        .on_hover_text("High contrast: colour-blind-safe colours on black, the same shapes");
}

/// The settings that produced the picture, last in the top bar: cut short with "…" where the bar runs out (a
/// replay's timeline comes first), whole on hover.
pub fn settings(ui: &mut egui::Ui, data: &ViewData, replay: bool) {
    let done = data.visible_interventions().count();
    let text = format!(
        "seed {} · {} agents · {}{} · {}",
        data.config.simulation.seed,
        data.agents.len(),
        super::params::setting_in_words(&data.config),
        match done {
            0 => String::new(),
            1 => " · 1 intervention".to_string(),
            n => format!(" · {n} interventions"),
        },
        if replay { "REPLAY" } else { "LIVE" }
    );
    ui.add(egui::Label::new(&text).truncate())
        .on_hover_text(text);
}
