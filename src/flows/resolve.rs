//! The config-time pass over a flow file: the rows the run will read, their columns, bad cells, benign statistics,
//! digest and attack labels. The result goes into the config (`ResolvedFlows`, and one campaign per label).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::FlowError;
use super::csv_rows::{CsvRows, Row};
use super::read::{Layout, deal, not_numeric};
use crate::config::{
    CampaignConfig, CampaignKind, FlowSource, ResolvedFlows, SimConfig, TrafficSource,
};

/// What resolving found, for one line to the user.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowReport {
    pub path: String,
    pub rows: u64,
    pub columns: usize,
    /// Rows per label, benign first, then the attacks in order of first appearance.
    pub labels: Vec<(String, u64)>,
    pub infinite_cells: u64,
    pub nan_cells: u64,
    pub dropped_rows: u64,
}

impl std::fmt::Display for FlowReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        write!(
            f,
            "flows: {}: {} rows ({}), {} feature columns{}; {} Infinity and {} NaN cells, {} rows dropped",
            self.path,
            self.rows,
            labels.join(", "),
            self.columns,
            if self.columns == crate::config::FEATURE_COUNT {
                String::new()
            } else {
                format!(" folded into {}", crate::config::FEATURE_COUNT)
            },
            self.infinite_cells,
            self.nan_cells,
            self.dropped_rows,
        )
    }
}

