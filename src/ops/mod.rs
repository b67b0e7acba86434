//! Operations: what whoever runs DAIS for hours watches. A Prometheus endpoint with the run's metrics (`metrics`),
//! health and readiness (`health`), served by one small thread (`server`). The run loop only bumps atomics after
//! each tick; nothing here reads or locks the world.

pub mod health;
pub mod logs;
pub mod metrics;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;

use crate::config::SimConfig;
use crate::ledger::LedgerStats;
use crate::model::TickMetrics;
use health::Health;
use metrics::{RunMetrics, SweepMetrics};
use server::{MetricsAddr, MetricsServer, ServeError};

/// How long without a completed tick makes `/healthz` answer 503, unless `--stall-after` says otherwise.
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(60);

/// Serves a filled registry at `addr`, with a fresh health record beside it.
fn serve(
    addr: &MetricsAddr,
    registry: Registry,
    stall_after: Duration,
) -> Result<(Arc<Health>, MetricsServer), ServeError> {
    let health = Arc::new(Health::new(stall_after));
    let server = MetricsServer::start(addr, Arc::new(registry), health.clone())?;
    Ok((health, server))
}

/// A run's monitoring: its metrics, its health, and the endpoint serving both.
pub struct RunTelemetry {
    metrics: RunMetrics,
    pub health: Arc<Health>,
    server: MetricsServer,
    /// Ticks per second, smoothed: one tick's rate swings by 2x between scrapes.
    rate: std::sync::Mutex<TickRate>,
}

/// An exponentially weighted rate over about the last ten ticks (weight 0.1 for the newest).
#[derive(Debug, Default)]
struct TickRate {
    smoothed: Option<f64>,
}

impl TickRate {
    fn add(&mut self, seconds: f64) -> f64 {
        if seconds <= 0.0 {
            return self.smoothed.unwrap_or(0.0);
        }
        let now = 1.0 / seconds;
        let smoothed = self.smoothed.map_or(now, |before| 0.9 * before + 0.1 * now);
        self.smoothed = Some(smoothed);
        smoothed
    }
}

impl std::fmt::Debug for RunTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunTelemetry({})", self.server.local_addr)
    }
}

impl RunTelemetry {
    /// Registers the run's metrics and starts serving them at `addr`.
    pub fn start(
        addr: &MetricsAddr,
        config: &SimConfig,
        stall_after: Duration,
    ) -> Result<Self, ServeError> {
        let mut registry = Registry::default();
        let metrics = RunMetrics::register(&mut registry, config);
        let (health, server) = serve(addr, registry, stall_after)?;
        Ok(RunTelemetry {
            metrics,
            health,
            server,
            rate: Default::default(),
        })
    }

    /// Where the endpoint listens.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr
    }

    /// After a tick: its figures, how long it took, and the ledger's state.
    pub fn ticked(&self, metrics: &TickMetrics, seconds: f64, ledger: LedgerStats, failed: bool) {
        // The simulation knows of a failure even from a store that keeps no counts of its own.
        let ledger = LedgerStats {
            failures: ledger.failures.max(u64::from(failed)),
            ..ledger
        };
        let per_second = self.rate.lock().map_or(0.0, |mut rate| rate.add(seconds));
        self.metrics.observe(metrics, per_second, ledger);
        self.health.ticked(metrics.tick, per_second, failed);
    }
}

/// A sweep's monitoring.
pub struct SweepTelemetry {
    pub metrics: SweepMetrics,
    pub health: Arc<Health>,
    server: MetricsServer,
}

impl std::fmt::Debug for SweepTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SweepTelemetry({})", self.server.local_addr)
    }
}

impl SweepTelemetry {
    pub fn start(addr: &MetricsAddr, stall_after: Duration) -> Result<Self, ServeError> {
        let mut registry = Registry::default();
        let metrics = SweepMetrics::register(&mut registry);
        let (health, server) = serve(addr, registry, stall_after)?;
        health.set_ready();
        Ok(SweepTelemetry {
            metrics,
            health,
            server,
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr
    }
}

#[cfg(test)]
mod tests {
    use super::TickRate;

    #[test]
    fn the_tick_rate_is_smoothed_not_the_last_ticks() {
        let mut rate = TickRate::default();
        assert_eq!(rate.add(0.01), 100.0);
        // One slow tick moves it a tenth of the way, not to 50.
        assert!((rate.add(0.02) - 95.0).abs() < 1e-9);
        assert!(
            (rate.add(0.0) - 95.0).abs() < 1e-9,
            "a zero-length tick changes nothing"
        );
        for _ in 0..100 {
            rate.add(0.02);
        }
        assert!((rate.add(0.02) - 50.0).abs() < 0.01);
    }
}
