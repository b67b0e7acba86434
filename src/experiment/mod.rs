//! Experiments: many runs over parameters × seeds, and the statistics that compare them. This first part is the
//! statistics (`stats`), pure functions checked against scipy.stats; sweep files, the runner and the reports build
//! on it (issue 14).

pub mod stats;
