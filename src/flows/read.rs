//! The run's pass over a flow file: each row becomes a labelled sample (standardised on the benign rows, projected
//! to the simulation's features) and the key its agent is dealt by.

use std::path::Path;

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::FlowError;
use super::csv_rows::{CsvRows, Row};
use crate::config::{BadCells, FEATURE_COUNT, FlowAssign, FlowSource, ResolvedFlows};
use crate::model::{Features, Label, NORMAL};

/// Where the columns a run reads are.
#[derive(Clone, Debug)]
pub(super) struct Layout {
    pub features: Vec<usize>,
    pub label: usize,
    pub key: Option<usize>,
}

fn missing(rows: &CsvRows, what: &'static str, column: &str) -> FlowError {
    FlowError::MissingColumn {
        path: rows.path().to_path_buf(),
        what,
        column: column.to_string(),
        columns: rows.header().join(", "),
    }
}

impl Layout {
    /// The label and key columns by name, and the feature columns: the named ones, or (none named) every column
    /// other than the label that is `numeric` (in the first data row). Non-numeric columns (IPs, timestamps, flow
    /// ids) are not features, but can still be the key.
    pub fn find(rows: &CsvRows, source: &FlowSource, numeric: &[bool]) -> Result<Self, FlowError> {
        let label = rows
            .column(&source.label)
            .ok_or_else(|| missing(rows, "label", &source.label))?;
        let key = match &source.assign {
            FlowAssign::RoundRobin => None,
            FlowAssign::Hash(name) => Some(
                rows.column(name)
                    .ok_or_else(|| missing(rows, "key", name))?,
            ),
        };
        let features: Vec<usize> = if source.features.is_empty() {
            (0..rows.header().len())
                .filter(|&c| c != label && numeric[c])
                .collect()
        } else {
            source
                .features
                .iter()
                .map(|name| {
                    rows.column(name)
                        .ok_or_else(|| missing(rows, "feature", name))
                })
                .collect::<Result<_, _>>()?
        };
        if features.is_empty() {
            return Err(FlowError::NoFeatures {
                path: rows.path().to_path_buf(),
            });
        }
        Ok(Self {
            features,
            label,
            key,
        })
    }

    /// The row's feature cells as numbers (`Infinity` and `NaN` included) into `out`; the column and text of the
    /// first cell that is not a number.
    pub fn cells(&self, row: &Row, out: &mut Vec<f64>) -> Result<(), (usize, String)> {
        out.clear();
        for &c in &self.features {
            match row.number(c) {
                Some(v) => out.push(v),
                None => return Err((c, row.text(c).to_string())),
            }
        }
        Ok(())
    }

    /// The hash of the row's key cell (0 when dealing round robin): FNV-1a, the same on every machine.
    pub fn key_of(&self, row: &Row) -> u64 {
        let Some(c) = self.key else { return 0 };
        row.fields[c].iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

/// A feature cell that is not a number, named by file, line and column.
pub(super) fn not_numeric(rows: &CsvRows, line: u64, column: usize, value: String) -> FlowError {
    FlowError::NotNumeric {
        path: rows.path().to_path_buf(),
        line,
        column: rows.header()[column].clone(),
        value,
    }
}

/// The agent that sees the row at `position` of its tick's block, with key hash `key`.
pub fn deal(assign: &FlowAssign, position: u64, key: u64, agents: usize) -> usize {
    match assign {
        FlowAssign::RoundRobin => (position % agents as u64) as usize,
        FlowAssign::Hash(_) => (key % agents as u64) as usize,
    }
}

/// Standardised columns to the simulation's features: as they are when there are exactly `FEATURE_COUNT`,
/// otherwise through a fixed Gaussian random projection scaled by 1/sqrt(columns), so each feature keeps about unit
/// variance on benign traffic. Weights are stored column by column, so a row is folded as its cells are parsed.
#[derive(Clone, Debug)]
struct Projection {
    weights: Option<Vec<[f64; FEATURE_COUNT]>>,
}

/// The projection's seed: fixed, so a file is always folded the same way.
const PROJECTION_SEED: u64 = 0x464c_4f57_5331;

impl Projection {
    fn new(columns: usize) -> Self {
        if columns == FEATURE_COUNT {
            return Self { weights: None };
        }
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(PROJECTION_SEED);
        let scale = 1.0 / (columns as f64).sqrt();
        let weights = (0..columns)
            .map(|_| {
                std::array::from_fn(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    z * scale
                })
            })
            .collect();
        Self {
            weights: Some(weights),
        }
    }

    /// Adds standardised column `j`'s value `z` to the folded row.
    fn add(&self, folded: &mut [f64; FEATURE_COUNT], j: usize, z: f64) {
        match &self.weights {
            None => folded[j] = z,
            Some(w) => {
                for (out, weight) in folded.iter_mut().zip(&w[j]) {
                    *out += weight * z;
                }
            }
        }
    }

    #[cfg(test)]
    fn apply(&self, z: &[f64]) -> Features {
        let mut folded = [0.0; FEATURE_COUNT];
        for (j, &v) in z.iter().enumerate() {
            self.add(&mut folded, j, v);
        }
        folded.map(|v| v as f32)
    }
}

/// One row as the simulation sees it: its sample (`None` when a bad cell dropped it), its ground-truth label and
/// the key it is dealt by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowRow {
    pub features: Option<Features>,
    pub label: Label,
    pub key: u64,
}

