//! Run outputs a researcher can open anywhere: `metrics.csv` (one row per tick, one column per metric, streamed as
//! the run goes so an interrupted run keeps its rows) and `summary.json` (written atomically at the end).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::run::RunError;
use crate::config::SimConfig;
use crate::ledger::LedgerTotals;
use crate::sim::metrics::{RunTotals, TickMetrics};

/// One scalar column of `metrics.csv`: its name and how a tick's value is written.
type Column = (&'static str, fn(&TickMetrics) -> String);

fn ratio_text(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}

/// The scalar columns of `metrics.csv`, in order; per-campaign columns follow (see [`csv_header`]). The README's
/// "Metrics" section defines each one.
const SCALAR_COLUMNS: &[Column] = &[
    ("tick", |m| m.tick.to_string()),
    ("attack_samples", |m| m.attack_samples.to_string()),
    ("true_positive", |m| m.true_positive.to_string()),
    ("false_positive", |m| m.false_positive.to_string()),
    ("false_negative", |m| m.false_negative.to_string()),
    ("true_negative", |m| m.true_negative.to_string()),
    ("attack_blocked", |m| m.attack_blocked.to_string()),
    ("normal_blocked", |m| m.normal_blocked.to_string()),
    ("attack_through", |m| m.attack_through.to_string()),
    ("detection_precision", |m| ratio_text(m.detection_precision)),
    ("detection_recall", |m| ratio_text(m.detection_recall)),
    ("signatures_proposed", |m| m.signatures_proposed.to_string()),
    ("signatures_accepted_true", |m| {
        m.signatures_accepted_true.to_string()
    }),
    ("signatures_accepted_false", |m| {
        m.signatures_accepted_false.to_string()
    }),
    ("signatures_rejected", |m| m.signatures_rejected.to_string()),
    ("signatures_expired", |m| m.signatures_expired.to_string()),
    ("signatures_refused", |m| m.signatures_refused.to_string()),
    ("signatures_pending", |m| m.signatures_pending.to_string()),
    ("ballots_cast", |m| m.ballots_cast.to_string()),
    ("messages_sent", |m| m.messages_sent.to_string()),
    ("messages_announce", |m| m.messages_announce.to_string()),
    ("messages_ballot", |m| m.messages_ballot.to_string()),
    ("messages_decision", |m| m.messages_decision.to_string()),
    ("messages_lost", |m| m.messages_lost.to_string()),
    ("messages_in_flight", |m| m.messages_in_flight.to_string()),
    ("honest_live_agents", |m| m.honest_live_agents.to_string()),
    ("compromised_agents", |m| m.compromised_agents.to_string()),
    ("false_blacklist_agents", |m| {
        m.false_blacklist_agents.to_string()
    }),
];

/// The per-campaign column groups, in order: each is `<prefix>_<campaign name>` for every campaign.
const CAMPAIGN_COLUMNS: &[&str] = &[
    "immune_fraction",
    "reached_fraction",
    "blocked_fraction",
    "compromised",
    "immune_leaking",
];

/// The header row of `metrics.csv` for these campaigns.
pub fn csv_header(campaigns: &[String]) -> String {
    let mut columns: Vec<String> = SCALAR_COLUMNS.iter().map(|c| c.0.to_string()).collect();
    for prefix in CAMPAIGN_COLUMNS {
        columns.extend(campaigns.iter().map(|name| format!("{prefix}_{name}")));
    }
    columns.join(",")
}

pub fn csv_row(m: &TickMetrics) -> String {
    let mut values: Vec<String> = SCALAR_COLUMNS.iter().map(|c| (c.1)(m)).collect();
    values.extend(m.immune_fraction.iter().map(|v| format!("{v:.6}")));
    values.extend(m.reached_fraction.iter().map(|v| format!("{v:.6}")));
    values.extend(m.blocked_fraction.iter().map(|v| ratio_text(*v)));
    values.extend(m.compromised_by.iter().map(u64::to_string));
    values.extend(m.immune_leaking.iter().map(u64::to_string));
    values.join(",")
}

/// `metrics.csv`, written row by row.
pub struct MetricsCsv {
    path: PathBuf,
    writer: BufWriter<File>,
    rows_since_flush: usize,
}

impl MetricsCsv {
    pub fn create(path: &Path, campaigns: &[String]) -> Result<Self, RunError> {
        let err = |e: std::io::Error| RunError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let mut writer = BufWriter::new(File::create(path).map_err(err)?);
        writeln!(writer, "{}", csv_header(campaigns)).map_err(err)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            rows_since_flush: 0,
        })
    }

    pub fn append(&mut self, metrics: &TickMetrics) -> Result<(), RunError> {
        writeln!(self.writer, "{}", csv_row(metrics)).map_err(|e| self.error(e))?;
        self.rows_since_flush += 1;
        // Flushing every few dozen rows bounds what a hard crash can lose without a syscall per tick.
        if self.rows_since_flush >= 64 {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), RunError> {
        self.rows_since_flush = 0;
        self.writer.flush().map_err(|e| self.error(e))
    }

    fn error(&self, e: std::io::Error) -> RunError {
        RunError::Write {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }
}

/// One campaign's figures in `summary.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CampaignSummary {
    pub name: String,
    /// First tick at which `immunity.level` of honest live agents were immune to it; null if never.
    pub time_to_immunity: Option<u32>,
    /// Share of its samples at honest live agents that blacklists blocked, over the run.
    pub blocked_fraction: Option<f64>,
    /// The same share from its time to immunity on.
    pub blocked_fraction_after_immunity: Option<f64>,
    /// Agent-ticks of compromise by it from its time to immunity on (an honest agent with one of its samples
    /// past the blacklist in a tick counts once for that tick).
    pub compromised_agent_ticks_after_immunity: u64,
    /// Share of honest live agents immune to it at the last tick.
    pub final_immune_fraction: f64,
}

