//! `/healthz` and `/readyz`: whether the run advances and its ledger writes, from atomics the run loop sets after
//! each tick (wall-clock time is fine here: this is about the process, not the simulation).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// A run's health, shared by the run loop (which writes) and the HTTP thread (which reads).
#[derive(Debug)]
pub struct Health {
    started: Instant,
    /// Milliseconds from `started` to the end of the last tick (0: none yet).
    last_tick_ms: AtomicU64,
    tick: AtomicU32,
    ticks_per_second_bits: AtomicU64,
    ledger_failed: AtomicBool,
    ready: AtomicBool,
    /// No tick for this long is a stall (503).
    stall_after: Duration,
}

/// The body of `/healthz`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub status: &'static str,
    pub tick: u32,
    pub ticks_per_second: f64,
    pub ledger: &'static str,
    pub seconds_since_last_tick: f64,
}

impl Health {
    pub fn new(stall_after: Duration) -> Self {
        Health {
            started: Instant::now(),
            last_tick_ms: AtomicU64::new(0),
            tick: AtomicU32::new(0),
            ticks_per_second_bits: AtomicU64::new(0),
            ledger_failed: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            stall_after,
        }
    }

    /// The world is populated and the ledger open: `/readyz` says 200 from now on.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    pub fn ticked(&self, tick: u32, ticks_per_second: f64, ledger_failed: bool) {
        self.tick.store(tick, Ordering::Relaxed);
        self.ticks_per_second_bits
            .store(ticks_per_second.to_bits(), Ordering::Relaxed);
        self.ledger_failed.store(ledger_failed, Ordering::Relaxed);
        self.last_tick_ms.store(
            self.started.elapsed().as_millis().max(1) as u64,
            Ordering::Relaxed,
        );
    }

    /// The `/healthz` status code and body: 503 when the ledger failed or no tick completed for `stall_after`
    /// (counted from the start before the first tick).
    pub fn report(&self) -> (u16, HealthReport) {
        let last = Duration::from_millis(self.last_tick_ms.load(Ordering::Relaxed));
        let since = self.started.elapsed().saturating_sub(last);
        let ledger_failed = self.ledger_failed.load(Ordering::Relaxed);
        let stalled = since > self.stall_after;
        let status = if ledger_failed {
            "ledger failing"
        } else if stalled {
            "stalled"
        } else {
            "ok"
        };
        let report = HealthReport {
            status,
            tick: self.tick.load(Ordering::Relaxed),
            ticks_per_second: f64::from_bits(self.ticks_per_second_bits.load(Ordering::Relaxed)),
            ledger: if ledger_failed { "failing" } else { "ok" },
            seconds_since_last_tick: since.as_secs_f64(),
        };
        (if status == "ok" { 200 } else { 503 }, report)
    }

    /// The `/readyz` status code.
    pub fn readiness(&self) -> u16 {
        if self.ready.load(Ordering::Relaxed) {
            200
        } else {
            503
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_ok_while_ticking_and_503_when_stalled_or_the_ledger_fails() {
        let health = Health::new(Duration::from_millis(50));
        assert_eq!(health.readiness(), 503);
        health.set_ready();
        assert_eq!(health.readiness(), 200);
        health.ticked(3, 120.0, false);
        let (code, report) = health.report();
        assert_eq!((code, report.tick, report.ledger), (200, 3, "ok"));
        assert_eq!(report.ticks_per_second, 120.0);
        std::thread::sleep(Duration::from_millis(80));
        let (code, report) = health.report();
        assert_eq!((code, report.status), (503, "stalled"));
        health.ticked(4, 100.0, false);
        assert_eq!(health.report().0, 200);
        health.ticked(5, 100.0, true);
        let (code, report) = health.report();
        assert_eq!(
            (code, report.status, report.ledger),
            (503, "ledger failing", "failing")
        );
    }
}
