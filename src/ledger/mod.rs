//! The ledger: every signature, ballot and decision of a run, appended tick by tick. Storage sits behind
//! [`LedgerSink`] so that the native build can write SQLite and the browser build can keep it in memory.

pub mod memory;
#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;
#[cfg(not(target_arch = "wasm32"))]
pub mod verify;

use serde::Serialize;
use thiserror::Error;

use crate::sim::components::{AgentIdx, Features, SigIdx};
use crate::sim::consensus::Outcome;
use crate::sim::metrics::TickMetrics;

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("ledger storage failed: {0}")]
    Storage(String),
}

/// What is known of the run before its first tick.
#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub config_ron: String,
    pub config_hash: String,
    pub seed: u64,
    pub version: String,
    pub agents: Vec<AgentRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentRow {
    pub index: AgentIdx,
    pub role: String,
    pub neighbours: Vec<AgentIdx>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignatureRow {
    pub sig: SigIdx,
    pub id: u64,
    pub origin: AgentIdx,
    pub tick: u32,
    pub count: u32,
    pub centroid: Features,
    pub spread: Features,
    /// Ground truth, for analysis only: 0 normal traffic, c + 1 campaign c.
    pub truth: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BallotRow {
    pub sig: SigIdx,
    pub voter: AgentIdx,
    pub yes: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionRow {
    pub decision: u32,
    pub sig: SigIdx,
    pub tallier: AgentIdx,
    pub outcome: Outcome,
    pub yes: u32,
    pub no: u32,
    pub valid: bool,
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
    /// Its blacklist blocks every campaign that has started.
    Immune = 3,
    Byzantine = 4,
    Crashed = 5,
}

impl AgentState {
    pub fn from_u8(v: u8) -> Option<Self> {
        [
            Self::Healthy,
            Self::UnderAttack,
            Self::Compromised,
            Self::Immune,
            Self::Byzantine,
            Self::Crashed,
        ]
        .get(v as usize)
        .copied()
    }
}

/// One message on the wire during a tick: (from, to, kind 0 announce / 1 ballot / 2 decision).
pub type FrameMessage = (AgentIdx, AgentIdx, u8);

/// What the view needs to redraw one tick: every agent's state and the messages travelling.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct Frame {
    pub agents: Vec<AgentState>,
    pub messages: Vec<FrameMessage>,
}

impl Frame {
    /// Compact bytes: agent count (u32 LE), one byte per agent, then 9 bytes per message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.agents.len() + 9 * self.messages.len());
        out.extend_from_slice(&(self.agents.len() as u32).to_le_bytes());
        out.extend(self.agents.iter().map(|&s| s as u8));
        for &(from, to, kind) in &self.messages {
            out.extend_from_slice(&from.to_le_bytes());
            out.extend_from_slice(&to.to_le_bytes());
            out.push(kind);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let n = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let states = bytes.get(4..4 + n)?;
        let rest = &bytes[4 + n..];
        if !rest.len().is_multiple_of(9) {
            return None;
        }
        let agents = states
            .iter()
            .map(|&b| AgentState::from_u8(b))
            .collect::<Option<Vec<_>>>()?;
        let messages = rest
            .chunks_exact(9)
            .map(|c| {
                let from = u32::from_le_bytes(c[0..4].try_into().expect("4 bytes"));
                let to = u32::from_le_bytes(c[4..8].try_into().expect("4 bytes"));
                (from, to, c[8])
            })
            .collect();
        Some(Self { agents, messages })
    }
}

/// Everything one tick appends, with the state hash that chains it to the previous tick.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TickRecord {
    pub tick: u32,
    pub state_hash: String,
    pub signatures: Vec<SignatureRow>,
    pub ballots: Vec<BallotRow>,
    pub decisions: Vec<DecisionRow>,
    pub metrics: TickMetrics,
    /// Not part of the state hash: it is derived from the state the hash already covers.
    pub frame: Frame,
}

/// Where the Record stage sends each tick. One call per tick, so a store can make it one transaction.
pub trait LedgerSink: Send + Sync {
    fn begin(&mut self, run: &RunInfo) -> Result<(), LedgerError>;
    fn append(&mut self, record: TickRecord) -> Result<(), LedgerError>;
    /// Flushes whatever is buffered; called at the end of a run and on Ctrl-C.
    fn finish(&mut self) -> Result<(), LedgerError> {
        Ok(())
    }
}

/// Keeps nothing: for runs where only the state hash and metrics matter.
#[derive(Default)]
pub struct DiscardSink;

impl LedgerSink for DiscardSink {
    fn begin(&mut self, _: &RunInfo) -> Result<(), LedgerError> {
        Ok(())
    }
    fn append(&mut self, _: TickRecord) -> Result<(), LedgerError> {
        Ok(())
    }
}
