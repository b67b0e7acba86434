//! The binary's one error type: every way a command can fail, each wrapping the layer's own error (with its source)
//! or naming what the command itself refused. `main` prints it as one `error: ` line.

use std::path::PathBuf;

use thiserror::Error;

use dais::config::{InvalidField, load::ConfigError};
use dais::headless::RunError;
use dais::headless::detect::DetectError;
use dais::ledger::LedgerError;
use dais::ledger::inspect::InspectError;
use dais::ledger::sqlite::OpenError;
use dais::ledger::verify::Problem;
use dais::replay::ReplayError;

#[derive(Debug, Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{}: {source}", file.display())]
    InvalidFile {
        file: PathBuf,
        #[source]
        source: InvalidField,
    },
    #[error("{var} (--strict-env)")]
    StrictEnv { var: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Inspect(#[from] InspectError),
    #[error(transparent)]
    Sweep(#[from] dais::headless::sweep::SweepRunError),
    #[error(transparent)]
    Shard(#[from] dais::experiment::shard::ShardError),
    #[error(transparent)]
    Merge(#[from] dais::headless::sweep::merge::MergeError),
    #[error(transparent)]
    SweepReport(#[from] dais::headless::sweep::report::SweepReportError),
    #[error(transparent)]
    Slurm(#[from] dais::headless::sweep::slurm::SlurmError),
    #[error(transparent)]
    Serve(#[from] dais::ops::server::ServeError),
    #[error(transparent)]
    Log(#[from] dais::ops::logs::LogError),
    #[error("--metrics-addr on replay serves a re-simulation: add --verify")]
    ReplayMetrics,
    #[error(
        "--steps {tick} with --screenshot names the tick to photograph, but this run ends at tick {last}: choose a \
         tick from 1 to {last} (or lengthen the run with --set simulation.steps=N)"
    )]
    ScreenshotPastEnd { tick: u32, last: u32 },
    #[error("cannot find this program's own path (the Slurm jobs run it): {source}")]
    CurrentExe {
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", path.display())]
    Verify {
        path: PathBuf,
        #[source]
        problem: Problem,
    },
    #[error("{}: {source}", path.display())]
    Stats {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "{}: head hash {found} is not the expected {expected} (the file is not the run it claims to be)",
        path.display()
    )]
    UnexpectedHead {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error(
        "--out {} holds an earlier run ({}); choose a new directory, or add --force to replace it",
        dir.display(),
        files.join(", ")
    )]
    EarlierRun { dir: PathBuf, files: Vec<String> },
    #[error("cannot create output directory {}: {source}", dir.display())]
    OutputDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot replace {}: {source}", path.display())]
    Replace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The memory estimate exceeds the memory available (the line says by how much and what shrinks it).
    #[error("{0}")]
    TooBig(String),
    #[error("--at {at}: the recording holds ticks 1 to {last}")]
    NoSuchTick { at: u32, last: u32 },
    /// No window can open here, or this build has none, and the command needs one.
    #[error("--screenshot needs a window, but {0}")]
    NeedsWindow(String),
    /// A lesson could not be opened or played through (a bad file names its step and field).
    #[error("{0}")]
    Lesson(String),
    /// The view itself failed: it could not open, or closed early.
    #[cfg(feature = "gui")]
    #[error("{0}")]
    View(String),
}
