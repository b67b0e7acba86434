//! `dais detect`: the detector as a tool. Fits an Isolation Forest on the numeric columns of a training CSV,
//! scores another CSV, writes `score,is_anomaly` per row, and with a label column reports ROC AUC and average
//! precision. Every bad input is one error naming the file and line.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use thiserror::Error;

use crate::flows::{CsvError, CsvRows};
use crate::ml::evaluate::{average_precision, roc_auc};
use crate::ml::{Contamination, ForestParams, IsolationForest};

#[derive(Debug, Error)]
pub enum DetectError {
    /// Unreadable, empty, malformed or ragged: the reader's own error, naming the file and line.
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("{path} has a header but no data rows")]
    NoRows { path: PathBuf },
    #[error("{path}:{line}: column {column:?}: {value:?} is not a number")]
    NotNumeric {
        path: PathBuf,
        line: usize,
        column: String,
        value: String,
    },
    #[error("{path} has no numeric columns to train on")]
    NoNumericColumns { path: PathBuf },
    #[error("{path} lacks column {column:?}")]
    MissingColumn { path: PathBuf, column: String },
    #[error("{path}:{line}: label column {column:?} must be 0 or 1, found {value:?}")]
    NotBinary {
        path: PathBuf,
        line: usize,
        column: String,
        value: String,
    },
}

/// A CSV file: header and rows, with the line number of each row.
pub struct Table {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// Reads `path` through the one CSV reader (`flows::csv_rows`: quoted fields may hold commas; spaces around
    /// fields and header names are trimmed; blank lines are skipped).
    pub fn read(path: &Path) -> Result<Self, DetectError> {
        let mut reader = CsvRows::open(path)?;
        let header = reader.header().to_vec();
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row()? {
            let fields = (0..header.len()).map(|c| row.text(c).to_string()).collect();
            rows.push((row.line as usize, fields));
        }
        if rows.is_empty() {
            return Err(DetectError::NoRows {
                path: path.to_path_buf(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    fn column(&self, name: &str) -> Result<usize, DetectError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DetectError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
            })
    }

    fn number(&self, line: usize, column: usize, value: &str) -> Result<f64, DetectError> {
        value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| DetectError::NotNumeric {
                path: self.path.clone(),
                line,
                column: self.header[column].clone(),
                value: value.to_string(),
            })
    }

    /// The named columns as row-major f32 (the precision the forest compares in).
    pub fn matrix(&self, columns: &[usize]) -> Result<Vec<f32>, DetectError> {
        let mut out = Vec::with_capacity(self.rows.len() * columns.len());
        for (line, fields) in &self.rows {
            for &c in columns {
                out.push(self.number(*line, c, &fields[c])? as f32);
            }
        }
        Ok(out)
    }

    /// Numeric columns: those whose first data cell is a number (other columns, such as host names, are skipped).
    pub fn numeric_columns(&self, except: Option<&str>) -> Result<Vec<usize>, DetectError> {
        let first = &self.rows[0].1;
        let columns: Vec<usize> = (0..self.header.len())
            .filter(|&c| Some(self.header[c].as_str()) != except)
            .filter(|&c| first[c].parse::<f64>().is_ok_and(f64::is_finite))
            .collect();
        if columns.is_empty() {
            return Err(DetectError::NoNumericColumns {
                path: self.path.clone(),
            });
        }
        Ok(columns)
    }

    pub fn labels(&self, name: &str) -> Result<Vec<bool>, DetectError> {
        let c = self.column(name)?;
        self.rows
            .iter()
            .map(|(line, fields)| match fields[c].parse::<f64>() {
                Ok(0.0) => Ok(false),
                Ok(1.0) => Ok(true),
                _ => Err(DetectError::NotBinary {
                    path: self.path.clone(),
                    line: *line,
                    column: name.to_string(),
                    value: fields[c].clone(),
                }),
            })
            .collect()
    }
}

pub struct DetectOptions {
    pub train: PathBuf,
    pub score: PathBuf,
    pub params: ForestParams,
    pub seed: u64,
    pub label_column: Option<String>,
}

pub struct DetectOutcome {
    pub scores: Vec<f64>,
    pub anomalies: Vec<bool>,
    pub features: Vec<String>,
    /// (ROC AUC, average precision) when a label column was given.
    pub quality: Option<(Option<f64>, Option<f64>)>,
}

pub fn detect(options: &DetectOptions) -> Result<DetectOutcome, DetectError> {
    let train = Table::read(&options.train)?;
    let score = Table::read(&options.score)?;
    let label = options.label_column.as_deref();
    let train_columns = train.numeric_columns(label)?;
    let features: Vec<String> = train_columns
        .iter()
        .map(|&c| train.header[c].clone())
        .collect();
    let score_columns = features
        .iter()
        .map(|f| score.column(f))
        .collect::<Result<Vec<_>, _>>()?;
    let labels = label.map(|name| score.labels(name)).transpose()?;
    let train_rows = train.matrix(&train_columns)?;
    let score_rows = score.matrix(&score_columns)?;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(options.seed);
    let forest = IsolationForest::fit(&train_rows, features.len(), options.params, &mut rng);
    let scores = forest.score_rows(&score_rows);
    let anomalies = scores.iter().map(|&s| s > forest.threshold()).collect();
    let quality = labels.map(|l| (roc_auc(&scores, &l), average_precision(&scores, &l)));
    Ok(DetectOutcome {
        scores,
        anomalies,
        features,
        quality,
    })
}

/// Writes `score,is_anomaly` rows, through the same CSV writer as every other table DAIS writes.
pub fn write_scores(outcome: &DetectOutcome, out: &mut dyn Write) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["score", "is_anomaly"])?;
    for (s, a) in outcome.scores.iter().zip(&outcome.anomalies) {
        writer.write_record([format!("{s:.12}"), u8::from(*a).to_string()])?;
    }
    writer.flush()
}

pub fn contamination_from_flag(text: &str) -> Result<Contamination, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(Contamination::Auto);
    }
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 0.5 => Ok(Contamination::Fraction(f)),
        _ => Err(format!(
            "must be \"auto\" or a fraction in (0, 0.5], got {text:?}"
        )),
    }
}
