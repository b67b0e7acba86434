//! Replays: a recorded ledger turned back into per-tick frames for the view (in order, or by random access for
//! scrubbing, without re-simulating), and re-simulation of a recording to prove it reproduces tick by tick.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use thiserror::Error;

use crate::config::SimConfig;
use crate::ledger::sqlite::{OpenError, open_bytes, open_existing, schema_version};
use crate::ledger::{AgentRow, DecisionRow, DiscardSink, Frame};
use crate::model::Outcome;
use crate::model::TickMetrics;

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("the recording's config cannot be read: {0}")]
    Config(#[source] Box<ron::error::SpannedError>),
    #[error("the recording's config cannot be read: agent {agent}'s neighbours: {source}")]
    Neighbours {
        agent: u32,
        #[source]
        source: std::num::ParseIntError,
    },
    #[error("the recording has no tick {tick} (it holds ticks 1 to {last})")]
    NoSuchTick { tick: u32, last: u32 },
    #[error("tick {0}: the recorded frame is corrupt")]
    CorruptFrame(u32),
    #[error("cannot read the recording: {0}")]
    Read(#[from] rusqlite::Error),
    #[error("intervention at tick {tick}: {action:?} is not an intervention this dais knows")]
    UnknownIntervention { tick: u32, action: String },
    #[error("decision at tick {tick}: unknown outcome {word:?}")]
    UnknownOutcome { tick: u32, word: String },
    #[error(
        "replay diverged at tick {tick}: recorded state hash {recorded}, re-simulated {resimulated}"
    )]
    Diverged {
        tick: u32,
        recorded: String,
        resimulated: String,
    },
}

/// A decision as a recording holds it: the tick it was published at, its signature's id (hex), and the row.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedDecision {
    pub tick: u32,
    pub sig_id: String,
    /// The signature's ground truth: 0 normal traffic, c + 1 campaign c.
    pub truth: u16,
    pub row: DecisionRow,
}

/// A recording opened for viewing.
pub struct ReplaySource {
    /// The file's path or name, for messages and downloads.
    name: String,
    conn: Connection,
    config: SimConfig,
    ticks: u32,
    schema: i64,
}

impl ReplaySource {
    pub fn open(path: &Path) -> Result<Self, ReplayError> {
        Self::from_connection(path.display().to_string(), open_existing(path)?)
    }

