//! The ledger: every signature, ballot and decision of a run, appended tick by tick. Storage sits behind
//! [`LedgerSink`] so that the native build can write SQLite and the browser build can keep it in memory.

#[cfg(not(target_arch = "wasm32"))]
pub mod inspect;
pub mod memory;
pub mod open;
pub mod schema;
pub mod sqlite;
pub mod tamper;
pub mod verify;
mod verify_v1;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use crate::model::AgentState;
use crate::model::{AgentIdx, Features, MessageKind, Outcome, SigIdx, TickMetrics};

/// Why recording failed. Every message starts with the words the user has always seen ("ledger storage failed:"),
/// and the underlying SQLite or I/O error stays reachable as the source.
#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("ledger storage failed: {} already exists; a ledger records one run (choose a new path)", .0.display())]
    Exists(std::path::PathBuf),
    #[error("ledger storage failed: cannot create {}: {source}", path.display())]
    Create {
        path: std::path::PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("ledger storage failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ledger storage failed: cannot start the ledger writer: {0}")]
    Thread(#[source] std::io::Error),
    /// The writer failed earlier (on its own thread, so only its message survives the trip back).
    #[error("ledger storage failed: writing {}: {message}", path.display())]
    Write {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("ledger storage failed: the ledger is already closed")]
    Closed,
    #[error("ledger storage failed: the ledger writer stopped")]
    WriterStopped,
    #[error("ledger storage failed: the ledger writer panicked")]
    WriterPanicked,
    #[error("ledger storage failed: a lock was poisoned by a panic")]
    Poisoned,
    /// This sink keeps no recording the caller could save.
    #[error("ledger storage failed: {0}")]
    NoRecording(String),
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
    /// What the tallier claimed.
    pub outcome: Outcome,
    pub yes: u32,
    pub no: u32,
    /// The certificate check passed.
    pub valid: bool,
}

impl DecisionRow {
    /// What honest agents took the decision as: its claim, or `Refused` when the certificate failed.
    pub fn verdict(&self) -> Outcome {
        if self.valid {
            self.outcome
        } else {
            Outcome::Refused
        }
    }
}

/// An `outcomes` row: a signature's settlement, as the simulation reported it.
pub type OutcomeRow = crate::model::Settlement;

/// The run's signature and message totals as the closing row states them; `ledger verify` recomputes every one
/// from the rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerTotals {
    pub signatures_proposed: u64,
    pub signatures_accepted_true: u64,
    pub signatures_accepted_false: u64,
    pub signatures_rejected: u64,
    pub signatures_expired: u64,
    pub signatures_refused: u64,
    pub signatures_pending: u64,
    pub ballots: u64,
    pub decisions: u64,
}

impl LedgerTotals {
    pub fn accepted(&self) -> u64 {
        self.signatures_accepted_true + self.signatures_accepted_false
    }
    pub fn settled(&self) -> u64 {
        self.accepted()
            + self.signatures_rejected
            + self.signatures_expired
            + self.signatures_refused
    }
    /// Proposed but not settled: proposed = accepted + rejected + expired + refused + pending, always.
    pub fn unsettled(&self) -> u64 {
        self.signatures_proposed - self.settled()
    }
}

/// The last row of a finished run: how many ticks it ran of how many configured, and its totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClosingRow {
    pub ticks: u32,
    pub steps: u32,
    pub totals: LedgerTotals,
}
/// A signature's stable id as the ledger stores it and the view shows it: 16 hex digits.
pub fn sig_id_hex(id: u64) -> String {
    format!("{id:016x}")
}

/// One message on the wire during a tick, with how far along its hop it is, so the view can animate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FrameMessage {
    pub from: AgentIdx,
    pub to: AgentIdx,
    pub kind: MessageKind,
    /// Ticks since it was sent (0 on the tick it leaves, `span` on the tick it arrives).
    pub elapsed: u8,
    /// Ticks the hop takes. 0 in recordings made before progress was stored: read as one tick.
    pub span: u8,
}

/// `elapsed` and `span` share the kind's byte (3 bits each), so longer hops are scaled down to 7 steps.
const PROGRESS_STEPS: u32 = 7;

