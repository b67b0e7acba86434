//! Interventions: what a teacher (or a script) does to a run while it runs. They are part of the run's config,
//! `interventions: [(tick, action)]`, so a recording replays them, `replay --verify` re-simulates them and a
//! headless run can script them. The view appends to the list when the class clicks; the simulation applies each
//! one at the start of its tick (`sim::interventions`).

use serde::{Deserialize, Serialize};

use super::ByzantineStrategy;

/// One thing done to the run. Agents are named by index (Sybil identities included); a campaign by its index in
/// `traffic.campaigns`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intervention {
    /// The agent stops, as a crash does: no traffic, no messages, no votes. It stays down until revived.
    Crash(usize),
    /// A crashed agent comes back; its honest neighbours send it the acceptances it missed, as after churn.
    Revive(usize),
    /// The agent turns Byzantine and lies by `strategy` from now on.
    Byzantine(usize, ByzantineStrategy),
    /// The agent turns honest again (an adversary group's member leaves its group).
    Honest(usize),
    /// The campaign reaches this agent now and starts spreading from it, whatever its configured start.
    StartCampaign { campaign: usize, at: usize },
    /// The link between two agents drops every message and stops worms crossing it.
    Cut(usize, usize),
    /// A cut link carries again.
    Restore(usize, usize),
}

impl Intervention {
    /// The agents it names.
    pub fn agents(&self) -> Vec<usize> {
        match *self {
            Self::Crash(a) | Self::Revive(a) | Self::Byzantine(a, _) | Self::Honest(a) => vec![a],
            Self::StartCampaign { at, .. } => vec![at],
            Self::Cut(a, b) | Self::Restore(a, b) => vec![a, b],
        }
    }

    /// How the view and the ledger feed name it, in words.
    pub fn describe(&self, campaign_names: &[String]) -> String {
        match self {
            Self::Crash(a) => format!("crash agent {a}"),
            Self::Revive(a) => format!("revive agent {a}"),
            Self::Byzantine(a, strategy) => format!(
                "agent {a} turns Byzantine ({})",
                ron::to_string(strategy).unwrap_or_default()
            ),
            Self::Honest(a) => format!("agent {a} turns honest"),
            Self::StartCampaign { campaign, at } => format!(
                "campaign {} starts at agent {at}",
                campaign_names
                    .get(*campaign)
                    .cloned()
                    .unwrap_or_else(|| campaign.to_string())
            ),
            Self::Cut(a, b) => format!("cut link {a}–{b}"),
            Self::Restore(a, b) => format!("restore link {a}–{b}"),
        }
    }

    /// The RON the config and the ledger's `interventions` table hold.
    pub fn to_ron(&self) -> String {
        ron::to_string(self).expect("an intervention always serialises")
    }
}

/// A link as an unordered pair, lower index first: how cut links are kept and looked up.
pub fn link(a: usize, b: usize) -> (u32, u32) {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (lo as u32, hi as u32)
}

/// The links cut after every intervention up to and including `tick` has been applied, in order.
pub fn cut_links_at(
    interventions: &[(u32, Intervention)],
    tick: u32,
) -> std::collections::BTreeSet<(u32, u32)> {
    let mut cut = std::collections::BTreeSet::new();
    for (at, action) in interventions {
        if *at > tick {
            continue;
        }
        match *action {
            Intervention::Cut(a, b) => {
                cut.insert(link(a, b));
            }
            Intervention::Restore(a, b) => {
                cut.remove(&link(a, b));
            }
            _ => {}
        }
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interventions_read_and_write_as_the_config_spells_them() {
        let text = "[(30, crash(5)), (31, byzantine(7, collude)), (40, start_campaign(campaign: 0, at: 12)), \
                    (41, cut(3, 9)), (50, restore(9, 3))]";
        let list: Vec<(u32, Intervention)> = ron::from_str(text).unwrap();
        assert_eq!(list[0], (30, Intervention::Crash(5)));
        assert_eq!(
            list[1].1,
            Intervention::Byzantine(7, ByzantineStrategy::Collude)
        );
        assert_eq!(list[2].1.to_ron(), "start_campaign(campaign:0,at:12)");
        assert_eq!(cut_links_at(&list, 45), [(3, 9)].into());
        assert!(
            cut_links_at(&list, 50).is_empty(),
            "restored either way round"
        );
        assert!(cut_links_at(&list, 40).is_empty(), "not cut yet");
        assert_eq!(
            list[2].1.describe(&["worm".into()]),
            "campaign worm starts at agent 12"
        );
    }
}
