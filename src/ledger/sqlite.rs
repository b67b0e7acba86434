//! The SQLite ledger. On disk (WAL mode), a writer thread owns the connection and takes one tick at a time over a
//! bounded channel, writing each tick in one transaction, so the simulation only waits on disk when the writer
//! falls behind, and a killed process leaves a valid file holding whole ticks only. In the browser the same tables
//! live in an in-memory database, written on the simulation's thread and saved as a file's bytes on request.
//!
//! Signatures, ballots and decisions share one global sequence number and one hash chain:
//! `hash = SHA-256(prev_hash || canonical row bytes)`, where the canonical bytes are built from the stored columns
//! (see [`canonical`]), so `dais ledger verify` can recompute the chain from the file alone. Triggers abort every
//! UPDATE and DELETE on the ledger tables.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, params};
use sha2::{Digest, Sha256};

use super::{LedgerError, LedgerSink, RunInfo, TickRecord};

/// The schema this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;
/// Ticks that may wait for the writer before the simulation blocks. Small, because one tick of a 10,000-agent
/// flood can hold a million messages in its frame.
const CHANNEL_TICKS: usize = 8;

/// Tables in the ledger, in the order `stats` and `export` list them.
pub const TABLES: &[&str] = &[
    "run",
    "agents",
    "signatures",
    "ballots",
    "decisions",
    "ticks",
    "frames",
];
/// Tables whose rows carry the hash chain.
pub const CHAINED: &[&str] = &["signatures", "ballots", "decisions"];

const SCHEMA: &str = "
CREATE TABLE run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config_ron TEXT NOT NULL, config_hash TEXT NOT NULL, seed INTEGER NOT NULL,
    dais_version TEXT NOT NULL, started_at TEXT NOT NULL, agents INTEGER NOT NULL);
