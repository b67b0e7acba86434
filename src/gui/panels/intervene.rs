//! Interventions by hand: with a node picked, crash or revive it, turn it Byzantine or honest, or start a campaign
//! there; with a link picked, cut or restore it. Each button has a key, for a teacher at the front of the room. A
//! request goes to the live run for its next tick (`gui::interventions`); a replay offers nothing to change.

use bevy_egui::egui;

use super::params::{STRATEGIES, combo};
use crate::config::{ByzantineStrategy, Intervention};
use crate::gui::interventions::InterventionRequests;
use crate::gui::source::ViewData;
use crate::model::AgentState;

/// The choices the buttons use, kept between frames.
#[derive(Debug)]
pub struct InterventionChoices {
    pub strategy: ByzantineStrategy,
    pub campaign: usize,
}

impl Default for InterventionChoices {
    fn default() -> Self {
        Self {
            strategy: ByzantineStrategy::Collude,
            campaign: 0,
        }
    }
}

/// One button with its key: clicked, or its key pressed while no text field has the keyboard.
fn action(ui: &mut egui::Ui, label: &str, key: egui::Key, hint: &str) -> bool {
    let pressed = !ui.ctx().egui_wants_keyboard_input() && ui.input(|i| i.key_pressed(key));
    ui.button(format!("{label} ({})", key.name()))
        .on_hover_text(hint)
        .clicked()
        || pressed
}

/// The buttons for the picked agent (`byzantine`: it lies now) in a live run.
pub fn agent_actions(
    ui: &mut egui::Ui,
    data: &ViewData,
    agent: u32,
    byzantine: bool,
    choices: &mut InterventionChoices,
    requests: &mut InterventionRequests,
) {
    let a = agent as usize;
    let crashed = data.frame.agents.get(a) == Some(&AgentState::Crashed);
    ui.label(egui::RichText::new("Intervene (applies next tick)").strong());
    ui.horizontal_wrapped(|ui| {
        let (label, hint, request) = if crashed {
            (
                "Revive",
                "Bring it back; its neighbours send what it missed",
                Intervention::Revive(a),
            )
        } else {
            (
                "Crash",
                "Take it down: no traffic, no messages, no votes",
                Intervention::Crash(a),
            )
        };
        if action(ui, label, egui::Key::C, hint) {
            requests.0.push(request);
        }
    });
    ui.horizontal_wrapped(|ui| {
        if byzantine {
            if action(
                ui,
                "Make honest",
                egui::Key::B,
                "It votes by its own evidence again",
            ) {
                requests.0.push(Intervention::Honest(a));
            }
        } else {
            combo(ui, "intervene-strategy", &mut choices.strategy, &STRATEGIES);
            if action(
                ui,
                "Make Byzantine",
                egui::Key::B,
                "It lies by the chosen strategy",
            ) {
                requests
                    .0
                    .push(Intervention::Byzantine(a, choices.strategy));
            }
        }
    });
    let campaigns = &data.config.traffic.campaigns;
    if !campaigns.is_empty() {
        ui.horizontal_wrapped(|ui| {
            choices.campaign = choices.campaign.min(campaigns.len() - 1);
            egui::ComboBox::from_id_salt("intervene-campaign")
                .selected_text(&campaigns[choices.campaign].name)
                .show_ui(ui, |ui| {
                    for (i, c) in campaigns.iter().enumerate() {
                        ui.selectable_value(&mut choices.campaign, i, &c.name);
                    }
                });
            if action(
                ui,
                "Attack here",
                egui::Key::A,
                "The campaign reaches this agent now and spreads",
            ) {
                requests.0.push(Intervention::StartCampaign {
                    campaign: choices.campaign,
                    at: a,
                });
            }
        });
    }
}

/// The picked link, and the button that cuts or restores it (in a live run).
pub fn link_actions(
    ui: &mut egui::Ui,
    data: &ViewData,
    link: (u32, u32),
    live: bool,
    requests: &mut InterventionRequests,
) -> bool {
    let (a, b) = (link.0 as usize, link.1 as usize);
    let cut =
        crate::config::interventions::cut_links_at(&data.interventions, data.tick).contains(&link);
    let mut close = false;
    ui.horizontal(|ui| {
        ui.strong(format!("Link {a}–{b}"));
        close = ui.small_button("✖").on_hover_text("Close").clicked();
    });
    ui.label(if cut {
        "cut: carries nothing"
    } else {
        "carries messages and worms"
    });
    if live {
        let clicked = if cut {
            action(ui, "Restore link", egui::Key::X, "The link carries again")
        } else {
            action(
                ui,
                "Cut link",
                egui::Key::X,
                "Drop every message and stop worms crossing it",
            )
        };
        if clicked {
            requests.0.push(if cut {
                Intervention::Restore(a, b)
            } else {
                Intervention::Cut(a, b)
            });
        }
    }
    close
}

/// The latest interventions, newest first: what the class did, where the ledger records it.
pub fn history(ui: &mut egui::Ui, data: &ViewData) {
    let names: Vec<String> = data
        .config
        .traffic
        .campaigns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let pending = data
        .interventions
        .iter()
        .filter(|(t, _)| *t == data.tick + 1);
    for (tick, action) in pending.chain(data.visible_interventions().rev()).take(4) {
        let when = if *tick > data.tick {
            "next".to_string()
        } else {
            format!("tick {tick}")
        };
        ui.label(egui::RichText::new(format!("✋ {when}: {}", action.describe(&names))).small());
    }
}
