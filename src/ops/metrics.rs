//! The Prometheus metrics of a run or a sweep (prometheus-client). The run loop hands each tick's `TickMetrics` to
//! [`RunMetrics::observe`], which only bumps atomics; the HTTP thread encodes them on a scrape. Nothing here reads the
//! world, so a scrape never waits on a tick and a tick never waits on a scrape.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

use crate::config::SimConfig;
use crate::ledger::LedgerStats;
use crate::model::TickMetrics;

/// A float gauge (prometheus-client's default gauge is an integer).
type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Campaign {
    campaign: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    seed: String,
    config_hash: String,
    version: String,
}

/// One run's metrics, registered in a registry.
#[derive(Clone, Debug)]
pub struct RunMetrics {
    ticks: Counter,
    ticks_per_second: FloatGauge,
    samples: Family<Outcome, Counter>,
    signatures: Family<Outcome, Counter>,
    ballots: Counter,
    messages: Family<Kind, Counter>,
    messages_lost: Counter,
    messages_in_flight: Gauge,
    compromised_agents: Gauge,
    honest_live_agents: Gauge,
    immune_fraction: Family<Campaign, FloatGauge>,
    ledger_rows: Counter,
    ledger_queue: Gauge,
    ledger_queue_bytes: Gauge,
    ledger_failures: Counter,
    campaigns: Vec<String>,
    last_ledger: std::sync::Arc<std::sync::Mutex<LedgerStats>>,
}

/// The process's resident memory, read from /proc on each scrape.
#[derive(Debug)]
struct ProcessMemory;

impl Collector for ProcessMemory {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(bytes) = resident_bytes() else {
            return Ok(());
        };
        let gauge = ConstGauge::new(bytes as i64);
        let metric = encoder.encode_descriptor(
            "dais_process_resident_memory",
            "Resident set size of this process",
            Some(&Unit::Bytes),
            gauge.metric_type(),
        )?;
        gauge.encode(metric)
    }
}

/// The resident set in bytes (Linux `/proc/self/statm`); `None` elsewhere.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