/// `summary.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub agents: usize,
    pub ticks: u32,
    pub steps: u32,
    pub seed: u64,
    pub consensus_rule: crate::config::ConsensusRule,
    pub topology: crate::config::Topology,
    pub byzantine_fraction: f64,
    pub byzantine_strategy: crate::config::ByzantineStrategy,
    pub crash_fraction: f64,
    pub config_hash: String,
    pub final_state_hash: String,
    /// The hash of the ledger's last row, when the run was recorded (`dais ledger verify --expect-head`).
    pub ledger_head_hash: Option<String>,
    pub detection_precision: Option<f64>,
    pub detection_recall: Option<f64>,
    /// Signature and message totals, as the ledger's closing row states them: `signatures_proposed`,
    /// `signatures_accepted_true`, `signatures_accepted_false`, `signatures_rejected`, `signatures_expired`,
    /// `signatures_refused`, `signatures_pending`, `ballots`, `decisions`.
    #[serde(flatten)]
    pub counts: LedgerTotals,
    /// Campaign name -> first tick of immunity (see `campaigns` for the rest), or null if never reached.
    pub time_to_immunity: serde_json::Map<String, serde_json::Value>,
    /// Per campaign, in config order.
    pub campaigns: Vec<CampaignSummary>,
    /// Attack samples the blacklists let through, flagged by the forest or not.
    pub attack_samples_through: u64,
    /// Of those, the ones the forest flagged.
    pub attack_samples_through_flagged: u64,
    pub messages: u64,
    pub messages_lost: u64,
    pub wall_seconds: f64,
    pub ticks_per_second: f64,
    pub threads: usize,
    pub interrupted: bool,
    /// The effective config that produced these numbers.
    pub config: serde_json::Value,
}

