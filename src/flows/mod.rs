//! Real flow data in: a CSV of flow records in the CICFlowMeter shape (CIC-IDS2017/2018) as the agents' traffic.
//!
//! A run reads the file twice, streaming both times, so a file of millions of rows never sits in memory:
//! - `resolve` (when the config is loaded) reads the rows the run will use, finds the feature, label and key
//!   columns, counts `Infinity` and `NaN` cells, standardises the features on the benign rows, digests the bytes,
//!   and turns each attack label into a campaign of the config;
//! - `FlowReader` (during the run) deals the same rows to agents, tick by tick, as labelled samples.
//!
//! The simulation's samples have `FEATURE_COUNT` features. A file with exactly that many feature columns is used as
//! it is; any other number of standardised columns is folded into that many by a fixed Gaussian random projection
//! (Johnson–Lindenstrauss), so every column counts and distances are kept on average.

pub mod csv_rows;
mod read;
mod resolve;

pub use read::{FlowReader, FlowRow, deal, probes};
pub use resolve::{FlowReport, resolve};

use std::path::PathBuf;

use thiserror::Error;

pub use csv_rows::{CsvError, CsvRows, Row};

#[derive(Debug, Error)]
pub enum FlowError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("{path}: no {what} column {column:?} (the columns are: {columns})")]
    MissingColumn {
        path: PathBuf,
        what: &'static str,
        column: String,
        columns: String,
    },
    #[error("{path}:{line}: column {column:?}: {value:?} is not a number")]
    NotNumeric {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    #[error("{path} has a header but no data rows")]
    NoRows { path: PathBuf },
    #[error("{path} has no numeric columns to use as features")]
    NoFeatures { path: PathBuf },
    #[error(
        "{path}: none of the {rows} rows the run reads is labelled {benign:?}, so there is no normal traffic to standardise on"
    )]
    NoBenign {
        path: PathBuf,
        rows: u64,
        benign: String,
    },
    #[error(
        "{path}:{line}: label {label:?} was not in the file when the run's config was made (the file has changed; its sha256 was {sha256})"
    )]
    Changed {
        path: PathBuf,
        line: u64,
        label: String,
        sha256: String,
    },
    #[error("traffic.source: the flow file {path} has not been read; load the config through dais")]
    Unresolved { path: PathBuf },
}
