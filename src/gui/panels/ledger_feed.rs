//! The ledger feed: the latest decisions, newest first, with signature id, outcome and the yes/no count.

use bevy_egui::egui;

use crate::gui::source::ViewData;
use crate::model::Outcome;

const SHOWN: usize = 12;

pub fn show(ui: &mut egui::Ui, data: &ViewData) {
    let visible = data.feed.partition_point(|entry| entry.tick <= data.tick);
    ui.strong(format!("Ledger: {visible} decisions"));
    if visible == 0 {
        ui.label(egui::RichText::new("No decision yet.").weak());
        return;
    }
    egui::Grid::new("ledger-feed")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            ui.label("tick");
            ui.label("signature");
            ui.label("outcome");
            ui.label("yes / no");
            ui.end_row();
            for entry in data.feed[..visible].iter().rev().take(SHOWN) {
                ui.monospace(entry.tick.to_string());
                ui.monospace(&entry.sig_id[..entry.sig_id.len().min(8)])
                    .on_hover_text(&entry.sig_id);
                // A decision whose certificate fails the check is refused by honest agents: that is its outcome,
                // whatever the tallier claimed.
                let verdict = if entry.valid {
                    entry.outcome
                } else {
                    Outcome::Refused
                };
                let colour = match verdict {
                    Outcome::Accepted => egui::Color32::from_rgb(48, 196, 141),
                    Outcome::Rejected => egui::Color32::from_rgb(229, 72, 77),
                    Outcome::Expired => egui::Color32::GRAY,
                    Outcome::Refused => egui::Color32::from_rgb(245, 166, 35),
                };
                let label = ui.colored_label(colour, verdict.as_str());
                if !entry.valid {
                    label.on_hover_text(format!(
                        "forged certificate: the tallier claimed {} with ballots that were never cast",
                        entry.outcome.as_str()
                    ));
                }
                ui.monospace(format!("{} / {}", entry.yes, entry.no));
                ui.end_row();
            }
        });
}