impl Summary {
    pub fn new(
        config: &SimConfig,
        totals: &RunTotals,
        last: Option<&TickMetrics>,
        hashes: (String, Option<String>),
        wall_seconds: f64,
        interrupted: bool,
        threads: usize,
    ) -> Self {
        let names: Vec<&String> = config.traffic.campaigns.iter().map(|c| &c.name).collect();
        let tti = |c: usize| totals.time_to_immunity.get(c).copied().flatten();
        let time_to_immunity = names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                (
                    name.to_string(),
                    tti(c).map_or(serde_json::Value::Null, Into::into),
                )
            })
            .collect();
        let campaigns = names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let figure = |v: &Vec<u64>| v.get(c).copied().unwrap_or(0);
                CampaignSummary {
                    name: name.to_string(),
                    time_to_immunity: tti(c),
                    blocked_fraction: totals.blocked_fraction(c),
                    blocked_fraction_after_immunity: totals.blocked_fraction_after_immunity(c),
                    compromised_agent_ticks_after_immunity: figure(
                        &totals.compromised_after_immunity,
                    ),
                    final_immune_fraction: last
                        .and_then(|m| m.immune_fraction.get(c).copied())
                        .unwrap_or(0.0),
                }
            })
            .collect();
        let (final_state_hash, ledger_head_hash) = hashes;
        Self {
            agents: config.simulation.agents,
            ticks: totals.ticks,
            steps: config.simulation.steps,
            seed: config.simulation.seed,
            consensus_rule: config.consensus.rule,
            topology: config.network.topology,
            byzantine_fraction: config.faults.byzantine_fraction,
            byzantine_strategy: config.faults.byzantine_strategy,
            crash_fraction: config.faults.crash_fraction,
            config_hash: config.hash_hex(),
            final_state_hash,
            ledger_head_hash,
            detection_precision: totals.detection_precision(),
            detection_recall: totals.detection_recall(),
            counts: totals.counts.clone(),
            time_to_immunity,
            campaigns,
            attack_samples_through: totals.attack_through,
            attack_samples_through_flagged: totals.attack_through_flagged,
            messages: totals.messages,
            messages_lost: totals.messages_lost,
            wall_seconds,
            ticks_per_second: if wall_seconds > 0.0 {
                f64::from(totals.ticks) / wall_seconds
            } else {
                0.0
            },
            threads,
            interrupted,
            config: serde_json::to_value(config).expect("SimConfig always serialises"),
        }
    }

    /// The human-readable table printed at the end of a run.
    pub fn table(&self) -> String {
        let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{:.1}%", 100.0 * x));
        let mut rows: Vec<(String, String)> = vec![
            ("agents".into(), self.agents.to_string()),
            (
                "ticks".into(),
                format!(
                    "{} of {}{}",
                    self.ticks,
                    self.steps,
                    if self.interrupted {
                        " (interrupted)"
                    } else {
                        ""
                    }
                ),
            ),
            ("seed".into(), self.seed.to_string()),
            ("detection precision".into(), pct(self.detection_precision)),
            ("detection recall".into(), pct(self.detection_recall)),
            (
                "signatures proposed".into(),
                self.counts.signatures_proposed.to_string(),
            ),
            (
                "accepted (true / false)".into(),
                format!(
                    "{} / {}",
                    self.counts.signatures_accepted_true, self.counts.signatures_accepted_false
                ),
            ),
            (
                "rejected / expired / refused".into(),
                format!(
                    "{} / {} / {}",
                    self.counts.signatures_rejected,
                    self.counts.signatures_expired,
                    self.counts.signatures_refused
                ),
            ),
            (
                "pending at the end".into(),
                self.counts.signatures_pending.to_string(),
            ),
        ];
        let level = self.config["immunity"]["level"].as_f64().unwrap_or(0.9);
        for campaign in &self.campaigns {
            let name = &campaign.name;
            let value = campaign
                .time_to_immunity
                .map_or("never".to_string(), |t| format!("tick {t}"));
            rows.push((format!("{:.0}% immune to {name}", 100.0 * level), value));
            rows.push((
                format!("  {name} samples blocked"),
                format!(
                    "{} over the run, {} after immunity",
                    pct(campaign.blocked_fraction),
                    pct(campaign.blocked_fraction_after_immunity)
                ),
            ));
        }
        rows.push((
            "attack samples past blacklists".into(),
            format!(
                "{} ({} flagged by the forest, {} missed)",
                self.attack_samples_through,
                self.attack_samples_through_flagged,
                self.attack_samples_through - self.attack_samples_through_flagged
            ),
        ));
        rows.push((
            "messages (lost)".into(),
            format!("{} ({})", self.messages, self.messages_lost),
        ));
        rows.push((
            "wall time".into(),
            format!(
                "{:.2} s, {:.1} ticks/s on {} threads",
                self.wall_seconds, self.ticks_per_second, self.threads
            ),
        ));
        rows.push(("final state hash".into(), self.final_state_hash.clone()));
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("  {k:<width$}  {v}\n"))
            .collect()
    }
}

/// Writes `summary.json` atomically (a temporary file renamed into place), so a reader never sees half of it.
pub fn write_summary(path: &Path, summary: &Summary) -> Result<(), RunError> {
    let err = |e: std::io::Error| RunError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(summary).expect("summary serialises");
    std::fs::write(&tmp, text + "\n").map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_rows_have_the_same_width() {
        let campaigns = vec!["port_scan".to_string(), "ddos".to_string()];
        let header = csv_header(&campaigns);
        assert!(header.contains("immune_fraction_port_scan,immune_fraction_ddos,reached_fraction_port_scan,reached_fraction_ddos,blocked_fraction_port_scan"));
        let m = TickMetrics {
            tick: 3,
            immune_fraction: vec![0.5, 0.0],
            reached_fraction: vec![1.0, 0.0],
            blocked_fraction: vec![Some(0.5), None],
            compromised_by: vec![2, 0],
            immune_leaking: vec![1, 0],
            ..Default::default()
        };
        assert_eq!(header.split(',').count(), csv_row(&m).split(',').count());
    }
}
