//! DAIS — Decentralized AI Simulation.
//!
//! Autonomous security agents watch their own traffic, flag anomalies with an Isolation Forest, turn them into
//! threat signatures, gossip them to their peers, vote, and agree without a central authority. Layers, from the
//! bottom: `config` and `ml` (no Bevy), `ledger`, `sim` (the ECS tick pipeline), `replay`, `ops` (Prometheus metrics and health), `headless` (batch runs)
//! and `gui` (the window, behind the `gui` feature).

pub mod config;
pub mod experiment;
pub mod flows;
pub mod ledger;
pub mod lesson;
pub mod ml;
pub mod model;
pub mod sim;

#[cfg(feature = "gui")]
pub mod gui;
#[cfg(not(target_arch = "wasm32"))]
pub mod headless;
#[cfg(not(target_arch = "wasm32"))]
pub mod ops;
pub mod replay;