CREATE TABLE agents (idx INTEGER PRIMARY KEY, role TEXT NOT NULL, neighbours TEXT NOT NULL);
CREATE TABLE signatures (
    seq INTEGER PRIMARY KEY, tick INTEGER NOT NULL, sig INTEGER NOT NULL, sig_id TEXT NOT NULL,
    origin INTEGER NOT NULL, count INTEGER NOT NULL, centroid TEXT NOT NULL, spread TEXT NOT NULL,
    truth INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE ballots (
    seq INTEGER PRIMARY KEY, tick INTEGER NOT NULL, sig INTEGER NOT NULL, voter INTEGER NOT NULL,
    yes INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE decisions (
    seq INTEGER PRIMARY KEY, tick INTEGER NOT NULL, decision INTEGER NOT NULL, sig INTEGER NOT NULL,
    tallier INTEGER NOT NULL, outcome TEXT NOT NULL, yes INTEGER NOT NULL, no INTEGER NOT NULL,
    valid INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE ticks (
    tick INTEGER PRIMARY KEY, state_hash TEXT NOT NULL, signatures INTEGER NOT NULL,
    ballots INTEGER NOT NULL, decisions INTEGER NOT NULL, metrics TEXT NOT NULL);
CREATE TABLE frames (tick INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE INDEX signatures_tick ON signatures(tick);
CREATE INDEX signatures_sig ON signatures(sig);
CREATE INDEX signatures_sig_id ON signatures(sig_id);
CREATE INDEX ballots_tick ON ballots(tick);
CREATE INDEX ballots_sig ON ballots(sig);
CREATE INDEX decisions_tick ON decisions(tick);
CREATE INDEX decisions_sig ON decisions(sig);
";

/// The names of the append-only triggers, two per table.
pub fn trigger_names() -> Vec<String> {
    TABLES
        .iter()
        .flat_map(|t| [format!("{t}_no_update"), format!("{t}_no_delete")])
        .collect()
}

fn append_only_triggers() -> String {
    TABLES
        .iter()
        .map(|t| {
            format!(
                "CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
                 CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
            )
        })
        .collect()
}

/// The bytes a chained row is hashed over, built from its stored columns (text columns as stored, integers in
/// decimal), joined by `|` and prefixed with the table name.
pub fn canonical(table: &str, columns: &[String]) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    out.push_str(table);
    for c in columns {
        out.push('|');
        out.push_str(c);
    }
    out.into_bytes()
}

pub fn chain_hash(prev: &[u8], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

fn floats(values: &[f32]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn storage(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Storage(e.to_string())
}

/// Opens (creating) a ledger file for writing and sets it up.
fn open_for_writing(path: &Path) -> Result<Connection, LedgerError> {
    if path.exists() {
        return Err(LedgerError::Storage(format!(
            "{} already exists; a ledger records one run (choose a new path)",
            path.display()
        )));
    }
    let conn = Connection::open(path)
        .map_err(|e| storage(format!("cannot create {}: {e}", path.display())))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(storage)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(storage)?;
    create_schema(&conn)?;
    Ok(conn)
}

fn create_schema(conn: &Connection) -> Result<(), LedgerError> {
    conn.execute_batch(&format!(
        "BEGIN; {SCHEMA} {} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;",
        append_only_triggers()
    ))
    .map_err(storage)
}

/// The writer side: owns the connection and the chain head.
struct Writer {
    conn: Connection,
    seq: i64,
    head: [u8; 32],
}

impl Writer {
    fn new(conn: Connection) -> Self {
        Self {
            conn,
            seq: 0,
            head: [0; 32],
        }
    }

    fn write(&mut self, job: &Job) -> rusqlite::Result<()> {
        match job {
            Job::Run(run) => self.write_run(run),
            Job::Tick(record) => self.write_tick(record),
        }
    }

    fn write_run(&mut self, run: &RunInfo) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO run (id, config_ron, config_hash, seed, dais_version, started_at, agents) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
            params![run.config_ron, run.config_hash, run.seed as i64, run.version, now_text(), run.agents.len() as i64],
        )?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO agents (idx, role, neighbours) VALUES (?1, ?2, ?3)")?;
            for a in &run.agents {
                let neighbours = a
                    .neighbours
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" ");
                insert.execute(params![a.index, a.role, neighbours])?;
            }
        }
        tx.commit()
    }

    fn write_tick(&mut self, record: &TickRecord) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let tick = record.tick.to_string();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO signatures (seq, tick, sig, sig_id, origin, count, centroid, spread, truth, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for s in &record.signatures {
                self.seq += 1;
                let cols = [
                    self.seq.to_string(),
                    tick.clone(),
                    s.sig.to_string(),
                    super::sig_id_hex(s.id),
                    s.origin.to_string(),
                    s.count.to_string(),
                    floats(&s.centroid),
                    floats(&s.spread),
                    s.truth.to_string(),
                ];
                let hash = chain_hash(&self.head, &canonical("signatures", &cols));
                insert.execute(params![
                    self.seq,
                    record.tick,
                    s.sig,
                    cols[3],
                    s.origin,
                    s.count,
                    cols[6],
                    cols[7],
                    s.truth,
                    &self.head[..],
                    &hash[..]
                ])?;
                self.head = hash;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO ballots (seq, tick, sig, voter, yes, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut cols: [String; 5] = Default::default();
            for b in &record.ballots {
                self.seq += 1;
                cols[0] = self.seq.to_string();
                cols[1].clone_from(&tick);
                cols[2] = b.sig.to_string();
                cols[3] = b.voter.to_string();
                cols[4] = u8::from(b.yes).to_string();
                let hash = chain_hash(&self.head, &canonical("ballots", &cols));
                insert.execute(params![
                    self.seq,
                    record.tick,
                    b.sig,
                    b.voter,
                    b.yes,
                    &self.head[..],
                    &hash[..]
                ])?;
                self.head = hash;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO decisions (seq, tick, decision, sig, tallier, outcome, yes, no, valid, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for d in &record.decisions {
                self.seq += 1;
                let cols = [
                    self.seq.to_string(),
                    tick.clone(),
                    d.decision.to_string(),
                    d.sig.to_string(),
                    d.tallier.to_string(),
                    d.outcome.as_str().to_string(),
                    d.yes.to_string(),
                    d.no.to_string(),
                    u8::from(d.valid).to_string(),
                ];
                let hash = chain_hash(&self.head, &canonical("decisions", &cols));
                insert.execute(params![
                    self.seq,
                    record.tick,
                    d.decision,
                    d.sig,
                    d.tallier,
                    cols[5],
                    d.yes,
                    d.no,
                    d.valid,
                    &self.head[..],
                    &hash[..]
                ])?;
                self.head = hash;
            }
            tx.prepare_cached("INSERT INTO ticks (tick, state_hash, signatures, ballots, decisions, metrics) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params![
                    record.tick,
                    record.state_hash,
                    record.signatures.len() as i64,
                    record.ballots.len() as i64,
                    record.decisions.len() as i64,
                    serde_json::to_string(&record.metrics).expect("metrics serialise"),
                ])?;
            tx.prepare_cached("INSERT INTO frames (tick, data) VALUES (?1, ?2)")?
                .execute(params![record.tick, record.frame.to_bytes()])?;
        }
        tx.commit()
    }
}

/// Wall-clock start time for the run row (metadata only; never read by the simulation).
fn now_text() -> String {
    // `SystemTime::now` panics in the browser, which has its own clock.
    #[cfg(target_arch = "wasm32")]
    let secs = (js_sys::Date::now() / 1000.0) as u64;
    #[cfg(not(target_arch = "wasm32"))]
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs} (unix seconds)")
}

enum Job {
    Run(RunInfo),
    Tick(Box<TickRecord>),
}

/// A [`LedgerSink`] that writes SQLite: a file through a writer thread, or an in-memory database (the browser's
/// ledger, which has no threads and no files) on the caller's thread.
pub struct SqliteLedger {
    /// The file, or a name for the in-memory database in messages.
    path: PathBuf,
    store: Store,
    failure: Arc<Mutex<Option<String>>>,
}

enum Store {
    File {
        sender: Option<SyncSender<Job>>,
        worker: Option<JoinHandle<()>>,
    },
    /// A mutex only because a sink must be `Sync`; one thread writes.
    Memory(Mutex<Writer>),
}

impl SqliteLedger {
    /// Creates the file now, so a bad path fails before the run starts.
    pub fn create(path: &Path) -> Result<Self, LedgerError> {
        let conn = open_for_writing(path)?;
        let (sender, receiver) = sync_channel::<Job>(CHANNEL_TICKS);
        let failure = Arc::new(Mutex::new(None));
        let worker_failure = failure.clone();
        let worker = std::thread::Builder::new()
            .name("dais-ledger".into())
            .spawn(move || write_loop(Writer::new(conn), receiver, worker_failure))
            .map_err(storage)?;
        Ok(Self {
            path: path.to_path_buf(),
            store: Store::File {
                sender: Some(sender),
                worker: Some(worker),
            },
            failure,
        })
    }

    /// A ledger held in memory, with the same tables, triggers and hash chain as a file; [`LedgerSink::snapshot`]
    /// turns it into a file's bytes that `dais replay` and `dais ledger verify` read.
    pub fn in_memory() -> Result<Self, LedgerError> {
        let conn = Connection::open_in_memory().map_err(storage)?;
        create_schema(&conn)?;
        Ok(Self {
            path: PathBuf::from("the in-memory ledger"),
            store: Store::Memory(Mutex::new(Writer::new(conn))),
            failure: Arc::new(Mutex::new(None)),
        })
    }

    fn check(&self) -> Result<(), LedgerError> {
        match self.failure.lock().map_err(storage)?.as_ref() {
            Some(e) => Err(LedgerError::Storage(format!(
                "writing {}: {e}",
                self.path.display()
            ))),
            None => Ok(()),
        }
    }

    fn send(&mut self, job: Job) -> Result<(), LedgerError> {
        self.check()?;
        match &mut self.store {
            Store::File { sender, .. } => {
                let sender = sender
                    .as_ref()
                    .ok_or_else(|| storage("the ledger is already closed"))?;
                // A send fails only when the writer stopped, which it does after recording its failure.
                if sender.send(job).is_err() {
                    self.check()?;
                    return Err(storage("the ledger writer stopped"));
                }
            }
            Store::Memory(writer) => {
                if let Err(e) = writer.get_mut().map_err(storage)?.write(&job) {
                    *self.failure.lock().map_err(storage)? = Some(e.to_string());
                    self.check()?;
                }
            }
        }
        Ok(())
    }
}

fn write_loop(mut writer: Writer, jobs: Receiver<Job>, failure: Arc<Mutex<Option<String>>>) {
    for job in jobs {
        if let Err(e) = writer.write(&job) {
            if let Ok(mut slot) = failure.lock() {
                *slot = Some(e.to_string());
            }
            return;
        }
    }
}

impl LedgerSink for SqliteLedger {
    fn begin(&mut self, run: &RunInfo) -> Result<(), LedgerError> {
        self.send(Job::Run(run.clone()))
    }
    fn append(&mut self, record: TickRecord) -> Result<(), LedgerError> {
        self.send(Job::Tick(Box::new(record)))
    }
    fn finish(&mut self) -> Result<(), LedgerError> {
        if let Store::File { sender, worker } = &mut self.store {
            sender.take();
            if let Some(worker) = worker.take() {
                worker
                    .join()
                    .map_err(|_| storage("the ledger writer panicked"))?;
            }
        }
        self.check()
    }
    fn snapshot(&mut self) -> Result<Vec<u8>, LedgerError> {
        self.check()?;
        match &mut self.store {
            Store::Memory(writer) => {
                let writer = writer.get_mut().map_err(storage)?;
                Ok(writer
                    .conn
                    .serialize(rusqlite::MAIN_DB)
                    .map_err(storage)?
                    .to_vec())
            }
            Store::File { .. } => Err(storage(format!(
                "{} is the recording; open the file itself",
                self.path.display()
            ))),
        }
    }
}

impl Drop for SqliteLedger {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Why a ledger file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no such ledger file: {0}")]
    Missing(PathBuf),
    #[error("{path} is not a DAIS ledger: {reason}")]
    NotALedger { path: PathBuf, reason: String },
    #[error(
        "{path} has ledger schema version {found}; this dais reads version {SCHEMA_VERSION} (upgrade dais)"
    )]
    NewerSchema { path: PathBuf, found: i64 },
}

