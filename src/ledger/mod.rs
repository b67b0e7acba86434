//! The ledger: every signature, ballot and decision of a run, appended tick by tick. Storage sits behind
//! [`LedgerSink`] so that the native build can write SQLite and the browser build can keep it in memory.

pub mod memory;

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

/// Everything one tick appends, with the state hash that chains it to the previous tick.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TickRecord {
    pub tick: u32,
    pub state_hash: String,
    pub signatures: Vec<SignatureRow>,
    pub ballots: Vec<BallotRow>,
    pub decisions: Vec<DecisionRow>,
    pub metrics: TickMetrics,
}

/// Where the Record stage sends each tick. One call per tick, so a store can make it one transaction.
pub trait LedgerSink: Send + Sync {
    fn begin(&mut self, run: &RunInfo) -> Result<(), LedgerError>;
    fn append(&mut self, record: &TickRecord) -> Result<(), LedgerError>;
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
    fn append(&mut self, _: &TickRecord) -> Result<(), LedgerError> {
        Ok(())
    }
}
