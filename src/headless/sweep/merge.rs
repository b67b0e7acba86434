//! `dais sweep merge DIR`: the shards' `runs-shard-I.csv` joined into `runs.csv`, one row per run in expansion
//! order, so the merged file equals an unsharded sweep's apart from the timing columns (and row order, which an
//! unsharded sweep takes from when runs finish).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::{Manifest, ManifestError};
use super::table::{RunsTable, TableError};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(
        "{dir}: no runs-shard-*.csv to merge (run `dais sweep FILE --out DIR --shard I/N` first)"
    )]
    NoShards { dir: PathBuf },
    #[error("{path}: its columns differ from {first}'s; the shards are not of one sweep")]
    DifferentColumns { path: PathBuf, first: PathBuf },
    #[error(
        "{missing} of {total} runs have no row in any shard (first: {first}); rerun the shards that stopped, or pass --partial"
    )]
    Incomplete {
        missing: usize,
        total: usize,
        first: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    pub shards: usize,
    pub total: usize,
    pub merged: usize,
    /// Rows with an error.
    pub failed: usize,
    pub missing: usize,
}

/// The shard files in `dir`, by shard index.
fn shard_files(dir: &Path) -> Result<Vec<PathBuf>, MergeError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TableError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<(usize, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let index = name
                .strip_prefix("runs-shard-")?
                .strip_suffix(".csv")?
                .parse()
                .ok()?;
            Some((index, entry.path()))
        })
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Merges the shards in `dir` into `dir/runs.csv`. Without `partial`, a run with no row anywhere is an error and
/// nothing is written. A run with rows in two shards (a shard rerun elsewhere) keeps its successful row.
pub fn merge(dir: &Path, partial: bool) -> Result<MergeOutcome, MergeError> {
    let manifest = Manifest::read(dir)?;
    let files = shard_files(dir)?;
    let Some(first) = files.first() else {
        return Err(MergeError::NoShards {
            dir: dir.to_path_buf(),
        });
    };
    let mut columns: Option<Vec<String>> = None;
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in &files {
        let table = RunsTable::read(path)?;
        match &columns {
            None => columns = Some(table.columns.clone()),
            Some(c) if *c != table.columns => {
                return Err(MergeError::DifferentColumns {
                    path: path.clone(),
                    first: first.clone(),
                });
            }
            Some(_) => {}
        }
        let error = table.columns.len() - 1;
        for row in table.rows {
            let keep_old = by_id
                .get(&row[0])
                .is_some_and(|old| old[error].is_empty() || !row[error].is_empty());
            if !keep_old {
                by_id.insert(row[0].clone(), row);
            }
        }
    }
    let columns = columns.expect("at least one shard");
    let missing: Vec<&str> = manifest
        .runs
        .iter()
        .filter(|r| !by_id.contains_key(&r.id))
        .map(|r| r.id.as_str())
        .collect();
    if !missing.is_empty() && !partial {
        return Err(MergeError::Incomplete {
            missing: missing.len(),
            total: manifest.runs.len(),
            first: missing[0].to_string(),
        });
    }

    let path = dir.join("runs.csv");
    let write_err = |source| MergeError::Write {
        path: path.clone(),
        source,
    };
    let temporary = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
    let mut writer = csv::Writer::from_writer(temporary);
    let csv_err = |source: csv::Error| write_err(source.into());
    writer.write_record(&columns).map_err(csv_err)?;
    let mut outcome = MergeOutcome {
        shards: files.len(),
        total: manifest.runs.len(),
        merged: 0,
        failed: 0,
        missing: missing.len(),
    };
    let error = columns.len() - 1;
    for run in &manifest.runs {
        if let Some(row) = by_id.get(&run.id) {
            writer.write_record(row).map_err(csv_err)?;
            outcome.merged += 1;
            outcome.failed += usize::from(!row[error].is_empty());
        }
    }
    let temporary = writer.into_inner().map_err(|e| write_err(e.into_error()))?;
    temporary.persist(&path).map_err(|e| write_err(e.error))?;
    Ok(outcome)
}