impl OpenError {
    fn not_ledger(path: &Path, reason: impl std::fmt::Display) -> Self {
        OpenError::NotALedger {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

/// Opens an existing ledger read-only, checking that it is one and that its schema is one we read.
pub fn open_existing(path: &Path) -> Result<Connection, OpenError> {
    if !path.is_file() {
        return Err(OpenError::Missing(path.to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| OpenError::not_ledger(path, e))?;
    check_ledger(&conn, path)?;
    Ok(conn)
}

/// Opens a ledger file's bytes (a browser upload) as a read-only in-memory database, with the same checks as
/// [`open_existing`]. `name` is the file's name, for messages.
pub fn open_bytes(name: &str, bytes: &[u8]) -> Result<Connection, OpenError> {
    let path = PathBuf::from(name);
    let not_ledger = |reason: String| OpenError::not_ledger(&path, reason);
    const MAGIC: &[u8] = b"SQLite format 3\0";
    if bytes.len() < 100 || !bytes.starts_with(MAGIC) {
        return Err(not_ledger("it is not an SQLite database".into()));
    }
    let mut data = bytes.to_vec();
    // A desktop ledger is written in WAL mode, which its header records (bytes 18 and 19 are 2), and SQLite will
    // not read a WAL database from memory. Once its writer has closed, every tick is in the main file, so reading
    // it with the rollback journal's header values is exact.
    data[18] = 1;
    data[19] = 1;
    let mut conn = Connection::open_in_memory().map_err(|e| not_ledger(e.to_string()))?;
    let size = data.len();
    conn.deserialize_read_exact(rusqlite::MAIN_DB, &data[..], size, true)
        .map_err(|e| not_ledger(e.to_string()))?;
    check_ledger(&conn, &path)?;
    Ok(conn)
}

fn check_ledger(conn: &Connection, path: &Path) -> Result<(), OpenError> {
    let not_ledger = |reason: String| OpenError::not_ledger(path, reason);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| not_ledger(e.to_string()))?;
    if version > SCHEMA_VERSION {
        return Err(OpenError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('run','agents','signatures','ballots','decisions','ticks','frames')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| not_ledger(e.to_string()))?;
    if version < 1 || tables != TABLES.len() as i64 {
        return Err(not_ledger("it lacks the ledger tables".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AgentRow, BallotRow, Frame, TickRecord};

    fn run_info() -> RunInfo {
        RunInfo {
            config_ron: "()".into(),
            config_hash: "h".into(),
            seed: 1,
            version: "0".into(),
            agents: vec![AgentRow {
                index: 0,
                role: "honest".into(),
                neighbours: vec![1],
            }],
        }
    }

    fn record(tick: u32) -> TickRecord {
        TickRecord {
            tick,
            state_hash: format!("{tick}"),
            signatures: vec![],
            ballots: vec![BallotRow {
                sig: 0,
                voter: 1,
                yes: tick.is_multiple_of(2),
            }],
            decisions: vec![],
            metrics: Default::default(),
            frame: Frame::default(),
        }
    }

    fn ballots_in(conn: &Connection) -> Vec<(i64, bool, Vec<u8>)> {
        conn.prepare("SELECT tick, yes, hash FROM ballots ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn an_in_memory_ledger_saves_as_a_file_that_reads_like_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file.db");
        let mut file = SqliteLedger::create(&path).unwrap();
        let mut memory = SqliteLedger::in_memory().unwrap();
        for ledger in [&mut file, &mut memory] {
            ledger.begin(&run_info()).unwrap();
            for tick in 1..=4 {
                ledger.append(record(tick)).unwrap();
            }
        }
        let bytes = memory.snapshot().unwrap();
        assert!(
            file.snapshot().is_err(),
            "a file ledger is its own recording"
        );
        file.finish().unwrap();
        // Same rows, same hash chain, whichever store wrote them.
        let saved = dir.path().join("saved.db");
        std::fs::write(&saved, &bytes).unwrap();
        let from_saved = open_existing(&saved).unwrap();
        assert_eq!(
            ballots_in(&from_saved),
            ballots_in(&open_existing(&path).unwrap())
        );
        assert_eq!(ballots_in(&from_saved).len(), 4);
        // The browser opens both: its own download, and a desktop file written in WAL mode.
        let from_memory = open_bytes("saved.db", &bytes).unwrap();
        let from_wal_file = open_bytes("file.db", &std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(ballots_in(&from_memory), ballots_in(&from_wal_file));
        let err = from_wal_file
            .execute("DELETE FROM ballots", [])
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[test]
    fn bytes_that_are_no_ledger_are_refused_by_name() {
        let err = open_bytes("photo.png", b"\x89PNG not a database").unwrap_err();
        assert_eq!(
            err.to_string(),
            "photo.png is not a DAIS ledger: it is not an SQLite database"
        );
        let mut other = Connection::open_in_memory().unwrap();
        other.execute_batch("CREATE TABLE t (x)").unwrap();
        let bytes = other.serialize(rusqlite::MAIN_DB).unwrap().to_vec();
        let err = open_bytes("other.sqlite", &bytes).unwrap_err();
        assert!(err.to_string().contains("lacks the ledger tables"), "{err}");
        let mut truncated = open_bytes_source_for_truncation();
        truncated.truncate(truncated.len() / 2);
        assert!(open_bytes("cut.sqlite", &truncated).is_err());
    }

    fn open_bytes_source_for_truncation() -> Vec<u8> {
        let mut memory = SqliteLedger::in_memory().unwrap();
        memory.begin(&run_info()).unwrap();
        for tick in 1..=50 {
            memory.append(record(tick)).unwrap();
        }
        memory.snapshot().unwrap()
    }

    #[test]
    fn ticks_land_and_the_tables_refuse_updates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let mut ledger = SqliteLedger::create(&path).unwrap();
        ledger.begin(&run_info()).unwrap();
        for tick in 1..=3 {
            ledger.append(record(tick)).unwrap();
        }
        ledger.finish().unwrap();
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM ballots", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
        let err = conn.execute("UPDATE ballots SET yes = 0", []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(conn.execute("DELETE FROM ticks", []).is_err());
        assert!(
            SqliteLedger::create(&path).is_err(),
            "an existing ledger is never overwritten"
        );
    }
}