impl FrameMessage {
    pub fn new(
        from: AgentIdx,
        to: AgentIdx,
        kind: MessageKind,
        sent: u32,
        deliver: u32,
        now: u32,
    ) -> Self {
        let span = deliver.saturating_sub(sent).max(1);
        let elapsed = now.saturating_sub(sent).min(span);
        let (elapsed, span) = if span > PROGRESS_STEPS {
            (elapsed * PROGRESS_STEPS / span, PROGRESS_STEPS)
        } else {
            (elapsed, span)
        };
        Self {
            from,
            to,
            kind,
            elapsed: elapsed as u8,
            span: span as u8,
        }
    }

    fn packed(&self) -> u8 {
        (self.kind.code() & 0b11) | ((self.elapsed & 0b111) << 2) | ((self.span & 0b111) << 5)
    }

    /// The inverse of `packed`; `None` for a kind code no message has (a corrupt frame).
    fn unpack(from: AgentIdx, to: AgentIdx, byte: u8) -> Option<Self> {
        Some(Self {
            from,
            to,
            kind: MessageKind::from_code(byte & 0b11)?,
            elapsed: (byte >> 2) & 0b111,
            span: byte >> 5,
        })
    }
}

/// What the view needs to redraw one tick: every agent's state and the messages travelling.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct Frame {
    pub agents: Vec<AgentState>,
    pub messages: Vec<FrameMessage>,
}

/// Marks a frame in the compressed encoding: no frame holds `u32::MAX` agents, so the first four bytes tell it from
/// the plain encoding of earlier recordings.
const COMPRESSED_FRAME: u32 = u32::MAX;

/// The most bytes a compressed frame may inflate to (a corrupt or hostile file must not exhaust memory): every
/// agent's byte and ten million runs of messages.
const MAX_INFLATED_FRAME: u64 = 4 + crate::config::MAX_AGENTS as u64 + 4 + 13 * 10_000_000;

/// The most messages a frame may hold once its runs are expanded (about a gigabyte of them).
const MAX_FRAME_MESSAGES: usize = 100_000_000;

impl Frame {
    /// Compact bytes. The marker `u32::MAX`, then zlib over: the agent count (u32 LE), one byte per agent, the
    /// number of message runs (u32 LE) and the runs. Messages are sorted by (from, to, kind and progress) and
    /// identical ones (ballots converging on one edge) become one run with a count; each run is 13 bytes (from as a
    /// delta from the previous run's, to, the packed byte, the count) that zlib squeezes, since deltas are mostly
    /// zero and most agents share a state. Decoding gives the same messages in that sorted order.
    pub fn to_bytes(&self) -> Vec<u8> {
        use std::io::Write;
        let mut keys: Vec<(AgentIdx, AgentIdx, u8)> = self
            .messages
            .iter()
            .map(|m| (m.from, m.to, m.packed()))
            .collect();
        keys.sort_unstable();
        let runs: Vec<&[(AgentIdx, AgentIdx, u8)]> = keys.chunk_by(|a, b| a == b).collect();
        let mut plain = Vec::with_capacity(8 + self.agents.len() + 13 * runs.len());
        plain.extend_from_slice(&(self.agents.len() as u32).to_le_bytes());
        plain.extend(self.agents.iter().map(|&s| s as u8));
        plain.extend_from_slice(&(runs.len() as u32).to_le_bytes());
        let mut previous_from = 0;
        for run in runs {
            let (from, to, packed) = run[0];
            plain.extend_from_slice(&(from - previous_from).to_le_bytes());
            plain.extend_from_slice(&to.to_le_bytes());
            plain.push(packed);
            plain.extend_from_slice(&(run.len() as u32).to_le_bytes());
            previous_from = from;
        }
        let mut out = COMPRESSED_FRAME.to_le_bytes().to_vec();
        let mut encoder = flate2::write::ZlibEncoder::new(&mut out, flate2::Compression::fast());
        encoder.write_all(&plain).expect("writing to a Vec");
        encoder.finish().expect("writing to a Vec");
        out
    }

