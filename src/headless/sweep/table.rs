//! The rows of `runs.csv` (and of a shard's `runs-shard-I.csv`): the run id, its value on every axis, the seed, every
//! figure of its `summary.json`, and an `error` column. Written through the `csv` crate one flushed record at a time,
//! and read back for resuming, merging and reporting.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::experiment::sweep::{PlannedRun, SweepFile};
use crate::headless::export::Summary;
use crate::sim::metrics::RunTotals;

/// The columns that say how a run was run, not what it found: they differ between reruns, `--jobs` and shards, and
/// everything else in a row must not.
pub const TIMING_COLUMNS: [&str; 3] = ["wall_seconds", "ticks_per_second", "threads"];

/// The figures of a summary as flat columns: every top-level number, name and hash, each campaign's figures as
/// `<figure>_<campaign>`, and `time_to_immunity_<campaign>`. Derived from `Summary`'s own serialisation, so a new
/// figure in `summary.json` becomes a column without being listed here.
fn summary_cells(summary: &Summary) -> Vec<(String, String)> {
    let value = serde_json::to_value(summary).expect("a summary serialises");
    let mut cells = Vec::new();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    for (key, v) in value.as_object().expect("an object") {
        match v {
            serde_json::Value::Number(_) | serde_json::Value::Null => {
                cells.push((key.clone(), text(v)))
            }
            serde_json::Value::Bool(b) => cells.push((key.clone(), u8::from(*b).to_string())),
            // The rule, topology and strategy names, and the hashes that let a row be checked against a rerun.
            serde_json::Value::String(text) => cells.push((key.clone(), text.clone())),
            _ => {}
        }
    }
    for campaign in value["campaigns"].as_array().into_iter().flatten() {
        let name = campaign["name"].as_str().unwrap_or("?");
        for (key, v) in campaign.as_object().expect("an object") {
            if key != "name" {
                cells.push((format!("{key}_{name}"), text(v)));
            }
        }
    }
    cells
}

/// The columns of `runs.csv` for this sweep.
pub fn columns(sweep: &SweepFile, first: &PlannedRun) -> Vec<String> {
    let blank = Summary::new(
        &first.config,
        &RunTotals::default(),
        None,
        (String::new(), None),
        0.0,
        false,
        1,
    );
    let mut columns = vec!["run_id".to_string()];
    columns.extend(sweep.vary.iter().map(|a| a.key.clone()));
    columns.push("seed".into());
    columns.extend(
        summary_cells(&blank)
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k != "seed"),
    );
    columns.push("error".into());
    columns
}

/// One run's record: its figures, or blanks and the error that stopped it.
pub fn record(run: &PlannedRun, result: &Result<Summary, String>, columns: usize) -> Vec<String> {
    let mut cells = vec![run.id.clone()];
    cells.extend(run.point.iter().map(|s| s.value.clone()));
    cells.push(run.seed.to_string());
    match result {
        Ok(summary) => {
            cells.extend(
                summary_cells(summary)
                    .into_iter()
                    .filter(|(k, _)| k != "seed")
                    .map(|(_, v)| v),
            );
            cells.push(String::new());
        }
        Err(error) => {
            cells.resize(columns - 1, String::new());
            cells.push(error.clone());
        }
    }
    cells
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{path}: its header is not this sweep's columns; use another --out")]
    DifferentColumns { path: PathBuf },
}

/// A runs file read whole: its header and its complete rows (a row cut short by a crash is left out, so it is redone).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunsTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl RunsTable {
    pub fn read(path: &Path) -> Result<Self, TableError> {
        let file = File::open(path).map_err(|source| TableError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(file, path)
    }

    fn from_reader(reader: impl Read, path: &Path) -> Result<Self, TableError> {
        let csv_err = |source| TableError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let columns: Vec<String> = reader
            .headers()
            .map_err(csv_err)?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(csv_err)?;
            if record.len() == columns.len() {
                rows.push(record.iter().map(str::to_string).collect());
            }
        }
        Ok(RunsTable { columns, rows })
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The ids of the runs that have a row.
    pub fn ids(&self) -> BTreeSet<String> {
        self.rows.iter().map(|r| r[0].clone()).collect()
    }
}

/// Appends records to a runs file, each flushed as it is written.
pub struct RunsWriter {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl RunsWriter {
    /// Opens `path` for this sweep's `columns`, and returns the ids it already holds. A file from an earlier
    /// invocation must have the same header; a last line cut short by a crash is cut off, so its run is redone.
    pub fn open(path: &Path, columns: &[String]) -> Result<(Self, BTreeSet<String>), TableError> {
        let read_err = |source| TableError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(read_err)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(read_err)?;
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            // Opened for appending, so the next record goes right after the cut.
            file.set_len(complete as u64).map_err(read_err)?;
        }
        let existing = Self::from_bytes(&text[..complete], path)?;
        let fresh = existing.columns.is_empty();
        if !fresh && existing.columns != columns {
            return Err(TableError::DifferentColumns {
                path: path.to_path_buf(),
            });
        }
        let mut writer = RunsWriter {
            path: path.to_path_buf(),
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(file),
        };
        if fresh {
            writer.append(columns)?;
        }
        Ok((writer, existing.ids()))
    }

    fn from_bytes(bytes: &[u8], path: &Path) -> Result<RunsTable, TableError> {
        if bytes.is_empty() {
            return Ok(RunsTable::default());
        }
        RunsTable::from_reader(bytes, path)
    }

    /// Writes one record and flushes it, so a reader (pandas, `sweep report`) sees whole rows mid-sweep.
    pub fn append(&mut self, record: &[String]) -> Result<(), TableError> {
        let csv_err = |source| TableError::Csv {
            path: self.path.clone(),
            source,
        };
        self.writer.write_record(record).map_err(csv_err)?;
        self.writer.flush().map_err(|source| TableError::Read {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_reopened_file_resumes_and_a_cut_row_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let columns = cols(&["run_id", "note", "error"]);
        let (mut writer, ids) = RunsWriter::open(&path, &columns).unwrap();
        assert!(ids.is_empty());
        writer.append(&cols(&["a", "x, with a comma", ""])).unwrap();
        drop(writer);
        // A crash mid-row leaves a line with no newline.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("b,half");
        std::fs::write(&path, text).unwrap();
        let (mut writer, ids) = RunsWriter::open(&path, &columns).unwrap();
        assert_eq!(ids, BTreeSet::from(["a".to_string()]));
        writer.append(&cols(&["b", "y", ""])).unwrap();
        let table = RunsTable::read(&path).unwrap();
        assert_eq!(table.columns, columns);
        assert_eq!(
            table.rows,
            vec![cols(&["a", "x, with a comma", ""]), cols(&["b", "y", ""])]
        );
    }

    #[test]
    fn a_file_with_other_columns_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        std::fs::write(&path, "run_id,other\n").unwrap();
        assert!(matches!(
            RunsWriter::open(&path, &cols(&["run_id", "error"])),
            Err(TableError::DifferentColumns { .. })
        ));
    }
}
