//! Machine learning with no Bevy in sight: the Isolation Forest and the vector maths signatures are made of.

pub mod evaluate;
pub mod iforest;
pub mod similarity;

pub use iforest::{Contamination, ForestParams, IsolationForest, Walk};
