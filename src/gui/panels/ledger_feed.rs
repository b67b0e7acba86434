//! The ledger feed: the latest decisions, newest first: what the signature really describes (the campaign it matches,
//! or normal traffic, which makes it a false signature), the outcome, and the yes/no count. The signature's id is on
//! hover. With large text the yes/no count moves to the outcome's hover, so the columns still fit the panel.

use bevy_egui::egui;

// Red: a false signature, or a refused forged certificate.
use super::ALARM as FALSE_SIGNATURE;
use crate::gui::source::ViewData;
use crate::model::Outcome;

const SHOWN: usize = 12;

pub fn show(ui: &mut egui::Ui, data: &ViewData, large_text: bool) {
    let visible = data.feed.partition_point(|entry| entry.tick <= data.tick);
    ui.strong(format!("Ledger: {visible} decisions"));
    if visible == 0 {
        ui.label(egui::RichText::new("No decision yet.").weak());
        return;
    }
    egui::Grid::new("ledger-feed")
        .striped(true)
        .num_columns(if large_text { 3 } else { 4 })
        .show(ui, |ui| {
            ui.label("tick");
            ui.label("signature of");
            ui.label("outcome");
            if !large_text {
                ui.label("yes / no");
            }
            ui.end_row();
            for entry in data.feed[..visible].iter().rev().take(SHOWN) {
                ui.monospace(entry.tick.to_string());
                // Ground truth names the signature: a true one by its campaign, a false one as what it is.
                let campaign = (entry.truth as usize)
                    .checked_sub(1)
                    .and_then(|c| data.config.traffic.campaigns.get(c));
                match campaign {
                    Some(c) => ui.label(&c.name),
                    None => ui.colored_label(FALSE_SIGNATURE, "normal traffic"),
                }
                .on_hover_text(match campaign {
                    Some(c) => format!("a true signature of {} (id {})", c.name, entry.sig_id),
                    None => format!(
                        "a false signature: it describes normal traffic (id {})",
                        entry.sig_id
                    ),
                });
                // A decision whose certificate fails the check is refused by honest agents: that is its outcome,
                // whatever the tallier claimed.
                let verdict = entry.verdict();
                let colour = match verdict {
                    Outcome::Accepted => super::GOOD,
                    Outcome::Rejected => egui::Color32::from_rgb(170, 176, 186),
                    Outcome::Expired => egui::Color32::GRAY,
                    // A forged certificate that honest agents refused: an attack caught, shown as an alarm.
                    Outcome::Refused => FALSE_SIGNATURE,
                };
                let label = ui.colored_label(colour, verdict.as_str());
                let count = format!("{} yes / {} no", entry.yes, entry.no);
                if !entry.valid {
                    label.on_hover_text(format!(
                        "forged certificate: the tallier claimed {} with ballots that were never cast ({count})",
                        entry.outcome.as_str()
                    ));
                } else if large_text {
                    label.on_hover_text(count);
                }
                if !large_text {
                    ui.monospace(format!("{} / {}", entry.yes, entry.no));
                }
                ui.end_row();
            }
        });
}
