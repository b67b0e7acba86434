//! Campaigns that fight back (issue 16, point 3), each shown to have the effect it claims against the ground
//! truth: drift outruns the blacklists, a slow ramp delays detection, and an evasive campaign mutates once enough
//! agents block it, after which immunity has to be won again, per variant.

use dais::config::{EvasionConfig, SimConfig};
use dais::ledger::DiscardSink;
use dais::model::TickMetrics;
use dais::sim::Simulation;
use dais::sim::metrics::RunTotals;

/// Every tick's metrics and the totals of `config` run to its end.
fn run(config: SimConfig) -> (Vec<TickMetrics>, RunTotals) {
    let steps = config.simulation.steps;
    let mut simulation = Simulation::new(config, Box::new(DiscardSink));
    let mut history = Vec::new();
    for _ in 0..steps {
        simulation.step();
        history.extend(simulation.latest_metrics().cloned());
    }
    let totals = simulation.world().resource::<RunTotals>().clone();
    (history, totals)
}

#[test]
fn time_to_immunity_grows_with_drift() {
    let with_drift = |step: f32| {
        let mut config = SimConfig::default();
        config.simulation.steps = 200;
        config.traffic.campaigns[0].drift = vec![step; 8];
        run(config).1.time_to_immunity[0]
    };
    let still = with_drift(0.0).expect("a campaign that stays put is beaten");
    let slow = with_drift(0.05);
    let fast = with_drift(0.2);
    // Each signature matches where the campaign was; a drifting one walks out of it.
    assert!(
        slow.is_none_or(|t| t > still),
        "drift 0.05: {slow:?} vs {still}"
    );
    assert!(
        fast.is_none_or(|t| slow.is_some_and(|s| t > s)),
        "drift 0.2: {fast:?} vs {slow:?}"
    );
    assert!(
        fast.is_none(),
        "a campaign drifting 0.2 per tick per feature outruns the blacklists"
    );
}

#[test]
fn a_low_and_slow_campaign_ramps_up_and_is_detected_later() {
    let mut config = SimConfig::default();
    config.simulation.steps = 160;
    let start = config.traffic.campaigns[0].start_tick;
    let (fast, fast_totals) = run(config.clone());
    config.traffic.campaigns[0].ramp_ticks = 60;
    let (slow, slow_totals) = run(config);
    // Attack samples per reached agent over the ramp's first 20 ticks: a third of the intensity on average, or less.
    let per_reached = |history: &[TickMetrics]| {
        let window = &history[start as usize..start as usize + 20];
        let samples: u64 = window.iter().map(|m| m.attack_samples).sum();
        let reached: f64 = window.iter().map(|m| m.reached_fraction[0] * 100.0).sum();
        samples as f64 / reached
    };
    let (fast_rate, slow_rate) = (per_reached(&fast), per_reached(&slow));
    assert!(
        slow_rate < 0.4 * fast_rate,
        "ramping: {slow_rate:.2} vs {fast_rate:.2} attack samples per reached agent-tick"
    );
    let (fast_seen, slow_seen) = (
        fast_totals.first_detection[0].unwrap(),
        slow_totals.first_detection[0].unwrap(),
    );
    assert!(
        slow_seen > fast_seen,
        "first detection: {slow_seen} vs {fast_seen}"
    );
    assert!(slow_totals.time_to_immunity[0] > fast_totals.time_to_immunity[0]);
}

#[test]
fn an_evasive_campaign_mutates_when_blocked_and_immunity_is_won_again_per_variant() {
    let mut config = SimConfig::default();
    config.simulation.steps = 300;
    config.traffic.campaigns[0].evasion = Some(EvasionConfig {
        at_share: 0.5,
        distance: 4.0,
        mutations: 1,
    });
    let (history, totals) = run(config);
    let mutated = history
        .iter()
        .position(|m| m.variant_of[0] == 1)
        .expect("the campaign mutated");
    // It mutated once half the agents were immune (as the tick before left them)...
    assert!(history[mutated - 1].immune_fraction[0] >= 0.5);
    // ...after which the old signatures no longer make anyone immune: the probes come from the new variant.
    assert!(
        history[mutated].immune_fraction[0] < 0.2,
        "immune to the new variant right after the mutation: {}",
        history[mutated].immune_fraction[0]
    );
    let variants = &totals.variant_immunity[0];
    assert_eq!(variants.len(), 2, "{variants:?}");
    assert_eq!(variants[1].started, history[mutated].tick);
    assert_eq!(
        variants[0].immune_at, None,
        "it mutated before 90% were immune to the original"
    );
    let again = variants[1]
        .immune_at
        .expect("immunity is won again against the mutation");
    assert!(again > variants[1].started);
    assert_eq!(totals.time_to_immunity[0], Some(again));
    assert!(
        history.iter().all(|m| m.variant_of[0] <= 1),
        "at most the one mutation configured"
    );
}
