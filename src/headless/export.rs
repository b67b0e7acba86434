//! Run outputs a researcher can open anywhere: `metrics.csv` (one row per tick, one column per metric, streamed as
//! the run goes so an interrupted run keeps its rows) and `summary.json` (written atomically at the end).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::run::RunError;
use crate::config::SimConfig;
use crate::sim::metrics::{RunTotals, TickMetrics};

/// The scalar columns of `metrics.csv`, in order; per-campaign columns follow.
const SCALAR_COLUMNS: &[&str] = &[
    "tick",
    "attack_samples",
    "true_positive",
    "false_positive",
    "false_negative",
    "true_negative",
    "attack_blocked",
    "normal_blocked",
    "attack_through",
    "detection_precision",
    "detection_recall",
    "signatures_proposed",
    "signatures_accepted_true",
    "signatures_accepted_false",
    "signatures_rejected",
    "signatures_expired",
    "ballots_cast",
    "messages_sent",
    "messages_announce",
    "messages_ballot",
    "messages_decision",
    "messages_lost",
    "messages_in_flight",
    "honest_live_agents",
    "compromised_agents",
    "false_blacklist_agents",
];

fn scalar_values(m: &TickMetrics) -> [String; 26] {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    [
        m.tick.to_string(),
        m.attack_samples.to_string(),
        m.true_positive.to_string(),
        m.false_positive.to_string(),
        m.false_negative.to_string(),
        m.true_negative.to_string(),
        m.attack_blocked.to_string(),
        m.normal_blocked.to_string(),
        m.attack_through.to_string(),
        opt(m.detection_precision),
        opt(m.detection_recall),
        m.signatures_proposed.to_string(),
        m.signatures_accepted_true.to_string(),
        m.signatures_accepted_false.to_string(),
        m.signatures_rejected.to_string(),
        m.signatures_expired.to_string(),
        m.ballots_cast.to_string(),
        m.messages_sent.to_string(),
        m.messages_announce.to_string(),
        m.messages_ballot.to_string(),
        m.messages_decision.to_string(),
        m.messages_lost.to_string(),
        m.messages_in_flight.to_string(),
        m.honest_live_agents.to_string(),
        m.compromised_agents.to_string(),
        m.false_blacklist_agents.to_string(),
    ]
}

/// Column-safe form of a campaign name.
fn column_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The header row of `metrics.csv` for these campaigns.
pub fn csv_header(campaigns: &[String]) -> String {
    let mut columns: Vec<String> = SCALAR_COLUMNS.iter().map(|s| s.to_string()).collect();
    for name in campaigns {
        columns.push(format!("immune_fraction_{}", column_name(name)));
    }
    for name in campaigns {
        columns.push(format!("reached_fraction_{}", column_name(name)));
    }
    columns.join(",")
}

pub fn csv_row(m: &TickMetrics) -> String {
    let mut values: Vec<String> = scalar_values(m).into();
    values.extend(m.immune_fraction.iter().map(|v| format!("{v:.6}")));
    values.extend(m.reached_fraction.iter().map(|v| format!("{v:.6}")));
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

/// `summary.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub agents: usize,
    pub ticks: u32,
    pub steps: u32,
    pub seed: u64,
    pub config_hash: String,
    pub final_state_hash: String,
    pub detection_precision: Option<f64>,
    pub detection_recall: Option<f64>,
    pub signatures_proposed: u64,
    pub signatures_accepted_true: u64,
    pub signatures_accepted_false: u64,
    pub signatures_rejected: u64,
    pub signatures_expired: u64,
    /// Campaign name -> first tick of 90% immunity, or null if never reached.
    pub time_to_immunity: serde_json::Map<String, serde_json::Value>,
    pub attack_samples_through: u64,
    pub messages: u64,
    pub messages_lost: u64,
    pub wall_seconds: f64,
    pub ticks_per_second: f64,
    pub threads: usize,
    pub interrupted: bool,
}

impl Summary {
    pub fn new(
        config: &SimConfig,
        totals: &RunTotals,
        final_state_hash: String,
        wall_seconds: f64,
        interrupted: bool,
        threads: usize,
        campaigns: &[String],
    ) -> Self {
        let time_to_immunity = campaigns
            .iter()
            .enumerate()
            .map(|(c, name)| {
                (
                    name.clone(),
                    totals
                        .time_to_immunity
                        .get(c)
                        .copied()
                        .flatten()
                        .map_or(serde_json::Value::Null, Into::into),
                )
            })
            .collect();
        Self {
            agents: config.simulation.agents,
            ticks: totals.ticks,
            steps: config.simulation.steps,
            seed: config.simulation.seed,
            config_hash: config.hash_hex(),
            final_state_hash,
            detection_precision: totals.detection_precision(),
            detection_recall: totals.detection_recall(),
            signatures_proposed: totals.signatures_proposed,
            signatures_accepted_true: totals.signatures_accepted_true,
            signatures_accepted_false: totals.signatures_accepted_false,
            signatures_rejected: totals.signatures_rejected,
            signatures_expired: totals.signatures_expired,
            time_to_immunity,
            attack_samples_through: totals.attack_through,
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
                self.signatures_proposed.to_string(),
            ),
            (
                "accepted (true / false)".into(),
                format!(
                    "{} / {}",
                    self.signatures_accepted_true, self.signatures_accepted_false
                ),
            ),
            (
                "rejected / expired".into(),
                format!("{} / {}", self.signatures_rejected, self.signatures_expired),
            ),
        ];
        for (name, tick) in &self.time_to_immunity {
            let value = tick
                .as_u64()
                .map_or("never".to_string(), |t| format!("tick {t}"));
            rows.push((format!("90% immune to {name}"), value));
        }
        rows.push((
            "attack samples through".into(),
            self.attack_samples_through.to_string(),
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
        let campaigns = vec!["Port Scan".to_string(), "ddos".to_string()];
        let header = csv_header(&campaigns);
        assert!(header.ends_with("immune_fraction_port_scan,immune_fraction_ddos,reached_fraction_port_scan,reached_fraction_ddos"));
        let m = TickMetrics {
            tick: 3,
            immune_fraction: vec![0.5, 0.0],
            reached_fraction: vec![1.0, 0.0],
            ..Default::default()
        };
        assert_eq!(header.split(',').count(), csv_row(&m).split(',').count());
    }
}
