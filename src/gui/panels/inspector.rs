//! The inspector: everything about the clicked agent: role, liveness, detector threshold, blacklist, latest ballots
//! and reputation, and in a live run the buttons that intervene on it. A clicked link can be cut or restored. A
//! replay shows what the ledger recorded.

use bevy_egui::egui;

use super::intervene::{self, InterventionChoices};
use crate::gui::camera::{SelectedLink, Selection};
use crate::gui::interventions::InterventionRequests;
use crate::gui::palette;
use crate::gui::source::{ViewData, ViewSource};

/// What the class may do from the inspector.
pub struct Hands<'a> {
    pub link: &'a mut SelectedLink,
    pub choices: &'a mut InterventionChoices,
    pub requests: &'a mut InterventionRequests,
}

pub fn show(
    ui: &mut egui::Ui,
    data: &ViewData,
    source: &ViewSource,
    selection: &mut Selection,
    hands: Hands,
) {
    let live = !source.is_replay();
    if selection.0.is_none()
        && let Some(link) = hands.link.0
    {
        if intervene::link_actions(ui, data, link, live, hands.requests) {
            hands.link.0 = None;
        }
        intervene::history(ui, data);
        return;
    }
    let Some(agent) = selection.0 else {
        ui.strong("Inspector");
        ui.label(
            egui::RichText::new(if live {
                "Click a node to inspect it or intervene; click a link to cut it."
            } else {
                "Click a node to inspect it."
            })
            .weak(),
        );
        intervene::history(ui, data);
        return;
    };
    ui.horizontal(|ui| {
        ui.strong(format!("Agent {agent}"));
        if ui.small_button("✖").on_hover_text("Close").clicked() {
            selection.0 = None;
        }
    });
    let Some(details) = source.inspect(agent, data) else {
        return;
    };
    if live {
        intervene::agent_actions(
            ui,
            data,
            agent,
            details.byzantine,
            hands.choices,
            hands.requests,
        );
        intervene::history(ui, data);
    }
    let state = data.frame.agents.get(agent as usize).copied();
    let not_recorded = || egui::RichText::new("not recorded").weak();
    egui::Grid::new("inspector").num_columns(2).show(ui, |ui| {
        if let Some(state) = state {
            ui.label("state");
            ui.colored_label(
                super::egui_colour(palette::agent_colour(state)),
                palette::agent_label(state).0,
            );
            ui.end_row();
        }
        ui.label("role");
        ui.label(&details.role);
        ui.end_row();
        ui.label("links");
        ui.label(details.neighbours.to_string());
        ui.end_row();
        ui.label("liveness");
        match &details.liveness {
            Some(l) => ui.label(l),
            None => ui.label(not_recorded()),
        };
        ui.end_row();
        ui.label("threshold");
        match details.threshold {
            Some(t) => ui.label(format!("{t:.4}")),
            None if details.liveness.is_some() => ui.label("not fitted yet"),
            None => ui.label(not_recorded()),
        };
        ui.end_row();
        ui.label("reputation");
        match details.reputation {
            Some(r) => ui.label(format!("{r:.3}")),
            None => ui.label(not_recorded()),
        };
        ui.end_row();
        ui.label("blacklist");
        match &details.blacklist {
            Some(list) if list.is_empty() => ui.label("empty"),
            Some(list) => ui.add(
                egui::Label::new(
                    list.iter()
                        .map(|id| &id[..8.min(id.len())])
                        .collect::<Vec<_>>()
                        .join(" "),
                )
                .wrap(),
            ),
            None => ui.label(not_recorded()),
        };
        ui.end_row();
    });
    ui.label("latest ballots");
    if details.recent_ballots.is_empty() {
        ui.label(egui::RichText::new("none yet").weak());
    }
    for (sig, yes) in &details.recent_ballots {
        ui.horizontal(|ui| {
            ui.monospace(&sig[..8.min(sig.len())]);
            if *yes {
                ui.colored_label(super::GOOD, "yes");
            } else {
                ui.colored_label(super::ALARM, "no");
            }
        });
    }
}

/// What the inspector shows about one agent. Fields the recording does not hold are `None`.
#[derive(Debug, Default)]
pub struct AgentDetails {
    pub role: String,
    pub neighbours: usize,
    pub liveness: Option<String>,
    pub threshold: Option<f64>,
    /// Blacklisted signature ids.
    pub blacklist: Option<Vec<String>>,
    /// Latest ballots, newest first: (signature id, yes).
    pub recent_ballots: Vec<(String, bool)>,
    pub reputation: Option<f64>,
    /// It lies now (in a live run, whatever its recorded role says).
    pub byzantine: bool,
}

const INSPECTED_BALLOTS: usize = 6;

impl ViewSource {
    pub fn inspect(&self, agent: u32, data: &ViewData) -> Option<AgentDetails> {
        let row = data.agents.get(agent as usize)?;
        let mut details = AgentDetails {
            role: row.role.clone(),
            neighbours: row.neighbours.len(),
            ..Default::default()
        };
        match self {
            ViewSource::Live(run) => {
                let agent = run.simulation.agent(agent, INSPECTED_BALLOTS)?;
                let hex = crate::ledger::sig_id_hex;
                details.liveness = Some(match agent.crashed_since {
                    None => "up".to_string(),
                    Some(since) => format!("crashed at tick {since}"),
                });
                details.threshold = agent.threshold;
                details.blacklist = Some(agent.blacklist.into_iter().map(hex).collect());
                details.recent_ballots = agent
                    .recent_ballots
                    .into_iter()
                    .map(|(sig, yes)| (hex(sig), yes))
                    .collect();
                details.reputation = Some(agent.reputation);
                details.byzantine = agent.byzantine.is_some();
                if let Some(strategy) = agent.byzantine
                    && !details.role.starts_with("byzantine")
                {
                    details.role = format!(
                        "byzantine:{} (by intervention)",
                        ron::to_string(&strategy).unwrap_or_default()
                    );
                }
            }
            ViewSource::Replay(replay) => {
                let ballots =
                    replay
                        .source
                        .lock()
                        .ok()?
                        .recent_ballots(agent, data.tick, INSPECTED_BALLOTS);
                details.recent_ballots = ballots
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, sig, yes)| (sig, yes))
                    .collect();
            }
        }
        Some(details)
    }
}
