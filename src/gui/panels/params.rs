//! Parameters: edit a copy of the run's config and "apply and restart". The copy is checked by the same
//! validation as a config file, so a bad value is refused here with the same message naming the same field.

use bevy_egui::egui;

use super::PanelState;
use crate::config::{
    ByzantineStrategy, CampaignConfig, CampaignKind, ConsensusRule, CrashTarget,
    LatencyDistribution, SimConfig, Topology, load,
};
use crate::gui::source::{PendingRestart, ViewData};

pub(super) fn combo<T: PartialEq + Copy>(
    ui: &mut egui::Ui,
    id: &str,
    value: &mut T,
    choices: &[(T, &'static str)],
) {
    let current = label_of(choices, value);
    egui::ComboBox::from_id_salt(id)
        .selected_text(current)
        .show_ui(ui, |ui| {
            for (choice, name) in choices {
                ui.selectable_value(value, *choice, *name);
            }
        });
}

const TOPOLOGIES: [(Topology, &str); 6] = [
    (Topology::Ring, "ring"),
    (Topology::Grid, "grid"),
    (Topology::ErdosRenyi, "Erdős–Rényi"),
    (Topology::WattsStrogatz, "Watts–Strogatz"),
    (Topology::BarabasiAlbert, "Barabási–Albert"),
    (Topology::FullMesh, "full mesh"),
];
const RULES: [(ConsensusRule, &str); 7] = [
    (ConsensusRule::Majority, "majority"),
    (ConsensusRule::Quorum, "k-of-n quorum"),
    (ConsensusRule::ReputationWeighted, "reputation-weighted"),
    (ConsensusRule::Bft, "BFT 2f+1"),
    (ConsensusRule::CentralAuthority, "central authority"),
    (ConsensusRule::Committee, "committee (BFT in c)"),
    (ConsensusRule::Snowball, "Snowball"),
];
pub(super) const STRATEGIES: [(ByzantineStrategy, &str); 4] = [
    (ByzantineStrategy::AlwaysYes, "always yes"),
    (ByzantineStrategy::AlwaysNo, "always no"),
    (ByzantineStrategy::Forge, "forge"),
    (ByzantineStrategy::Collude, "collude"),
];
const KINDS: [(CampaignKind, &str); 4] = [
    (CampaignKind::PortScan, "port scan"),
    (CampaignKind::Ddos, "DDoS"),
    (CampaignKind::Exfiltration, "exfiltration"),
    (CampaignKind::BruteForce, "brute force"),
];

/// The name a choice goes by in the panel.
fn label_of<T: PartialEq>(choices: &[(T, &'static str)], value: &T) -> &'static str {
    choices
        .iter()
        .find(|(v, _)| v == value)
        .map_or("?", |(_, name)| name)
}

/// The settings that make one run unlike another, in a few words for the top bar, so every screenshot says what
/// produced it (a central-authority run must not pass for a BFT one).
pub(super) fn setting_in_words(c: &SimConfig) -> String {
    let mut words = vec![
        label_of(&RULES, &c.consensus.rule).to_string(),
        label_of(&TOPOLOGIES, &c.network.topology).to_string(),
    ];
    let f = &c.faults;
    if f.byzantine_fraction > 0.0 {
        words.push(format!(
            "{:.0}% byzantine ({})",
            100.0 * f.byzantine_fraction,
            label_of(&STRATEGIES, &f.byzantine_strategy)
        ));
    }
    if f.crash_fraction > 0.0 {
        words.push(format!(
            "{:.0}% crash at tick {}",
            100.0 * f.crash_fraction,
            f.crash_tick
        ));
    }
    if f.churn.crash_probability > 0.0 {
        words.push(format!(
            "churn {:.1}%/tick, down ~{} ticks",
            100.0 * f.churn.crash_probability,
            f.churn.mean_downtime
        ));
    }
    for crash in &f.targeted_crashes {
        let whom = match &crash.target {
            CrashTarget::Hubs(k) => format!("{k} hubs"),
            CrashTarget::Authority => "the authority".to_string(),
            CrashTarget::Agents(list) => format!("{} agents", list.len()),
        };
        words.push(format!("{whom} crash at tick {}", crash.tick));
    }
    for partition in &f.partitions {
        words.push(format!(
            "cut ticks {}-{}",
            partition.tick,
            partition.heal.saturating_sub(1)
        ));
    }
    if c.network.loss > 0.0 {
        words.push(format!("{:.1}% loss", 100.0 * c.network.loss));
    }
    match c.network.latency_distribution {
        LatencyDistribution::Constant => {}
        LatencyDistribution::Uniform { min, max } => words.push(format!("links {min}-{max} ticks")),
        LatencyDistribution::LogNormal { median, .. } => {
            words.push(format!("links ~{median} ticks (log-normal)"))
        }
    }
    if c.network.bandwidth > 0 {
        words.push(format!("{} msgs/link/tick", c.network.bandwidth));
    }
    words.join(" · ")
}

fn row(ui: &mut egui::Ui, label: &str, add: impl FnOnce(&mut egui::Ui)) {
    ui.label(label);
    add(ui);
    ui.end_row();
}

fn edit(ui: &mut egui::Ui, c: &mut SimConfig) {
    egui::Grid::new("params").num_columns(2).show(ui, |ui| {
        row(ui, "agents", |ui| {
            ui.add(egui::DragValue::new(&mut c.simulation.agents).speed(1.0));
        });
        row(ui, "ticks", |ui| {
            ui.add(egui::DragValue::new(&mut c.simulation.steps).speed(1.0));
        });
        row(ui, "seed", |ui| {
            ui.add(egui::DragValue::new(&mut c.simulation.seed));
        });
        row(ui, "topology", |ui| {
            combo(ui, "topology", &mut c.network.topology, &TOPOLOGIES)
        });
        row(ui, "latency (ticks/hop)", |ui| {
            ui.add(egui::DragValue::new(&mut c.network.latency));
        });
        row(ui, "loss per hop", |ui| {
            ui.add(
                egui::DragValue::new(&mut c.network.loss)
                    .speed(0.005)
                    .max_decimals(3),
            );
        });
        row(ui, "consensus", |ui| {
            combo(ui, "rule", &mut c.consensus.rule, &RULES)
        });
        match c.consensus.rule {
            ConsensusRule::Quorum => row(ui, "quorum k", |ui| {
                ui.add(egui::DragValue::new(&mut c.consensus.quorum));
            }),
            ConsensusRule::ReputationWeighted => row(ui, "trust threshold", |ui| {
                ui.add(egui::DragValue::new(&mut c.consensus.reputation_threshold).speed(0.01));
            }),
            ConsensusRule::CentralAuthority => row(ui, "authority agent", |ui| {
                ui.add(egui::DragValue::new(&mut c.consensus.authority));
            }),
            ConsensusRule::Committee => row(ui, "committee size", |ui| {
                ui.add(egui::DragValue::new(&mut c.consensus.committee_size));
            }),
            ConsensusRule::Snowball => row(ui, "k / alpha / beta", |ui| {
                let s = &mut c.consensus.snowball;
                ui.add(egui::DragValue::new(&mut s.k));
                ui.add(egui::DragValue::new(&mut s.alpha));
                ui.add(egui::DragValue::new(&mut s.beta));
            }),
            ConsensusRule::Majority | ConsensusRule::Bft => {}
        }
        row(ui, "min turnout", |ui| {
            ui.add(egui::DragValue::new(&mut c.consensus.min_turnout).speed(0.01));
        });
        row(ui, "voting window", |ui| {
            ui.add(egui::DragValue::new(&mut c.consensus.voting_window));
        });
        row(ui, "byzantine share", |ui| {
            ui.add(egui::DragValue::new(&mut c.faults.byzantine_fraction).speed(0.01));
        });
        row(ui, "byzantine strategy", |ui| {
            combo(
                ui,
                "strategy",
                &mut c.faults.byzantine_strategy,
                &STRATEGIES,
            )
        });
        row(ui, "crash share", |ui| {
            ui.add(egui::DragValue::new(&mut c.faults.crash_fraction).speed(0.01));
        });
        row(ui, "crash at tick", |ui| {
            ui.add(egui::DragValue::new(&mut c.faults.crash_tick));
        });
    });
    ui.label("Attack campaigns");
    let mut remove = None;
    for (i, campaign) in c.traffic.campaigns.iter_mut().enumerate() {
        ui.push_id(i, |ui| {
            ui.horizontal(|ui| {
                combo(ui, "kind", &mut campaign.kind, &KINDS);
                ui.label("from tick");
                ui.add(egui::DragValue::new(&mut campaign.start_tick));
                if ui.small_button("✖").on_hover_text("Remove").clicked() {
                    remove = Some(i);
                }
            });
            ui.horizontal(|ui| {
                ui.label("intensity");
                ui.add(egui::DragValue::new(&mut campaign.intensity).speed(0.01));
                ui.label("spread");
                ui.add(egui::DragValue::new(&mut campaign.spread_probability).speed(0.005));
            });
        });
    }
    if let Some(i) = remove {
        c.traffic.campaigns.remove(i);
    }
    if ui.button("+ campaign").clicked() {
        let n = c.traffic.campaigns.len();
        let kind = KINDS[n % KINDS.len()].0;
        c.traffic.campaigns.push(CampaignConfig {
            name: format!("campaign-{}", n + 1),
            kind,
            start_tick: 40 + 60 * n as u32,
            origins: vec![0],
            ..CampaignConfig::default()
        });
    }
}

/// The draft as a run config, or the config validation's own message (the one `dais config check` prints).
pub fn checked(draft: &SimConfig) -> Result<SimConfig, String> {
    draft.validate().map_err(|e| e.to_string())?;
    Ok(draft.clone())
}

pub fn show(
    ui: &mut egui::Ui,
    data: &ViewData,
    replay: bool,
    state: &mut PanelState,
    pending: &mut PendingRestart,
) {
    // The draft follows the run on screen until the user edits it.
    if state
        .draft
        .as_ref()
        .is_none_or(|(generation, _)| *generation != data.run_generation)
    {
        state.draft = Some((data.run_generation, data.config.clone()));
        state.draft_error = None;
    }
    let Some((_, draft)) = state.draft.as_mut() else {
        return;
    };
    egui::CollapsingHeader::new(egui::RichText::new("Parameters").strong())
        .default_open(false)
        .show(ui, |ui| {
            if replay {
                ui.label(
                    egui::RichText::new(
                        "A replay shows a finished run: its parameters cannot change.",
                    )
                    .weak(),
                );
            }
            ui.add_enabled_ui(!replay, |ui| {
                ui.horizontal(|ui| {
                    ui.label("preset");
                    egui::ComboBox::from_id_salt("preset")
                        .selected_text("load a preset…")
                        .show_ui(ui, |ui| {
                            // The 100,000-agent preset is for headless runs: a browser tab's memory cannot hold
                            // it, and no view draws that many nodes at a usable frame rate.
                            for (name, _) in load::SCENARIOS.iter().filter(|(n, _)| *n != "scale") {
                                if ui.selectable_label(false, *name).clicked()
                                    && let Ok(config) = load::scenario(name)
                                {
                                    *draft = config;
                                }
                            }
                        });
                });
                edit(ui, draft);
                ui.horizontal(|ui| {
                    if ui.button("Apply and restart").clicked() {
                        match checked(draft) {
                            Ok(config) => {
                                state.draft_error = None;
                                pending.0 = Some(config);
                            }
                            Err(message) => state.draft_error = Some(message),
                        }
                    }
                    if ui.button("Revert").clicked() {
                        *draft = data.config.clone();
                        state.draft_error = None;
                    }
                });
            });
            if let Some(error) = &state.draft_error {
                ui.colored_label(egui::Color32::LIGHT_RED, error);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_is_refused_with_the_config_validation_message() {
        let mut draft = SimConfig::default();
        draft.faults.byzantine_fraction = 1.5;
        let message = checked(&draft).unwrap_err();
        assert_eq!(message, draft.validate().unwrap_err().to_string());
        assert!(message.contains("faults.byzantine_fraction"), "{message}");
        draft.faults.byzantine_fraction = 0.2;
        assert_eq!(checked(&draft), Ok(draft.clone()));
    }

    #[test]
    fn the_top_bar_names_the_rule_topology_and_faults() {
        let mut c = SimConfig::default();
        assert_eq!(setting_in_words(&c), "BFT 2f+1 · Watts–Strogatz");
        c.consensus.rule = ConsensusRule::CentralAuthority;
        c.faults.byzantine_fraction = 0.2;
        c.faults.crash_fraction = 0.1;
        c.faults.crash_tick = 60;
        assert_eq!(
            setting_in_words(&c),
            "central authority · Watts–Strogatz · 20% byzantine (collude) · 10% crash at tick 60"
        );
        let mut c = SimConfig::default();
        c.faults.targeted_crashes = vec![crate::config::TargetedCrash {
            tick: 45,
            target: CrashTarget::Hubs(10),
        }];
        c.faults.partitions = vec![crate::config::PartitionConfig {
            tick: 30,
            heal: 100,
            cut: crate::config::Cut::Bisection,
        }];
        c.network.bandwidth = 4;
        assert_eq!(
            setting_in_words(&c),
            "BFT 2f+1 · Watts–Strogatz · 10 hubs crash at tick 45 · cut ticks 30-99 · 4 msgs/link/tick"
        );
    }
}
