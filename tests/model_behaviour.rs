//! The model behaves as the science says it should, measured against ground truth.

mod common;

use dais::config::{ByzantineStrategy, ConsensusRule, SimConfig};

#[test]
fn with_no_attacks_few_signatures_are_accepted() {
    let mut config = SimConfig::default();
    config.traffic.campaigns.clear();
    let (totals, _, _) = common::run_to_end(config);
    assert!(
        totals.accepted() <= 2,
        "accepted {} signatures with no attack",
        totals.accepted()
    );
    assert_eq!(totals.attack_samples, 0);
}

#[test]
fn honest_agents_detect_agree_and_become_immune() {
    let config = SimConfig::default();
    let steps = config.simulation.steps;
    let (totals, _, _) = common::run_to_end(config);
    let recall = totals.detection_recall().unwrap();
    assert!(recall >= 0.8, "recall {recall}");
    let accepted = totals.accepted();
    assert!(accepted > 0);
    assert!(
        totals.counts.signatures_accepted_true as f64 >= 0.9 * accepted as f64,
        "{totals:?}"
    );
    let immune_at = totals.time_to_immunity[0].expect("the campaign should reach 90% immunity");
    assert!(immune_at < steps);
}

fn forgers(rule: ConsensusRule, fraction: f64, seed: u64) -> SimConfig {
    let mut config = SimConfig::default();
    config.simulation.steps = 200;
    config.simulation.seed = seed;
    config.consensus.rule = rule;
    config.faults.byzantine_fraction = fraction;
    config.faults.byzantine_strategy = ByzantineStrategy::Collude;
    config
}

#[test]
fn bft_accepts_no_forgery_below_a_third_of_forgers() {
    for seed in [1, 2] {
        let (totals, registry, _) = common::run_to_end(forgers(ConsensusRule::Bft, 0.3, seed));
        assert!(
            registry.records.iter().filter(|r| r.forged).count() > 20,
            "forgers should have been busy"
        );
        assert_eq!(
            common::forged_accepted(&registry),
            0,
            "seed {seed}: {totals:?}"
        );
    }
}

#[test]
fn majority_accepts_forgeries_when_more_than_half_forge() {
    let (_, registry, _) = common::run_to_end(forgers(ConsensusRule::Majority, 0.6, 1));
    assert!(common::forged_accepted(&registry) > 0);
}

#[test]
fn the_rule_is_what_makes_the_difference() {
    // Same seed, same 40% colluding forgers, same turnout floor: only the rule changes. Majority counts the ballots
    // a (cheating) tallier chose to include; BFT needs 2f+1 yes out of everyone.
    let with = |rule| {
        let mut config = forgers(rule, 0.4, 3);
        config.consensus.min_turnout = 0.3;
        common::forged_accepted(&common::run_to_end(config).1)
    };
    let majority = with(ConsensusRule::Majority);
    let bft = with(ConsensusRule::Bft);
    assert!(majority > 0, "majority accepted no forgery");
    assert_eq!(bft, 0);
}

#[test]
fn crashing_a_fifth_of_agents_mid_run_does_not_stop_immunity() {
    let mut config = SimConfig::default();
    config.faults.crash_fraction = 0.2;
    config.faults.crash_tick = 60;
    let (totals, _, _) = common::run_to_end(config);
    assert!(totals.time_to_immunity[0].is_some(), "{totals:?}");
}

#[test]
fn a_crashed_central_authority_is_a_single_point_of_failure() {
    let mut config = SimConfig::default();
    config.faults.crash_fraction = 0.1;
    config.faults.crash_tick = 30;
    // Make the authority one of the agents that crash (before the campaign starts).
    let seed = config.simulation.seed;
    let plan = dais::sim::faults::assign(
        &config.faults,
        config.simulation.agents,
        &mut dais::sim::rng::stream(seed, dais::sim::rng::STREAM_ROLES),
    );
    config.consensus.authority = plan
        .iter()
        .position(|(_, crash)| crash.at.is_some())
        .unwrap();

    config.consensus.rule = ConsensusRule::CentralAuthority;
    let (central, _, _) = common::run_to_end(config.clone());
    assert_eq!(central.accepted(), 0, "{central:?}");
    assert!(central.time_to_immunity[0].is_none());

    config.consensus.rule = ConsensusRule::Bft;
    let (bft, _, _) = common::run_to_end(config);
    assert!(
        bft.time_to_immunity[0].is_some(),
        "the same crash does not stop the decentralised rule: {bft:?}"
    );
}
