//! The browser's recording buttons: download the run on screen as a ledger file that `dais replay` opens, open a
//! recording made by the desktop or headless app, and go back from a replay to a live run. (The desktop records
//! with `--ledger` and replays with `dais replay`.)

use bevy_egui::egui;

use crate::gui::page::PAGE_SCENARIO;
use crate::gui::source::{PendingRestart, RecordingRequests, ViewData};

pub fn show(
    ui: &mut egui::Ui,
    data: &ViewData,
    replay: bool,
    requests: &mut RecordingRequests,
    pending: &mut PendingRestart,
) {
    ui.strong("Recording");
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(data.tick > 0, egui::Button::new("💾 Download"))
            .on_hover_text("Save this run's ledger as a file (dais replay opens it)")
            .clicked()
        {
            requests.download = true;
        }
        if ui
            .button("📂 Open…")
            .on_hover_text("Open a recording made by dais (or drop the file on the page)")
            .clicked()
        {
            requests.pick = true;
        }
        if replay
            && ui
                .button("⟲ Live run")
                .on_hover_text("Leave the replay and start a live run")
                .clicked()
        {
            pending.0 = crate::config::load::scenario(PAGE_SCENARIO).ok();
        }
    });
    // Film the picture from now until Stop: play the ticks to show in between (a replay's range, or a live run).
    let (label, hint) = if requests.filming {
        (
            "⏹ Stop and save video",
            "Stop filming and save the WebM file",
        )
    } else {
        (
            "🎥 Record video",
            "Film the view from now until you stop, as a WebM file",
        )
    };
    if ui.button(label).on_hover_text(hint).clicked() {
        requests.toggle_video = true;
    }
}