/// Reads a resolved flow file's rows in order, at most the resolved count. [`FlowReader::next_row`] reads and
/// converts one row; a caller with threads to spare reads a block with [`FlowReader::read_records`] and converts
/// its records in parallel with [`FlowReader::convert`], which only reads the reader.
pub struct FlowReader {
    rows: CsvRows,
    layout: Layout,
    resolved: ResolvedFlows,
    bad_cells: BadCells,
    benign: String,
    projection: Projection,
    remaining: u64,
    record: csv::ByteRecord,
}

impl FlowReader {
    pub fn open(source: &FlowSource) -> Result<Self, FlowError> {
        let path = Path::new(&source.path);
        let resolved = source
            .resolved
            .clone()
            .ok_or_else(|| FlowError::Unresolved {
                path: path.to_path_buf(),
            })?;
        let rows = CsvRows::open(path)?;
        // The columns the config pass chose, found again by name (the numeric test is not needed for named ones).
        let named = FlowSource {
            features: resolved.columns.clone(),
            ..source.clone()
        };
        let layout = Layout::find(&rows, &named, &[])?;
        Ok(Self {
            projection: Projection::new(layout.features.len()),
            layout,
            remaining: resolved.rows,
            resolved,
            rows,
            bad_cells: source.bad_cells,
            benign: source.benign.clone(),
            record: csv::ByteRecord::new(),
        })
    }

    /// The next row, or `None` once the run's rows are read.
    pub fn next_row(&mut self) -> Result<Option<FlowRow>, FlowError> {
        let mut record = std::mem::take(&mut self.record);
        let got = self.read_records(std::slice::from_mut(&mut record));
        self.record = record;
        if got? == 0 {
            return Ok(None);
        }
        self.convert(&self.record).map(Some)
    }

    /// Reads up to `records.len()` of the run's rows into `records` (reusing their buffers); how many it read.
    pub fn read_records(&mut self, records: &mut [csv::ByteRecord]) -> Result<usize, FlowError> {
        let mut read = 0;
        for record in records.iter_mut() {
            if self.remaining == 0 || !self.rows.read_into(record)? {
                self.remaining = 0;
                break;
            }
            self.remaining -= 1;
            read += 1;
        }
        Ok(read)
    }

    /// One record as the simulation sees it: its label, its key, and its cells parsed, cleaned of `Infinity` and
    /// `NaN` as configured, standardised and folded into the simulation's features as they are parsed.
    pub fn convert(&self, record: &csv::ByteRecord) -> Result<FlowRow, FlowError> {
        let row = Row::of(record);
        let resolved = &self.resolved;
        let text = row.text(self.layout.label);
        let label = if text.eq_ignore_ascii_case(&self.benign) {
            NORMAL
        } else {
            match resolved.labels.iter().position(|l| l == text) {
                Some(c) => c as Label + 1,
                None => {
                    return Err(FlowError::Changed {
                        path: self.rows.path().to_path_buf(),
                        line: row.line,
                        label: text.to_string(),
                        sha256: resolved.sha256.clone(),
                    });
                }
            }
        };
        let key = self.layout.key_of(&row);
        let mut folded = [0.0f64; FEATURE_COUNT];
        let mut whole = true;
        for (j, &c) in self.layout.features.iter().enumerate() {
            let Some(mut v) = row.number(c) else {
                return Err(not_numeric(
                    &self.rows,
                    row.line,
                    c,
                    row.text(c).to_string(),
                ));
            };
            if !v.is_finite() {
                whole = false;
                v = if v.is_nan() {
                    resolved.mean[j]
                } else if v > 0.0 {
                    resolved.max[j]
                } else {
                    resolved.min[j]
                };
            }
            self.projection
                .add(&mut folded, j, (v - resolved.mean[j]) / resolved.std[j]);
        }
        let features =
            (whole || self.bad_cells == BadCells::Clamp).then(|| folded.map(|v| v as f32));
        Ok(FlowRow {
            features,
            label,
            key,
        })
    }
}

/// Each attack label's first `per_label` whole rows, as samples: the probes "immune" is measured on, so immunity to
/// a recorded campaign means blocking its real traffic.
pub fn probes(
    source: &FlowSource,
    labels: usize,
    per_label: usize,
) -> Result<Vec<Vec<Features>>, FlowError> {
    let mut reader = FlowReader::open(source)?;
    let mut probes = vec![Vec::new(); labels];
    while probes.iter().any(|p| p.len() < per_label) {
        let Some(row) = reader.next_row()? else { break };
        if let (Some(features), Some(c)) = (row.features, (row.label as usize).checked_sub(1))
            && probes[c].len() < per_label
        {
            probes[c].push(features);
        }
    }
    Ok(probes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_columns_pass_through_and_others_are_projected_with_unit_variance() {
        let identity = Projection::new(FEATURE_COUNT);
        let z: Vec<f64> = (0..FEATURE_COUNT).map(|i| i as f64).collect();
        assert_eq!(identity.apply(&z)[3], 3.0);
        let wide = Projection::new(78);
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(1);
        let mut second_moment = 0.0;
        for _ in 0..2000 {
            let z: Vec<f64> = (0..78).map(|_| StandardNormal.sample(&mut rng)).collect();
            second_moment += f64::from(wide.apply(&z)[0]).powi(2) / 2000.0;
        }
        assert!((0.5..2.0).contains(&second_moment), "{second_moment}");
    }

    #[test]
    fn rows_are_dealt_round_robin_or_by_key() {
        assert_eq!(deal(&FlowAssign::RoundRobin, 7, 99, 3), 1);
        assert_eq!(
            deal(&FlowAssign::Hash("Destination IP".into()), 7, 99, 4),
            3
        );
    }
}
