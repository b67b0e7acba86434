//! One tick's figures, as the Measure stage computes them and `metrics.csv`, the ledger and the view carry them.

use serde::{Deserialize, Serialize};

/// One tick's figures. Counts are for this tick; ratios are `None` where undefined.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TickMetrics {
    pub tick: u32,
    pub attack_samples: u64,
    pub true_positive: u64,
    pub false_positive: u64,
    pub false_negative: u64,
    pub true_negative: u64,
    pub attack_blocked: u64,
    pub normal_blocked: u64,
    pub attack_through: u64,
    pub detection_precision: Option<f64>,
    pub detection_recall: Option<f64>,
    pub signatures_proposed: u64,
    pub signatures_accepted_true: u64,
    pub signatures_accepted_false: u64,
    pub signatures_rejected: u64,
    pub signatures_expired: u64,
    pub signatures_refused: u64,
    /// Signatures proposed so far and not yet settled, at the end of this tick (a level, not a count of events).
    pub signatures_pending: u64,
    pub ballots_cast: u64,
    pub messages_sent: u64,
    pub messages_announce: u64,
    pub messages_ballot: u64,
    pub messages_decision: u64,
    pub messages_lost: u64,
    pub messages_in_flight: u64,
    pub honest_live_agents: u64,
    pub compromised_agents: u64,
    /// Honest agents whose blacklist holds a signature of normal traffic.
    pub false_blacklist_agents: u64,
    /// Per campaign: share of honest live agents immune to it (their blacklist blocks at least
    /// `immunity.block_share` of its probe samples).
    pub immune_fraction: Vec<f64>,
    /// Per campaign: share of all agents it has reached.
    pub reached_fraction: Vec<f64>,
    /// Per campaign: share of this tick's samples of it, at honest live agents, that blacklists blocked; `None`
    /// when it sent none.
    pub blocked_fraction: Vec<Option<f64>>,
    /// Per campaign: honest live agents with at least one of its samples past their blacklist this tick.
    pub compromised_by: Vec<u64>,
    /// Per campaign: of those, the agents counted immune to it (immune, yet still leaking).
    pub immune_leaking: Vec<u64>,
}

impl TickMetrics {
    pub fn caught(&self) -> u64 {
        self.true_positive + self.attack_blocked
    }
    pub fn flagged(&self) -> u64 {
        self.true_positive + self.false_positive + self.attack_blocked + self.normal_blocked
    }
}
