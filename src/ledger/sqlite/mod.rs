//! The SQLite ledger. On disk (WAL mode), a writer thread owns the connection and takes one tick at a time over a
//! bounded channel, writing each tick in one transaction, so the simulation only waits on disk when the writer
//! falls behind, and a killed process leaves a valid file holding whole ticks only. In the browser the same tables
//! live in an in-memory database, written on the simulation's thread and saved as a file's bytes on request.
//!
//! Every row of every table shares one global sequence number and one hash chain, from the run row to the closing
//! row (see [`super::schema`]), so `dais ledger verify` can recompute the chain from the file alone. Triggers abort
//! every UPDATE and DELETE on the ledger tables.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

pub use super::open::{OpenError, open_bytes, open_existing, schema_version};
use super::schema;
use super::{LedgerError, LedgerSink, LedgerStats, RunInfo, TickRecord};
use writer::{Job, Writer};

mod writer;

/// Bytes of ticks that may wait for the writer before the simulation blocks. A bound in bytes, not ticks: one
/// tick of a 100,000-agent flood can hold millions of ballots and messages, and a few such ticks queued would be
/// gigabytes, while a thousand small ticks are nothing.
pub const QUEUE_LIMIT_BYTES: u64 = 256 << 20;

/// Opens (creating) a ledger file for writing and sets it up.
fn open_for_writing(path: &Path) -> Result<Connection, LedgerError> {
    if path.exists() {
        return Err(LedgerError::Exists(path.to_path_buf()));
    }
    let conn = Connection::open(path).map_err(|source| LedgerError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    create_schema(&conn)?;
    Ok(conn)
}

fn create_schema(conn: &Connection) -> Result<(), LedgerError> {
    Ok(conn.execute_batch(&schema::create_sql())?)
}

/// A [`LedgerSink`] that writes SQLite: a file through a writer thread, or an in-memory database (the browser's
/// ledger, which has no threads and no files) on the caller's thread.
pub struct SqliteLedger {
    /// The file, or a name for the in-memory database in messages.
    path: PathBuf,
    store: Store,
    failure: Arc<Mutex<Option<String>>>,
    /// The file writer's chain head, once it has finished.
    final_head: Option<[u8; 32]>,
    /// Shared with the writer thread, for monitoring (`dais_ledger_*`).
    progress: Arc<WriterProgress>,
}

/// What the writer thread has done, read without waiting for it.
#[derive(Default)]
struct WriterProgress {
    rows: AtomicU64,
    queued: AtomicU64,
}

/// The bytes waiting for the writer, and the bound the simulation waits on.
struct QueueBudget {
    limit: u64,
    state: Mutex<Queued>,
    room: Condvar,
}

#[derive(Default)]
struct Queued {
    bytes: u64,
    /// The writer has stopped: nothing will be released, so nobody may wait.
    closed: bool,
}

impl QueueBudget {
    fn new(limit: u64) -> Self {
        Self {
            limit,
            state: Mutex::default(),
            room: Condvar::new(),
        }
    }

    /// Waits until `bytes` more fit, then counts them. A job larger than the whole bound goes alone, once the
    /// queue is empty, so that no tick can wait forever.
    fn acquire(&self, bytes: u64) {
        let Ok(mut queued) = self.state.lock() else {
            return;
        };
        while !queued.closed && queued.bytes > 0 && queued.bytes + bytes > self.limit {
            queued = match self.room.wait(queued) {
                Ok(queued) => queued,
                Err(_) => return,
            };
        }
        queued.bytes += bytes;
    }

    fn release(&self, bytes: u64) {
        if let Ok(mut queued) = self.state.lock() {
            queued.bytes = queued.bytes.saturating_sub(bytes);
        }
        self.room.notify_all();
    }

    fn close(&self) {
        if let Ok(mut queued) = self.state.lock() {
            queued.closed = true;
        }
        self.room.notify_all();
    }

    fn bytes(&self) -> u64 {
        self.state.lock().map_or(0, |queued| queued.bytes)
    }
}

enum Store {
    File {
        sender: Option<Sender<(Job, u64)>>,
        budget: Arc<QueueBudget>,
        worker: Option<JoinHandle<[u8; 32]>>,
    },
    /// A mutex only because a sink must be `Sync`; one thread writes.
    Memory(Mutex<Writer>),
}

impl SqliteLedger {
    /// Creates the file now, so a bad path fails before the run starts.
    pub fn create(path: &Path) -> Result<Self, LedgerError> {
        Self::create_with_queue_limit(path, QUEUE_LIMIT_BYTES)
    }

    /// [`SqliteLedger::create`] with the writer's queue bounded at `limit` bytes instead of [`QUEUE_LIMIT_BYTES`].
    pub fn create_with_queue_limit(path: &Path, limit: u64) -> Result<Self, LedgerError> {
        let conn = open_for_writing(path)?;
        let (sender, receiver) = channel::<(Job, u64)>();
        let budget = Arc::new(QueueBudget::new(limit));
        let worker_budget = budget.clone();
        let failure = Arc::new(Mutex::new(None));
        let worker_failure = failure.clone();
        let progress = Arc::new(WriterProgress::default());
        let worker_progress = progress.clone();
        let worker = std::thread::Builder::new()
            .name("dais-ledger".into())
            .spawn(move || {
                let head = write_loop(
                    Writer::new(conn),
                    receiver,
                    worker_failure,
                    &worker_progress,
                    &worker_budget,
                );
                worker_budget.close();
                head
            })
            .map_err(LedgerError::Thread)?;
        Ok(Self {
            path: path.to_path_buf(),
            store: Store::File {
                sender: Some(sender),
                budget,
                worker: Some(worker),
            },
            failure,
            final_head: None,
            progress,
        })
    }

    /// A ledger held in memory, with the same tables, triggers and hash chain as a file; [`LedgerSink::snapshot`]
    /// turns it into a file's bytes that `dais replay` and `dais ledger verify` read.
    pub fn in_memory() -> Result<Self, LedgerError> {
        let conn = Connection::open_in_memory()?;
        create_schema(&conn)?;
        Ok(Self {
            path: PathBuf::from("the in-memory ledger"),
            store: Store::Memory(Mutex::new(Writer::new(conn))),
            failure: Arc::new(Mutex::new(None)),
            final_head: None,
            progress: Arc::default(),
        })
    }

    fn check(&self) -> Result<(), LedgerError> {
        match self
            .failure
            .lock()
            .map_err(|_| LedgerError::Poisoned)?
            .as_ref()
        {
            Some(message) => Err(LedgerError::Write {
                path: self.path.clone(),
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    fn send(&mut self, job: Job) -> Result<(), LedgerError> {
        self.check()?;
        match &mut self.store {
            Store::File { sender, budget, .. } => {
                let sender = sender.as_ref().ok_or(LedgerError::Closed)?;
                let bytes = job.bytes();
                budget.acquire(bytes);
                self.progress.queued.fetch_add(1, Ordering::Relaxed);
                // A send fails only when the writer stopped, which it does after recording its failure.
                if sender.send((job, bytes)).is_err() {
                    self.check()?;
                    return Err(LedgerError::WriterStopped);
                }
            }
            Store::Memory(writer) => {
                let writer = writer.get_mut().map_err(|_| LedgerError::Poisoned)?;
                let written = writer.write(&job);
                self.progress
                    .rows
                    .store(writer.chain.rows(), Ordering::Relaxed);
                if let Err(e) = written {
                    *self.failure.lock().map_err(|_| LedgerError::Poisoned)? = Some(e.to_string());
                    self.check()?;
                }
            }
        }
        Ok(())
    }
}

/// Writes jobs until the channel closes; returns the chain head.
fn write_loop(
    mut writer: Writer,
    jobs: Receiver<(Job, u64)>,
    failure: Arc<Mutex<Option<String>>>,
    progress: &WriterProgress,
    budget: &QueueBudget,
) -> [u8; 32] {
    for (job, bytes) in jobs {
        let written = writer.write(&job);
        drop(job);
        budget.release(bytes);
        progress.queued.fetch_sub(1, Ordering::Relaxed);
        progress.rows.store(writer.chain.rows(), Ordering::Relaxed);
        if let Err(e) = written {
            if let Ok(mut slot) = failure.lock() {
                *slot = Some(e.to_string());
            }
            break;
        }
    }
    writer.chain.head
}

impl LedgerSink for SqliteLedger {
    fn begin(&mut self, run: &RunInfo) -> Result<(), LedgerError> {
        self.send(Job::Run(run.clone()))
    }
    fn append(&mut self, record: TickRecord) -> Result<(), LedgerError> {
        self.send(Job::Tick(Box::new(record)))
    }
    fn finish(&mut self) -> Result<(), LedgerError> {
        if let Store::File { sender, worker, .. } = &mut self.store {
            sender.take();
            if let Some(worker) = worker.take() {
                self.final_head = Some(worker.join().map_err(|_| LedgerError::WriterPanicked)?);
            }
        }
        self.check()
    }
    fn stats(&self) -> LedgerStats {
        LedgerStats {
            rows_written: self.progress.rows.load(Ordering::Relaxed),
            queued_ticks: self.progress.queued.load(Ordering::Relaxed),
            queued_bytes: match &self.store {
                Store::File { budget, .. } => budget.bytes(),
                Store::Memory(_) => 0,
            },
            failures: u64::from(self.failure.lock().map_or(true, |f| f.is_some())),
        }
    }
    fn head_hash(&self) -> Option<String> {
        match &self.store {
            Store::File { .. } => self.final_head.map(hex::encode),
            Store::Memory(writer) => writer.lock().ok().map(|w| hex::encode(w.chain.head)),
        }
    }
    fn snapshot(&mut self) -> Result<Vec<u8>, LedgerError> {
        self.check()?;
        match &mut self.store {
            Store::Memory(writer) => {
                let writer = writer.get_mut().map_err(|_| LedgerError::Poisoned)?;
                Ok(writer.conn.serialize(rusqlite::MAIN_DB)?.to_vec())
            }
            Store::File { .. } => Err(LedgerError::NoRecording(format!(
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
            interventions: Vec::new(),
            tick,
            state_hash: format!("{tick}"),
            signatures: vec![],
            ballots: vec![BallotRow {
                sig: 0,
                voter: 1,
                yes: tick.is_multiple_of(2),
            }],
            decisions: vec![],
            outcomes: vec![],
            metrics: Default::default(),
            frame: Frame::default(),
            closing: None,
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
            matches!(file.snapshot(), Err(LedgerError::NoRecording(_))),
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

    /// A tick with `ballots` ballots in it.
    fn heavy_record(tick: u32, ballots: usize) -> TickRecord {
        let mut record = record(tick);
        record.ballots = (0..ballots)
            .map(|voter| BallotRow {
                sig: 0,
                voter: voter as u32,
                yes: true,
            })
            .collect();
        record
    }

    #[test]
    fn the_writer_queue_is_bounded_in_bytes_and_a_tick_over_the_bound_still_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bounded.db");
        let one = heavy_record(1, 2_000).bytes();
        // Room for about three such ticks; one tick of ten times that must still be written, alone.
        let limit = 3 * one + one / 2;
        let mut ledger = SqliteLedger::create_with_queue_limit(&path, limit).unwrap();
        ledger.begin(&run_info()).unwrap();
        let mut most_queued = 0;
        for tick in 1..=40 {
            let ballots = if tick == 20 { 20_000 } else { 2_000 };
            ledger.append(heavy_record(tick, ballots)).unwrap();
            most_queued = most_queued.max(ledger.stats().queued_bytes);
        }
        ledger.finish().unwrap();
        assert!(
            most_queued <= heavy_record(20, 20_000).bytes().max(limit),
            "{most_queued} bytes queued against a bound of {limit}"
        );
        assert_eq!(ledger.stats().queued_bytes, 0);
        let rows: i64 = open_existing(&path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM ballots", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 39 * 2_000 + 20_000);
    }

    #[test]
    fn a_full_queue_waits_for_the_writer_and_a_stopped_writer_frees_every_waiter() {
        let budget = Arc::new(QueueBudget::new(100));
        budget.acquire(80);
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.acquire(50))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "80 + 50 bytes do not fit in 100");
        budget.release(80);
        waiter.join().unwrap();
        assert_eq!(budget.bytes(), 50);
        // A writer that stopped releases nothing more: waiting would never end, so nobody waits.
        let stuck = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.acquire(90))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!stuck.is_finished());
        budget.close();
        stuck.join().unwrap();
    }

    #[test]
    fn bytes_that_are_no_ledger_are_refused_by_name() {
        let err = open_bytes("photo.png", b"\x89PNG not a database").unwrap_err();
        assert!(matches!(err, OpenError::NotSqlite { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "photo.png is not a DAIS ledger: it is not an SQLite database"
        );
        let mut other = Connection::open_in_memory().unwrap();
        other.execute_batch("CREATE TABLE t (x)").unwrap();
        let bytes = other.serialize(rusqlite::MAIN_DB).unwrap().to_vec();
        let err = open_bytes("other.sqlite", &bytes).unwrap_err();
        assert!(matches!(err, OpenError::LacksTables { .. }), "{err:?}");
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
            matches!(SqliteLedger::create(&path), Err(LedgerError::Exists(p)) if p == path),
            "an existing ledger is never overwritten"
        );
    }
}
