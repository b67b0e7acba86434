//! How a command ended, when it did not fail, and the exit status of each outcome. (A failure is a
//! [`crate::error::CommandError`]: one line on stderr, status 1, or 2 for a bad flag.)

use std::process::ExitCode;

/// How a command ended, where success comes in more than one kind; each has its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Done,
    /// Ctrl-C stopped a run after it wrote what it had (the shell's 128 + SIGINT).
    Interrupted,
    /// `ledger verify`: the rows present are sound, but the run never closed.
    Incomplete,
    /// `sweep`: this many runs failed (their errors are in runs.csv).
    RunsFailed(usize),
}

impl Finished {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Finished::Done => ExitCode::SUCCESS,
            Finished::Interrupted => ExitCode::from(130),
            Finished::Incomplete => ExitCode::from(3),
            Finished::RunsFailed(n) => ExitCode::from(100 + n.min(25) as u8),
        }
    }
}