    /// Decodes either encoding; `None` for a corrupt frame.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let marker = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
        if marker != COMPRESSED_FRAME {
            return Self::from_plain_bytes(bytes);
        }
        use std::io::Read;
        // Frames inflate to several times their size: start there rather than doubling up from nothing.
        let mut plain = Vec::with_capacity((bytes.len() * 4).min(MAX_INFLATED_FRAME as usize));
        flate2::read::ZlibDecoder::new(&bytes[4..])
            .take(MAX_INFLATED_FRAME + 1)
            .read_to_end(&mut plain)
            .ok()?;
        if plain.len() as u64 > MAX_INFLATED_FRAME {
            return None;
        }
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(plain.get(at..at + 4)?.try_into().ok()?))
        };
        let n = u32_at(0)? as usize;
        let agents = plain
            .get(4..4 + n)?
            .iter()
            .map(|&b| AgentState::from_u8(b))
            .collect::<Option<Vec<_>>>()?;
        let run_count = u32_at(4 + n)? as usize;
        let runs = plain.get(8 + n..)?;
        if runs.len() != 13 * run_count {
            return None;
        }
        let run_length =
            |run: &[u8]| u32::from_le_bytes(run[9..13].try_into().expect("4 bytes")) as usize;
        // Sized once: a flooded tick of 100,000 agents holds hundreds of thousands of messages.
        let total: usize = runs.chunks_exact(13).map(run_length).sum();
        if total > MAX_FRAME_MESSAGES {
            return None;
        }
        let mut messages = Vec::with_capacity(total);
        let mut from: AgentIdx = 0;
        for run in runs.chunks_exact(13) {
            let field =
                |at: usize| u32::from_le_bytes(run[at..at + 4].try_into().expect("4 bytes"));
            from = from.checked_add(field(0))?;
            let message = FrameMessage::unpack(from, field(4), run[8])?;
            let count = run_length(run);
            if count == 0 {
                return None;
            }
            messages.extend(std::iter::repeat_n(message, count));
        }
        Some(Self { agents, messages })
    }

    /// The first encoding: agent count (u32 LE), one byte per agent, then 9 bytes per message (from, to, and one
    /// byte packing kind, elapsed and span). Recordings made before frames were compressed hold it.
    fn from_plain_bytes(bytes: &[u8]) -> Option<Self> {
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
                FrameMessage::unpack(from, to, c[8])
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self { agents, messages })
    }
}

/// Everything one tick appends, with the state hash that chains it to the previous tick.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TickRecord {
    pub tick: u32,
    pub state_hash: String,
    /// What was done to the run at the start of this tick, in the order it was applied.
    pub interventions: Vec<crate::config::Intervention>,
    pub signatures: Vec<SignatureRow>,
    pub ballots: Vec<BallotRow>,
    pub decisions: Vec<DecisionRow>,
    /// Signatures settled this tick.
    pub outcomes: Vec<OutcomeRow>,
    pub metrics: TickMetrics,
    /// Not part of the state hash: it is derived from the state the hash already covers.
    pub frame: Frame,
    /// Set on the run's last configured tick: the closing row follows this tick's rows.
    pub closing: Option<ClosingRow>,
}

impl TickRecord {
    /// Bytes the record holds, on the heap and inline: what a tick costs while it waits for the writer.
    pub fn bytes(&self) -> u64 {
        let heap = self.state_hash.len()
            + self.signatures.len() * size_of::<SignatureRow>()
            + self.ballots.len() * size_of::<BallotRow>()
            + self.decisions.len() * size_of::<DecisionRow>()
            + self.outcomes.len() * size_of::<OutcomeRow>()
            + self.frame.agents.len() * size_of::<AgentState>()
            + self.frame.messages.len() * size_of::<FrameMessage>();
        (size_of::<Self>() + heap) as u64
    }
}

/// Where the Record stage sends each tick. One call per tick, so a store can make it one transaction.
/// How a ledger's writing stands, for monitoring: rows written, ticks queued for the writer, failed writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerStats {
    pub rows_written: u64,
    pub queued_ticks: u64,
    /// What the queued ticks hold ([`TickRecord::bytes`]); the writer's queue is bounded by this.
    pub queued_bytes: u64,
    pub failures: u64,
}

