//! Run outputs a researcher can open anywhere: `metrics.csv` (one row per tick, one column per metric, streamed as
//! the run goes so an interrupted run keeps its rows) and `summary.json` (written atomically at the end).

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::run::RunError;
use crate::config::SimConfig;
use crate::ledger::LedgerTotals;
use crate::model::TickMetrics;
use crate::sim::metrics::RunTotals;

/// `metrics.csv`, written row by row through the `csv` crate. The columns come from [`TickMetrics`]' own
/// declaration; the README's "Metrics" section defines each one.
pub struct MetricsCsv {
    path: PathBuf,
    writer: csv::Writer<File>,
    rows_since_flush: usize,
}

impl MetricsCsv {
    pub fn create(path: &Path, campaigns: &[String]) -> Result<Self, RunError> {
        let err = |source: std::io::Error| RunError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = csv::Writer::from_writer(File::create(path).map_err(err)?);
        writer
            .write_record(TickMetrics::column_names(campaigns))
            .map_err(|e| err(e.into()))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            rows_since_flush: 0,
        })
    }

    pub fn append(&mut self, metrics: &TickMetrics) -> Result<(), RunError> {
        self.writer
            .write_record(metrics.cells())
            .map_err(|e| self.error(e.into()))?;
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

    fn error(&self, source: std::io::Error) -> RunError {
        RunError::Write {
            path: self.path.clone(),
            source,
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
    /// First tick a forest of an honest live agent flagged one of its samples; null if none ever did.
    pub time_to_first_detection: Option<u32>,
    /// Ticks from its start until an honest agent's blacklist first blocked it, median and 90th percentile over
    /// every honest agent; an agent that never got there counts as later than all, so either is null once more
    /// than half (or a tenth) of them never did.
    pub time_to_blacklist_median: Option<u32>,
    pub time_to_blacklist_p90: Option<u32>,
    /// Honest agents that never blacklisted it.
    pub agents_never_blacklisted: usize,
    /// The configured campaign, then each mutation of an evasive one: the tick it began, and the first tick
    /// `immunity.level` of honest live agents were immune to it (re-immunity, after a mutation).
    pub variants: Vec<crate::sim::metrics::VariantImmunity>,
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
    /// The harmonic mean of the two over the run.
    pub detection_f1: Option<f64>,
    /// Normal samples at honest live agents flagged or blocked, over all of them, over the run.
    pub false_positive_rate: Option<f64>,
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
    /// What consensus costs, per proposed signature (null when none was proposed): ballots cast, ballot hops (with
    /// Snowball's queries and answers), and every hop (announcements and decisions too).
    pub ballots_per_signature: Option<f64>,
    pub ballot_messages_per_signature: Option<f64>,
    pub messages_per_signature: Option<f64>,
    /// Every hop sent over the run per accepted signature; null when none was accepted.
    pub messages_per_accepted_signature: Option<f64>,
    /// Share of honest live agents with a signature of normal traffic in their blacklist: at the last tick, and
    /// the most at any tick.
    pub false_blacklist_share: Option<f64>,
    pub false_blacklist_share_max: f64,
    /// Mean trust of honest agents minus that of Byzantine agents at the last tick; null without both.
    pub trust_gap: Option<f64>,
    /// First tick at which every Byzantine agent's trust was below `consensus.reputation_threshold`; null if
    /// never (or there are none).
    pub time_to_demote: Option<u32>,
    pub wall_seconds: f64,
    pub ticks_per_second: f64,
    pub threads: usize,
    pub interrupted: bool,
    /// The effective config that produced these numbers.
    pub config: serde_json::Value,
}

/// "1 thread", "2 threads": how the run summary names its worker threads.
pub fn thread_count(threads: usize) -> String {
    let plural = if threads == 1 { "" } else { "s" };
    format!("{threads} thread{plural}")
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
        let honest_agents = config.population() - crate::sim::faults::adversary_count(config);
        let campaigns = names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let figure = |v: &Vec<u64>| v.get(c).copied().unwrap_or(0);
                let start = config.traffic.campaigns[c].start_tick;
                let (times, never) = totals.times_to_blacklist(c, start, honest_agents);
                // The q-quantile over every honest agent, the ones that never got there last.
                let quantile = |q: f64| {
                    let rank = ((q * honest_agents as f64).ceil() as usize).max(1);
                    times.get(rank - 1).copied()
                };
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
                    time_to_first_detection: totals.first_detection.get(c).copied().flatten(),
                    time_to_blacklist_median: quantile(0.5),
                    time_to_blacklist_p90: quantile(0.9),
                    agents_never_blacklisted: never,
                    variants: totals.variant_immunity.get(c).cloned().unwrap_or_default(),
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
            detection_f1: totals.detection_f1(),
            false_positive_rate: totals.false_positive_rate(),
            counts: totals.counts.clone(),
            time_to_immunity,
            campaigns,
            attack_samples_through: totals.attack_through,
            attack_samples_through_flagged: totals.attack_through_flagged,
            messages: totals.messages,
            messages_lost: totals.messages_lost,
            ballots_per_signature: totals.per_signature(totals.counts.ballots),
            ballot_messages_per_signature: totals.per_signature(totals.messages_by_kind[1]),
            messages_per_signature: totals.per_signature(totals.messages),
            messages_per_accepted_signature: totals.messages_per_accepted_signature(),
            false_blacklist_share: last.and_then(|m| m.false_blacklist_share),
            false_blacklist_share_max: totals.false_blacklist_share_max,
            trust_gap: last.and_then(|m| m.trust_gap),
            time_to_demote: totals.time_to_demote,
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
            ("detection F1".into(), pct(self.detection_f1)),
            ("false-positive rate".into(), pct(self.false_positive_rate)),
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
            let ticks = |t: Option<u32>| t.map_or("n/a".to_string(), |t| format!("{t}"));
            rows.push((
                format!("  {name} first detected"),
                campaign
                    .time_to_first_detection
                    .map_or("never".to_string(), |t| format!("tick {t}")),
            ));
            rows.push((
                format!("  {name} blacklisted after"),
                format!(
                    "{} ticks median, {} p90 ({} agents never)",
                    ticks(campaign.time_to_blacklist_median),
                    ticks(campaign.time_to_blacklist_p90),
                    campaign.agents_never_blacklisted
                ),
            ));
            if campaign.variants.len() > 1 {
                let variants: Vec<String> = campaign
                    .variants
                    .iter()
                    .map(|v| match v.immune_at {
                        Some(at) => format!("from {}: tick {at}", v.started),
                        None => format!("from {}: never", v.started),
                    })
                    .collect();
                rows.push((format!("  {name} variants"), variants.join("; ")));
            }
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
                "{:.2} s, {:.1} ticks/s on {}",
                self.wall_seconds,
                self.ticks_per_second,
                thread_count(self.threads)
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
    let err = |source: std::io::Error| RunError::Write {
        path: path.to_path_buf(),
        source,
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
    fn the_readme_defines_every_summary_key() {
        let config = SimConfig::default();
        let totals = RunTotals::default();
        let summary = Summary::new(&config, &totals, None, (String::new(), None), 1.0, false, 1);
        let readme = include_str!("../../README.md");
        let keys = serde_json::to_value(&summary).unwrap();
        for key in keys.as_object().unwrap().keys() {
            assert!(
                readme.contains(&format!("`{key}`")),
                "README's Metrics section does not define summary key `{key}`"
            );
        }
    }
}