    /// A recording from a ledger file's bytes (a file the browser was given); `name` is for messages.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, ReplayError> {
        Self::from_connection(name.to_string(), open_bytes(name, bytes)?)
    }

    fn from_connection(name: String, conn: Connection) -> Result<Self, ReplayError> {
        let config_ron: String =
            conn.query_row("SELECT config_ron FROM run WHERE id = 1", [], |r| r.get(0))?;
        let config: SimConfig =
            ron::from_str(&config_ron).map_err(|e| ReplayError::Config(Box::new(e)))?;
        let ticks: u32 =
            conn.query_row("SELECT coalesce(max(tick), 0) FROM ticks", [], |r| r.get(0))?;
        let schema = schema_version(&conn)?;
        Ok(Self {
            name,
            conn,
            config,
            ticks,
            schema,
        })
    }

    /// The ledger schema the recording was written with.
    pub fn schema(&self) -> i64 {
        self.schema
    }

    /// The open, read-only database (for `ledger verify` of the same file).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The file's path or name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The recording as a ledger file's bytes.
    pub fn to_bytes(&mut self) -> Result<Vec<u8>, ReplayError> {
        Ok(self.conn.serialize(rusqlite::MAIN_DB)?.to_vec())
    }

    /// The recorded run's config.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Ticks recorded (1..=ticks).
    pub fn ticks(&self) -> u32 {
        self.ticks
    }

    fn check(&self, tick: u32) -> Result<(), ReplayError> {
        if tick == 0 || tick > self.ticks {
            return Err(ReplayError::NoSuchTick {
                tick,
                last: self.ticks,
            });
        }
        Ok(())
    }

    /// The frame of any tick: one indexed lookup, so scrubbing costs the same anywhere in the recording.
    pub fn frame(&self, tick: u32) -> Result<Frame, ReplayError> {
        self.check(tick)?;
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT data FROM frames WHERE tick = ?1")?
            .query_row([tick], |r| r.get(0))
            .optional()?;
        bytes
            .and_then(|b| Frame::from_bytes(&b))
            .ok_or(ReplayError::CorruptFrame(tick))
    }

    /// The metrics recorded for a tick, as JSON.
    pub fn metrics(&self, tick: u32) -> Result<serde_json::Value, ReplayError> {
        self.check(tick)?;
        let text: String = self
            .conn
            .prepare_cached("SELECT metrics FROM ticks WHERE tick = ?1")?
            .query_row([tick], |r| r.get(0))?;
        serde_json::from_str(&text).map_err(|_| ReplayError::CorruptFrame(tick))
    }

    /// Every tick's metrics, in order (the view's plots show the whole run at once).
    pub fn metrics_history(&self) -> Result<Vec<TickMetrics>, ReplayError> {
        let mut stmt = self
            .conn
            .prepare("SELECT tick, metrics FROM ticks ORDER BY tick")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?;
        let mut history = Vec::with_capacity(self.ticks as usize);
        for row in rows {
            let (tick, text) = row?;
            history.push(serde_json::from_str(&text).map_err(|_| ReplayError::CorruptFrame(tick))?);
        }
        Ok(history)
    }

    /// The agents as recorded: role and neighbours.
    pub fn agents(&self) -> Result<Vec<AgentRow>, ReplayError> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, role, neighbours FROM agents ORDER BY idx")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut agents = Vec::new();
        for row in rows {
            let (index, role, neighbours) = row?;
            let neighbours = neighbours
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
                .map_err(|source| ReplayError::Neighbours {
                    agent: index,
                    source,
                })?;
            agents.push(AgentRow {
                index,
                role,
                neighbours,
            });
        }
        Ok(agents)
    }

    /// Every decision of the recording, in ledger order, with its tick and its signature's id. An outcome word
    /// this dais does not know is an error, never read as some other outcome.
    pub fn decisions(&self) -> Result<Vec<RecordedDecision>, ReplayError> {
        // Schema 1 stored the claim and a validity flag; schema 2 the claim and the verdict ("refused").
        let (claimed, valid) = if self.schema >= 2 {
            ("d.claimed", "d.outcome <> 'refused'")
        } else {
            ("d.outcome", "d.valid")
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT d.tick, coalesce((SELECT s.sig_id FROM signatures s WHERE s.sig = d.sig LIMIT 1), '?'),
                    d.decision, d.sig, d.tallier, {claimed}, d.yes, d.no, {valid},
                    coalesce((SELECT s.truth FROM signatures s WHERE s.sig = d.sig LIMIT 1), 0)
             FROM decisions d ORDER BY d.seq"
        ))?;
        let mut rows = stmt.query([])?;
        let mut entries = Vec::new();
        while let Some(r) = rows.next()? {
            let tick: u32 = r.get(0)?;
            let word: String = r.get(5)?;
            let outcome =
                Outcome::parse(&word).ok_or(ReplayError::UnknownOutcome { tick, word })?;
            entries.push(RecordedDecision {
                tick,
                sig_id: r.get(1)?,
                truth: r.get(9)?,
                row: DecisionRow {
                    decision: r.get(2)?,
                    sig: r.get(3)?,
                    tallier: r.get(4)?,
                    outcome,
                    yes: r.get(6)?,
                    no: r.get(7)?,
                    valid: r.get(8)?,
                },
            });
        }
        Ok(entries)
    }

    /// An agent's latest ballots up to `tick`, newest first: (tick, signature id, yes).
    pub fn recent_ballots(
        &self,
        voter: u32,
        tick: u32,
        limit: usize,
    ) -> Result<Vec<(u32, String, bool)>, ReplayError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.tick, coalesce((SELECT s.sig_id FROM signatures s WHERE s.sig = b.sig LIMIT 1), '?'), b.yes
             FROM ballots b WHERE b.voter = ?1 AND b.tick <= ?2 ORDER BY b.seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(rusqlite::params![voter, tick, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every intervention applied during the recording, in ledger order, with its tick: the config's script and
    /// the teacher's clicks alike (none before schema 3).
    pub fn interventions(&self) -> Result<Vec<(u32, crate::config::Intervention)>, ReplayError> {
        if self.schema < 3 {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT tick, action FROM interventions ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut list = Vec::new();
        while let Some(r) = rows.next()? {
            let (tick, action): (u32, String) = (r.get(0)?, r.get(1)?);
            let parsed = ron::from_str(&action)
                .map_err(|_| ReplayError::UnknownIntervention { tick, action })?;
            list.push((tick, parsed));
        }
        Ok(list)
    }

    /// The config that reproduces the recording up to `tick`, and then goes on as its config says: the recorded
    /// interventions up to `tick` (what was clicked included), then the config's own script after it. With
    /// `tick` at the last recorded tick this is what `replay --verify` re-simulates; earlier, it is a fork.
    pub fn config_through(&self, tick: u32) -> Result<SimConfig, ReplayError> {
        let mut config = self.config.clone();
        let mut interventions: Vec<_> = self
            .interventions()?
            .into_iter()
            .filter(|(at, _)| *at <= tick)
            .collect();
        interventions.extend(
            self.config
                .interventions
                .iter()
                .filter(|(at, _)| *at > tick)
                .cloned(),
        );
        config.interventions = interventions;
        Ok(config)
    }

    /// The recorded state hash of every tick, in order.
    pub fn state_hashes(&self) -> Result<Vec<String>, ReplayError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state_hash FROM ticks ORDER BY tick")?;
        let hashes = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(hashes)
    }
}

/// Re-simulates a recording from its config and seed and compares every tick's state hash (which covers every
/// row the tick appended). Returns the number of ticks verified.
pub fn verify_by_resimulation(
    source: &ReplaySource,
    mut progress: impl FnMut(&crate::sim::Simulation),
) -> Result<u32, ReplayError> {
    let recorded = source.state_hashes()?;
    let config = source.config_through(recorded.len() as u32)?;
    let mut simulation = crate::sim::Simulation::new(config, Box::new(DiscardSink));
    for (i, recorded_hash) in recorded.iter().enumerate() {
        simulation.step();
        let resimulated = simulation.state_hash_hex();
        if &resimulated != recorded_hash {
            return Err(ReplayError::Diverged {
                tick: i as u32 + 1,
                recorded: recorded_hash.clone(),
                resimulated,
            });
        }
        progress(&simulation);
    }
    Ok(recorded.len() as u32)
}
