//! Headless batch runs: the runner with its progress bar and Ctrl-C handling, and the CSV/JSON exports.

pub mod detect;
pub mod export;
pub mod memory;
pub mod run;
pub mod sweep;

pub use run::{RunError, RunOptions, RunOutcome, TickHook, default_threads, init_threads, run};