impl RunMetrics {
    /// Registers a run's metrics (under `dais_`), its `dais_run_info` and the process's memory.
    pub fn register(registry: &mut Registry, config: &SimConfig) -> Self {
        let metrics = RunMetrics {
            ticks: Counter::default(),
            ticks_per_second: FloatGauge::default(),
            samples: Family::default(),
            signatures: Family::default(),
            ballots: Counter::default(),
            messages: Family::default(),
            messages_lost: Counter::default(),
            messages_in_flight: Gauge::default(),
            compromised_agents: Gauge::default(),
            honest_live_agents: Gauge::default(),
            immune_fraction: Family::default(),
            ledger_rows: Counter::default(),
            ledger_queue: Gauge::default(),
            ledger_queue_bytes: Gauge::default(),
            ledger_failures: Counter::default(),
            campaigns: config
                .traffic
                .campaigns
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            last_ledger: Default::default(),
        };
        let r = registry;
        r.register(
            "dais_ticks",
            "Simulation ticks completed",
            metrics.ticks.clone(),
        );
        r.register(
            "dais_ticks_per_second",
            "Ticks per second of wall time, smoothed over about the last ten ticks",
            metrics.ticks_per_second.clone(),
        );
        r.register(
            "dais_samples",
            "Traffic samples scored, by detection outcome against the ground truth (tp, fp, fn, tn)",
            metrics.samples.clone(),
        );
        r.register(
            "dais_signatures",
            "Signatures settled, by outcome (accepted_true, accepted_false: a forgery or false signature accepted, rejected, expired, refused)",
            metrics.signatures.clone(),
        );
        r.register("dais_ballots", "Ballots cast", metrics.ballots.clone());
        r.register(
            "dais_messages",
            "Gossip messages sent, by kind (announce, ballot, decision)",
            metrics.messages.clone(),
        );
        r.register(
            "dais_messages_lost",
            "Gossip messages lost on the wire",
            metrics.messages_lost.clone(),
        );
        r.register(
            "dais_messages_in_flight",
            "Gossip messages on the wire at the end of the last tick",
            metrics.messages_in_flight.clone(),
        );
        r.register(
            "dais_compromised_agents",
            "Honest live agents with an attack sample past their blacklist in the last tick",
            metrics.compromised_agents.clone(),
        );
        r.register(
            "dais_honest_live_agents",
            "Agents that are honest and not crashed",
            metrics.honest_live_agents.clone(),
        );
        r.register(
            "dais_immune_fraction",
            "Share of honest live agents immune to a campaign",
            metrics.immune_fraction.clone(),
        );
        r.register(
            "dais_ledger_rows",
            "Ledger rows written",
            metrics.ledger_rows.clone(),
        );
        r.register(
            "dais_ledger_queue_ticks",
            "Ticks waiting in the ledger writer's queue",
            metrics.ledger_queue.clone(),
        );
        r.register(
            "dais_ledger_queue_bytes",
            "Bytes of ticks waiting in the ledger writer's queue, which is bounded in bytes",
            metrics.ledger_queue_bytes.clone(),
        );
        r.register(
            "dais_ledger_write_failures",
            "Ledger writes that failed",
            metrics.ledger_failures.clone(),
        );
        // A gauge at 1 rather than OpenMetrics' `info` type: Prometheus' own text format (and promtool) has no
        // `info`, and `dais_run_info{...} 1` is the convention both read.
        let run_info = Family::<RunLabels, Gauge>::default();
        run_info
            .get_or_create(&RunLabels {
                seed: config.simulation.seed.to_string(),
                config_hash: config.hash_hex(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        r.register(
            "dais_run_info",
            "The run being simulated: its seed, config hash and DAIS version",
            run_info,
        );
        r.register_collector(Box::new(ProcessMemory));
        // Every series exists from the first scrape (at zero), so `increase()` and absent-series alerts see it.
        for campaign in &metrics.campaigns {
            metrics
                .immune_fraction
                .get_or_create(&Campaign {
                    campaign: campaign.clone(),
                })
                .set(0.0);
        }
        metrics.add(&TickMetrics::default(), LedgerStats::default());
        metrics
    }

    /// Adds one tick's figures, with the run's current rate.
    pub fn observe(&self, m: &TickMetrics, ticks_per_second: f64, ledger: LedgerStats) {
        self.ticks.inc();
        self.ticks_per_second.set(ticks_per_second);
        self.add(m, ledger);
    }

    /// Adds a tick's counts and sets its levels.
    fn add(&self, m: &TickMetrics, ledger: LedgerStats) {
        let count = |family: &Family<Outcome, Counter>, outcome: &'static str, n: u64| {
            family.get_or_create(&Outcome { outcome }).inc_by(n);
        };
        count(&self.samples, "tp", m.true_positive);
        count(&self.samples, "fp", m.false_positive);
        count(&self.samples, "fn", m.false_negative);
        count(&self.samples, "tn", m.true_negative);
        count(
            &self.signatures,
            "accepted_true",
            m.signatures_accepted_true,
        );
        count(
            &self.signatures,
            "accepted_false",
            m.signatures_accepted_false,
        );
        count(&self.signatures, "rejected", m.signatures_rejected);
        count(&self.signatures, "expired", m.signatures_expired);
        count(&self.signatures, "refused", m.signatures_refused);
        self.ballots.inc_by(m.ballots_cast);
        for (kind, n) in [
            ("announce", m.messages_announce),
            ("ballot", m.messages_ballot),
            ("decision", m.messages_decision),
        ] {
            self.messages.get_or_create(&Kind { kind }).inc_by(n);
        }
        self.messages_lost.inc_by(m.messages_lost);
        self.messages_in_flight.set(m.messages_in_flight as i64);
        self.compromised_agents.set(m.compromised_agents as i64);
        self.honest_live_agents.set(m.honest_live_agents as i64);
        for (campaign, fraction) in self.campaigns.iter().zip(&m.immune_fraction) {
            self.immune_fraction
                .get_or_create(&Campaign {
                    campaign: campaign.clone(),
                })
                .set(*fraction);
        }
        let mut last = self.last_ledger.lock().expect("not poisoned");
        self.ledger_rows
            .inc_by(ledger.rows_written.saturating_sub(last.rows_written));
        self.ledger_failures
            .inc_by(ledger.failures.saturating_sub(last.failures));
        self.ledger_queue.set(ledger.queued_ticks as i64);
        self.ledger_queue_bytes.set(ledger.queued_bytes as i64);
        *last = ledger;
    }
}

/// A sweep's metrics: runs by state, and each job slot's current run's ticks.
#[derive(Clone, Debug, Default)]
pub struct SweepMetrics {
    runs: Family<Outcome, Counter>,
    runs_planned: Gauge,
    current_ticks: Family<Slot, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Slot {
    job: String,
}

impl SweepMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = SweepMetrics::default();
        registry.register(
            "dais_sweep_runs",
            "Runs of the sweep, by outcome: done or failed in this process, skipped (already in the runs file from an earlier invocation)",
            metrics.runs.clone(),
        );
        registry.register(
            "dais_sweep_runs_planned",
            "Runs of the sweep this process is given (its shard, or all): done, failed and skipped add up to it",
            metrics.runs_planned.clone(),
        );
        registry.register(
            "dais_sweep_current_run_ticks",
            "Ticks done by the run each job slot is running",
            metrics.current_ticks.clone(),
        );
        registry.register_collector(Box::new(ProcessMemory));
        for outcome in ["done", "failed", "skipped"] {
            metrics.runs.get_or_create(&Outcome { outcome }).inc_by(0);
        }
        metrics
    }

    /// The runs this process is given, and how many of them an earlier invocation already did.
    pub fn planned(&self, runs: usize, skipped: usize) {
        self.runs_planned.set(runs as i64);
        self.runs
            .get_or_create(&Outcome { outcome: "skipped" })
            .inc_by(skipped as u64);
    }

    pub fn finished(&self, ok: bool) {
        let outcome = if ok { "done" } else { "failed" };
        self.runs.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn tick(&self, job: usize, tick: u32) {
        self.current_ticks
            .get_or_create(&Slot {
                job: job.to_string(),
            })
            .set(i64::from(tick));
    }
}

/// The registry in the OpenMetrics text format (what Prometheus asks for first).
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).expect("writing to a String");
    text
}

