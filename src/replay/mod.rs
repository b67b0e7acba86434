//! Replays: a recorded ledger turned back into per-tick frames for the view (in order, or by random access for
//! scrubbing, without re-simulating), and re-simulation of a recording to prove it reproduces tick by tick.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use thiserror::Error;

use crate::config::SimConfig;
use crate::ledger::sqlite::{OpenError, open_existing};
use crate::ledger::{DiscardSink, Frame};

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("the recording's config cannot be read: {0}")]
    Config(String),
    #[error("the recording has no tick {tick} (it holds ticks 1 to {last})")]
    NoSuchTick { tick: u32, last: u32 },
    #[error("tick {0}: the recorded frame is corrupt")]
    CorruptFrame(u32),
    #[error("cannot read the recording: {0}")]
    Read(#[from] rusqlite::Error),
    #[error(
        "replay diverged at tick {tick}: recorded state hash {recorded}, re-simulated {resimulated}"
    )]
    Diverged {
        tick: u32,
        recorded: String,
        resimulated: String,
    },
}

/// A recording opened for viewing.
pub struct ReplaySource {
    conn: Connection,
    config: SimConfig,
    ticks: u32,
}

impl ReplaySource {
    pub fn open(path: &Path) -> Result<Self, ReplayError> {
        let conn = open_existing(path)?;
        let config_ron: String =
            conn.query_row("SELECT config_ron FROM run WHERE id = 1", [], |r| r.get(0))?;
        let config: SimConfig =
            ron::from_str(&config_ron).map_err(|e| ReplayError::Config(e.to_string()))?;
        let ticks: u32 =
            conn.query_row("SELECT coalesce(max(tick), 0) FROM ticks", [], |r| r.get(0))?;
        Ok(Self {
            conn,
            config,
            ticks,
        })
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
    mut progress: impl FnMut(u32),
) -> Result<u32, ReplayError> {
    let recorded = source.state_hashes()?;
    let mut app = crate::sim::headless_app(source.config().clone(), Box::new(DiscardSink));
    for (i, recorded_hash) in recorded.iter().enumerate() {
        crate::sim::step(&mut app);
        let resimulated = app
            .world()
            .resource::<crate::sim::record::Ledger>()
            .state_hash_hex();
        if &resimulated != recorded_hash {
            return Err(ReplayError::Diverged {
                tick: i as u32 + 1,
                recorded: recorded_hash.clone(),
                resimulated,
            });
        }
        progress(i as u32 + 1);
    }
    Ok(recorded.len() as u32)
}