/// Running mean and spread of one column over the benign rows (Welford), with its finite range.
#[derive(Clone, Copy, Debug)]
struct ColumnStats {
    count: f64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl ColumnStats {
    const EMPTY: Self = Self {
        count: 0.0,
        mean: 0.0,
        m2: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    fn add(&mut self, v: f64) {
        self.count += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (v - self.mean);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// The standard deviation, 1 for a constant column (which then standardises to 0).
    fn std(&self) -> f64 {
        let std = (self.m2 / self.count.max(1.0)).sqrt();
        if std > 0.0 { std } else { 1.0 }
    }
}

/// A label as a campaign name: lowercase letters, digits and `_` (`"DoS Hulk"` is `dos_hulk`).
fn campaign_name(label: &str, taken: &[CampaignConfig]) -> String {
    let mut name = String::new();
    for ch in label.chars() {
        if ch.is_ascii_alphanumeric() {
            name.push(ch.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('_') {
            name.push('_');
        }
    }
    let mut name = name.trim_end_matches('_').to_string();
    if name.is_empty() {
        name = "attack".into();
    }
    let stem = name.clone();
    let mut n = 2;
    while taken.iter().any(|c| c.name == name) {
        name = format!("{stem}_{n}");
        n += 1;
    }
    name
}

/// SHA-256 of the first `bytes` bytes of the file.
fn digest(path: &Path, bytes: u64) -> Result<String, FlowError> {
    let read_err = |source| {
        FlowError::Csv(super::CsvError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file.take(bytes), &mut hasher).map_err(read_err)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Reads the flow file of `config.traffic.source`, if it has one, and writes what it found into the config: the
/// resolved statistics and one campaign per attack label, replacing the configured campaigns. Always reads afresh
/// (the agents, steps or file may have changed since an earlier resolution).
pub fn resolve(config: &mut SimConfig) -> Result<Option<FlowReport>, FlowError> {
    let TrafficSource::Flows(source) = &config.traffic.source else {
        return Ok(None);
    };
    let source: FlowSource = (**source).clone();
    let path = Path::new(&source.path);
    let agents = config.simulation.agents.max(1);
    let block = (agents * config.simulation.samples_per_tick.max(1)) as u64;
    let wanted = u64::from(config.simulation.steps) * block;

    // Which columns are numbers is read off the first data row, which the pass below then starts from.
    let mut rows = CsvRows::open(path)?;
    let mut record = csv::ByteRecord::new();
    if !rows.read_into(&mut record)? {
        return Err(FlowError::NoRows {
            path: path.to_path_buf(),
        });
    }
    let numeric: Vec<bool> = (0..record.len())
        .map(|c| Row::of(&record).number(c).is_some())
        .collect();
    let layout = Layout::find(&rows, &source, &numeric)?;
    let mut stats = vec![ColumnStats::EMPTY; layout.features.len()];
    let mut benign_rows = 0u64;
    let mut campaigns: Vec<CampaignConfig> = Vec::new();
    let mut labels: Vec<(String, u64)> = Vec::new();
    let (mut infinite_cells, mut nan_cells, mut dropped_rows) = (0u64, 0u64, 0u64);
    let mut cells = Vec::new();
    let mut position = 0u64;
    let mut more = wanted > 0;
    while more {
        let row = Row::of(&record);
        let label = row.text(layout.label).to_string();
        let key = layout.key_of(&row);
        if let Err((column, value)) = layout.cells(&row, &mut cells) {
            return Err(not_numeric(&rows, row.line, column, value));
        }
        let infinite = cells.iter().filter(|v| v.is_infinite()).count() as u64;
        let nan = cells.iter().filter(|v| v.is_nan()).count() as u64;
        infinite_cells += infinite;
        nan_cells += nan;
        let whole = infinite + nan == 0;
        dropped_rows += u64::from(!whole && source.bad_cells == crate::config::BadCells::Drop);
        if label.eq_ignore_ascii_case(&source.benign) {
            benign_rows += 1;
            if whole {
                for (s, &v) in stats.iter_mut().zip(&cells) {
                    s.add(v);
                }
            }
        } else {
            match labels.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => {
                    let agent = deal(&source.assign, position % block, key, agents);
                    campaigns.push(CampaignConfig {
                        name: campaign_name(&label, &campaigns),
                        kind: CampaignKind::Recorded,
                        start_tick: (position / block) as u32 + 1,
                        origins: vec![agent],
                        intensity: 0.0,
                        spread_probability: 0.0,
                        ..CampaignConfig::default()
                    });
                    labels.push((label, 1));
                }
            }
        }
        position += 1;
        // Read no further than the run will: the digest covers exactly the bytes it reads.
        more = position < wanted && rows.read_into(&mut record)?;
    }
    if position == 0 {
        return Err(FlowError::NoRows {
            path: path.to_path_buf(),
        });
    }
    if benign_rows == 0 || stats[0].count == 0.0 {
        return Err(FlowError::NoBenign {
            path: path.to_path_buf(),
            rows: position,
            benign: source.benign.clone(),
        });
    }
    for (campaign, (_, n)) in campaigns.iter_mut().zip(&labels) {
        // The label's share of the rows the run reads: how much of the traffic it is.
        campaign.intensity = *n as f64 / position as f64;
    }
    let resolved = ResolvedFlows {
        sha256: digest(path, rows.bytes_read())?,
        rows: position,
        columns: layout
            .features
            .iter()
            .map(|&c| rows.header()[c].clone())
            .collect(),
        mean: stats.iter().map(|s| s.mean).collect(),
        std: stats.iter().map(ColumnStats::std).collect(),
        min: stats.iter().map(|s| s.min).collect(),
        max: stats.iter().map(|s| s.max).collect(),
        labels: labels.iter().map(|(l, _)| l.clone()).collect(),
        infinite_cells,
        nan_cells,
        dropped_rows,
    };
    let mut report_labels = vec![(source.benign.clone(), benign_rows)];
    report_labels.extend(labels);
    let report = FlowReport {
        path: source.path.clone(),
        rows: position,
        columns: resolved.columns.len(),
        labels: report_labels,
        infinite_cells,
        nan_cells,
        dropped_rows,
    };
    config.traffic.campaigns = campaigns;
    if let TrafficSource::Flows(source) = &mut config.traffic.source {
        source.resolved = Some(resolved);
    }
    Ok(Some(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_campaign_names() {
        assert_eq!(campaign_name("DoS Hulk", &[]), "dos_hulk");
        assert_eq!(
            campaign_name("Web Attack \u{fffd} Brute Force", &[]),
            "web_attack_brute_force"
        );
        assert_eq!(campaign_name("???", &[]), "attack");
        let taken = [CampaignConfig {
            name: "ddos".into(),
            ..CampaignConfig::default()
        }];
        assert_eq!(campaign_name("DDoS", &taken), "ddos_2");
    }
}
