//! Experiments: many runs over parameters × seeds, and the statistics that compare them. Built so far: the sweep
//! file and its validation (`sweep`), the design it expands (`design`: axes, grid / zip / random / Latin-hypercube
//! points, seeds, stable run ids) and the statistics (`stats`, checked against scipy.stats). The runner and the
//! reports build on them (issue 14).

pub mod design;
pub mod report;
pub mod shard;
pub mod stats;
pub mod sweep;
