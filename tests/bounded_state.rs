//! The simulation's state is bounded by what is live, not by the run's history: per-agent bookkeeping on settled
//! signatures is forgotten, settled signatures free their ballot books, decisions are not kept past their tick,
//! and only the last tick's metrics stay in memory.

use dais::config::{ByzantineStrategy, CampaignConfig, CampaignKind, SimConfig};
use dais::ledger::DiscardSink;
use dais::sim::Simulation;

/// 200 agents for 2,000 ticks, a new campaign every 250 ticks (each with its own shift), and 10% colluding forgers
/// who keep proposing forgeries all along.
fn long_run() -> SimConfig {
    let mut config = SimConfig::default();
    config.simulation.agents = 200;
    config.simulation.steps = 2_000;
    config.faults.byzantine_fraction = 0.1;
    config.faults.byzantine_strategy = ByzantineStrategy::Collude;
    let kinds = [
        CampaignKind::PortScan,
        CampaignKind::Ddos,
        CampaignKind::Exfiltration,
        CampaignKind::BruteForce,
    ];
    config.traffic.campaigns = (0..8)
        .map(|i| {
            let mut shift = vec![0.0; 8];
            shift[i % 8] = 4.0;
            shift[(i + 3) % 8] = -3.0;
            CampaignConfig {
                name: format!("wave_{i}"),
                kind: kinds[i % 4],
                start_tick: 40 + 250 * i as u32,
                origins: vec![(25 * i) % 200],
                shift,
                ..Default::default()
            }
        })
        .collect();
    config
}

#[test]
fn state_at_tick_2000_is_within_ten_percent_of_tick_500() {
    let config = long_run();
    config.validate().unwrap();
    let mut simulation = Simulation::new(config, Box::new(DiscardSink));
    let mut at = std::collections::BTreeMap::new();
    while !simulation.finished() {
        simulation.step();
        if simulation.tick().is_multiple_of(250) {
            at.insert(simulation.tick(), simulation.state_bytes());
        }
    }
    let totals = simulation.totals();
    // The run really kept the protocol busy: signatures proposed and settled throughout.
    assert!(
        totals.counts.signatures_proposed > 300,
        "{:?}",
        totals.counts
    );
    assert!(
        totals
            .time_to_immunity
            .iter()
            .filter(|t| t.is_some())
            .count()
            >= 6,
        "{:?}",
        totals.time_to_immunity
    );
    let (early, late) = (at[&500] as f64, at[&2_000] as f64);
    assert!(
        (late - early).abs() <= 0.1 * early,
        "state bytes by tick: {at:?}"
    );
}