/// The same exposition in Prometheus' classic text format (0.0.4), for clients that do not ask for OpenMetrics
/// (`curl`, `promtool check metrics`). The two differ, for what DAIS exports, only in that a counter's HELP and
/// TYPE name it with its `_total` suffix, and that there are no UNIT lines and no `# EOF`.
pub fn to_classic_text(openmetrics: &str) -> String {
    let mut text = String::with_capacity(openmetrics.len());
    let mut pending_help: Option<&str> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            // Wait for the TYPE line: it says whether the name needs `_total`.
            pending_help = Some(rest);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let name = if kind == "counter" && !name.ends_with("_total") {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            if let Some(help) = pending_help.take() {
                let help = help.split_once(' ').map_or("", |(_, h)| h);
                text.push_str(&format!("# HELP {name} {help}\n"));
            }
            text.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_format_names_counters_with_their_total_suffix() {
        let openmetrics = "# HELP dais_ticks Simulation ticks completed.\n# TYPE dais_ticks counter\n\
                           dais_ticks_total 3\n# HELP dais_resident Bytes.\n# TYPE dais_resident_bytes gauge\n\
                           # UNIT dais_resident_bytes bytes\ndais_resident_bytes 7\n# EOF\n";
        assert_eq!(
            to_classic_text(openmetrics),
            "# HELP dais_ticks_total Simulation ticks completed.\n# TYPE dais_ticks_total counter\n\
             dais_ticks_total 3\n# HELP dais_resident_bytes Bytes.\n# TYPE dais_resident_bytes gauge\n\
             dais_resident_bytes 7\n"
        );
    }

    #[test]
    fn every_series_is_there_from_the_first_scrape() {
        let mut registry = Registry::default();
        let metrics = RunMetrics::register(&mut registry, &SimConfig::default());
        let text = encode(&registry);
        assert!(
            text.contains("dais_signatures_total{outcome=\"accepted_false\"} 0"),
            "{text}"
        );
        assert!(text.contains("dais_ticks_total 0"), "{text}");
        let mut tick = TickMetrics {
            tick: 1,
            true_positive: 4,
            signatures_accepted_false: 2,
            ..Default::default()
        };
        tick.immune_fraction = vec![0.25];
        metrics.observe(
            &tick,
            100.0,
            LedgerStats {
                rows_written: 10,
                queued_ticks: 2,
                queued_bytes: 4096,
                failures: 0,
            },
        );
        metrics.observe(
            &tick,
            50.0,
            LedgerStats {
                rows_written: 25,
                queued_ticks: 1,
                queued_bytes: 2048,
                failures: 0,
            },
        );
        let text = encode(&registry);
        for expected in [
            "dais_ticks_total 2",
            "dais_samples_total{outcome=\"tp\"} 8",
            "dais_signatures_total{outcome=\"accepted_false\"} 4",
            "dais_ledger_rows_total 25",
            "dais_ledger_queue_ticks 1",
            "dais_ledger_queue_bytes 2048",
            "dais_ticks_per_second 50.0",
            "dais_immune_fraction{campaign=\"port_scan\"} 0.25",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }
}
