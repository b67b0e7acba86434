//! A ledger kept in plain Rust memory, for tests that want the tick records themselves. (The browser keeps its
//! recording in SQLite's in-memory database instead: `SqliteLedger::in_memory`, the same tables and chain as a
//! file.)

use std::sync::{Arc, Mutex};

use super::{LedgerError, LedgerSink, RunInfo, TickRecord};

/// Shares its records, so a test can keep a handle while the simulation owns the sink.
#[derive(Clone, Default)]
pub struct MemoryLedger {
    inner: Arc<Mutex<MemoryContents>>,
}

#[derive(Default, Clone)]
pub struct MemoryContents {
    pub run: Option<RunInfo>,
    pub ticks: Vec<TickRecord>,
}

impl MemoryLedger {
    pub fn contents(&self) -> MemoryContents {
        self.inner.lock().expect("ledger lock").clone()
    }
}

impl LedgerSink for MemoryLedger {
    fn begin(&mut self, run: &RunInfo) -> Result<(), LedgerError> {
        self.inner.lock().map_err(|_| LedgerError::Poisoned)?.run = Some(run.clone());
        Ok(())
    }
    fn append(&mut self, record: TickRecord) -> Result<(), LedgerError> {
        self.inner
            .lock()
            .map_err(|_| LedgerError::Poisoned)?
            .ticks
            .push(record);
        Ok(())
    }
}