pub trait LedgerSink: Send + Sync {
    fn begin(&mut self, run: &RunInfo) -> Result<(), LedgerError>;
    fn append(&mut self, record: TickRecord) -> Result<(), LedgerError>;
    /// Flushes whatever is buffered; called at the end of a run and on Ctrl-C.
    fn finish(&mut self) -> Result<(), LedgerError> {
        Ok(())
    }
    /// The recording so far as the bytes of a ledger file, where the store can give them (the browser's in-memory
    /// SQLite ledger; a file ledger is its own file).
    fn snapshot(&mut self) -> Result<Vec<u8>, LedgerError> {
        Err(LedgerError::NoRecording(
            "this run keeps no recording to save".into(),
        ))
    }
    /// The hash of the last row written (hex), once `finish` has returned; `None` for a store without a chain.
    fn head_hash(&self) -> Option<String> {
        None
    }
    /// Rows written, ticks waiting and failures so far (all zero for a store that keeps nothing).
    fn stats(&self) -> LedgerStats {
        LedgerStats::default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_bytes_round_trip_with_message_progress() {
        let frame = Frame {
            agents: vec![AgentState::Healthy, AgentState::Immune, AgentState::Crashed],
            messages: vec![
                FrameMessage::new(0, 1, MessageKind::Announce, 10, 12, 10),
                FrameMessage::new(1, 2, MessageKind::Ballot, 10, 12, 12),
                FrameMessage::new(1, 2, MessageKind::Ballot, 10, 12, 12),
                FrameMessage::new(2, 0, MessageKind::Decision, 5, 25, 15),
            ],
        };
        let back = Frame::from_bytes(&frame.to_bytes()).expect("decodes");
        assert_eq!(back, frame);
        assert_eq!((back.messages[3].elapsed, back.messages[3].span), (3, 7));
        // A corrupt frame does not decode (zlib's checksum), nor does a cut one.
        let mut bytes = frame.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 0b11;
        assert_eq!(Frame::from_bytes(&bytes), None);
        let bytes = frame.to_bytes();
        assert_eq!(Frame::from_bytes(&bytes[..bytes.len() - 3]), None);
    }

    /// The first encoding, as recordings made before compression hold it.
    fn plain_bytes(frame: &Frame) -> Vec<u8> {
        let mut out = (frame.agents.len() as u32).to_le_bytes().to_vec();
        out.extend(frame.agents.iter().map(|&s| s as u8));
        for m in &frame.messages {
            out.extend_from_slice(&m.from.to_le_bytes());
            out.extend_from_slice(&m.to.to_le_bytes());
            out.push(m.packed());
        }
        out
    }

    #[test]
    fn earlier_plain_frames_still_decode_and_a_busy_frame_shrinks() {
        let frame = Frame {
            agents: vec![AgentState::Healthy; 1_000],
            messages: (0..1_000u32)
                .flat_map(|a| {
                    // Every agent gossips to three neighbours, and ballots converge on agent 0's edges.
                    let ring = [(a + 1) % 1_000, (a + 7) % 1_000, (a + 500) % 1_000];
                    ring.map(|to| FrameMessage::new(a, to, MessageKind::Announce, 3, 4, 3))
                        .into_iter()
                        .chain([FrameMessage::new(
                            1 + a % 3,
                            0,
                            MessageKind::Ballot,
                            3,
                            4,
                            4,
                        )])
                })
                .collect(),
        };
        let mut sorted = frame.clone();
        sorted.messages.sort_by_key(|m| (m.from, m.to, m.packed()));
        assert_eq!(
            Frame::from_bytes(&plain_bytes(&sorted)),
            Some(sorted.clone())
        );
        let compact = frame.to_bytes();
        assert_eq!(Frame::from_bytes(&compact), Some(sorted.clone()));
        let plain = plain_bytes(&sorted).len();
        assert!(
            compact.len() * 4 < plain,
            "{} compressed bytes against {plain} plain",
            compact.len()
        );
    }
}
