//! Same config and seed give the same per-tick state hashes and outputs, on one thread or many.

mod common;

use std::process::Command;

use dais::config::SimConfig;

fn small_config(seed: u64) -> SimConfig {
    let mut config = SimConfig::default();
    config.simulation.agents = 60;
    config.simulation.steps = 120;
    config.simulation.seed = seed;
    config.faults.byzantine_fraction = 0.1;
    config.faults.crash_fraction = 0.1;
    config.faults.crash_tick = 80;
    config
}

fn tick_hashes(config: SimConfig) -> Vec<String> {
    let (_, _, ledger) = common::run_to_end(config);
    ledger
        .contents()
        .ticks
        .iter()
        .map(|t| t.state_hash.clone())
        .collect()
}

#[test]
fn same_seed_same_hashes_every_tick_and_another_seed_differs() {
    let a = tick_hashes(small_config(7));
    let b = tick_hashes(small_config(7));
    assert_eq!(a.len(), 120);
    assert_eq!(a, b);
    let c = tick_hashes(small_config(8));
    assert_ne!(a.last(), c.last());
}

fn run_binary(threads: Option<&str>, out: &std::path::Path) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dais"));
    cmd.args([
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "80",
        "--steps",
        "150",
        "--seed",
        "11",
        "--out",
    ])
    .arg(out);
    if let Some(t) = threads {
        cmd.args(["--threads", t]);
    }
    let status = cmd.status().expect("dais runs");
    assert!(status.success());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    (
        summary["final_state_hash"].as_str().unwrap().to_string(),
        csv,
    )
}

#[test]
fn one_thread_and_default_threads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (hash_one, csv_one) = run_binary(Some("1"), &dir.path().join("one"));
    let (hash_many, csv_many) = run_binary(None, &dir.path().join("many"));
    let (hash_four, _) = run_binary(Some("4"), &dir.path().join("four"));
    assert_eq!(hash_one, hash_many);
    assert_eq!(hash_one, hash_four);
    assert_eq!(csv_one, csv_many);
    assert_eq!(csv_one.lines().count(), 151, "header plus one row per tick");
}
