//! The plain data the simulation, the ledger, replays and the view all speak: ids, feature vectors, outcomes,
//! message kinds, ballots, agent states and per-tick metrics. No Bevy and no storage here, so every layer above can
//! import it without importing another layer (the ledger no longer reaches into the simulation for its types).

mod metrics;

pub use metrics::TickMetrics;

use serde::Serialize;

use crate::config::FEATURE_COUNT;

/// One traffic sample: the named features of `traffic::FEATURE_NAMES`, in standard deviations of the network
/// baseline.
pub type Features = [f32; FEATURE_COUNT];

/// Index of a signature in `SignatureRegistry`.
pub type SigIdx = u32;
/// Index of an agent (its position in `AgentDirectory`).
pub type AgentIdx = u32;

/// Ground truth of a sample: 0 is normal traffic, c + 1 is attack campaign c. Only metrics may read it.
pub type Label = u16;
pub const NORMAL: Label = 0;
/// Index of a decision in the run's list of decisions; messages refer to decisions by it.
pub type DecisionIdx = u32;

/// One ballot: who voted, and which way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Ballot {
    pub voter: AgentIdx,
    pub yes: bool,
}

/// What one agent cast on one signature, as the registry keeps it for checking certificates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cast {
    #[default]
    Nothing,
    Yes,
    No,
}

impl Cast {
    pub fn of(yes: bool) -> Self {
        if yes { Cast::Yes } else { Cast::No }
    }
}

/// How a signature's fate was settled.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Outcome {
    Accepted,
    Rejected,
    /// No decision within the window, or none at all long after it (the tallier crashed or stayed silent).
    Expired,
    /// The tallier published a decision whose certificate fails the check (a forgery padded with invented
    /// ballots), so honest agents refused it. Only the tallier tallies a signature, so this is final.
    Refused,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Accepted,
        Outcome::Rejected,
        Outcome::Expired,
        Outcome::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Expired => "expired",
            Outcome::Refused => "refused",
        }
    }

    /// The inverse of [`Outcome::as_str`]; an unknown word is `None`, never silently some outcome.
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// How a signature's fate was settled: by a decision (accepted, rejected, expired in its window, or refused for a
/// false certificate), or by timing out with no decision at all. The simulation emits it and the ledger stores it
/// as an `outcomes` row.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Settlement {
    pub sig: SigIdx,
    pub outcome: Outcome,
    /// The decision that settled it; `None` when it expired without one.
    pub decision: Option<DecisionIdx>,
}

/// The three kinds of message on the wire. Their byte codes are defined here once: frames store them, and the
/// view's palette and the traffic counters index by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum MessageKind {
    /// A signature spreading to be voted on.
    Announce,
    /// A ballot travelling back to its tallier.
    Ballot,
    /// A decision spreading.
    Decision,
}

impl MessageKind {
    pub const ALL: [MessageKind; 3] = [
        MessageKind::Announce,
        MessageKind::Ballot,
        MessageKind::Decision,
    ];

    /// The kind's code: its index in [`MessageKind::ALL`], and its bits in a frame.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind of a code; codes past the last kind (3, in a frame's two bits) are `None`.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }
}

/// How the view draws an agent in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum AgentState {
    Healthy = 0,
    /// A campaign has reached it.
    UnderAttack = 1,
    /// Attack traffic got through its blacklist this tick.
    Compromised = 2,
    /// Immune to every campaign that has started: its blacklist blocks at least `immunity.block_share` of each
    /// one's probe samples.
    Immune = 3,
    Byzantine = 4,
    Crashed = 5,
    /// Immune as above, yet some attack traffic still got through this tick.
    ImmuneLeaking = 6,
}

impl AgentState {
    /// Every state, in the order of its byte: `ALL[state as usize] == state`.
    pub const ALL: [AgentState; 7] = [
        Self::Healthy,
        Self::UnderAttack,
        Self::Compromised,
        Self::Immune,
        Self::Byzantine,
        Self::Crashed,
        Self::ImmuneLeaking,
    ];

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }
}
