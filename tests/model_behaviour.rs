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

/// Runs seeds 1 and 2 of `config`: forgers were busy (more than `busy` forgeries), and none was accepted.
fn accepts_no_forgery(config: impl Fn(u64) -> SimConfig, busy: usize) {
    for seed in [1, 2] {
        let (totals, registry, _) = common::run_to_end(config(seed));
        assert!(
            registry.records.iter().filter(|r| r.forged).count() > busy,
            "forgers should have been busy: {totals:?}"
        );
        assert_eq!(
            common::forged_accepted(&registry),
            0,
            "seed {seed}: {totals:?}"
        );
    }
}

#[test]
fn bft_accepts_no_forgery_below_a_third_of_forgers() {
    accepts_no_forgery(|seed| forgers(ConsensusRule::Bft, 0.3, seed), 20);
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

/// Forged signatures that entered at least one honest agent's blacklist (under Snowball each agent decides alone).
fn forgeries_in_honest_blacklists(config: SimConfig) -> (usize, usize) {
    let steps = config.simulation.steps;
    let (mut app, _) = common::app_with_ledger(config);
    for _ in 0..=steps {
        app.update();
    }
    let world = app.world_mut();
    let registry = world
        .resource::<dais::sim::signature::SignatureRegistry>()
        .clone();
    let mut blacklisted = std::collections::BTreeSet::<u32>::new();
    let mut agents = world.query::<(
        &dais::sim::components::Role,
        &dais::sim::components::Blacklist,
    )>();
    for (role, blacklist) in agents.iter(world) {
        if role.is_honest() {
            blacklisted.extend(
                blacklist
                    .entries
                    .iter()
                    .filter(|&&sig| registry.get(sig).forged),
            );
        }
    }
    let forged = registry.records.iter().filter(|r| r.forged).count();
    (blacklisted.len(), forged)
}

fn committee(size: usize, fraction: f64, seed: u64) -> SimConfig {
    let mut config = forgers(ConsensusRule::Committee, fraction, seed);
    config.consensus.committee_size = size;
    config
}

#[test]
fn a_committee_accepts_no_forgery_well_below_a_third_and_some_above_it() {
    // 10% colluders: a committee of 10 needs 7 of them (f = 3) to accept a forgery, which a 10% share never gets.
    accepts_no_forgery(|seed| committee(10, 0.1, seed), 5);
    // Half the network colludes: BFT over everyone still needs two thirds of all agents and accepts nothing, but
    // some committees of 10 draw 7 colluders (about one in six), and their forgeries carry valid certificates.
    let (_, registry, _) = common::run_to_end(committee(10, 0.5, 1));
    assert!(common::forged_accepted(&registry) > 0);
    let (_, registry, _) = common::run_to_end(forgers(ConsensusRule::Bft, 0.5, 1));
    assert_eq!(common::forged_accepted(&registry), 0);
}

#[test]
fn a_committee_votes_with_its_members_only_and_still_immunises() {
    let mut config = SimConfig::default();
    config.simulation.agents = 300;
    config.consensus.rule = ConsensusRule::Committee;
    config.consensus.committee_size = 15;
    let (totals, registry, _) = common::run_to_end(config);
    for record in &registry.records {
        assert_eq!(record.committee.len(), 15);
        for (voter, cast) in record.cast.iter().enumerate() {
            if *cast != dais::model::Cast::Nothing {
                assert!(
                    record.committee.contains(&(voter as u32)),
                    "agent {voter} voted"
                );
            }
        }
    }
    assert!(totals.counts.ballots <= 15 * totals.counts.signatures_proposed);
    assert!(totals.time_to_immunity[0].is_some(), "{totals:?}");
    assert!(totals.counts.signatures_accepted_true > 0);
}

fn snowball(fraction: f64, seed: u64) -> SimConfig {
    forgers(ConsensusRule::Snowball, fraction, seed)
}

#[test]
fn snowball_keeps_forgeries_out_below_its_bound_and_lets_some_in_above_it() {
    // k = 10, alpha = 7: with 10% colluders a round almost never sees 7 yes answers, let alone beta in a row.
    for seed in [1, 2] {
        let (in_blacklists, forged) = forgeries_in_honest_blacklists(snowball(0.1, seed));
        assert!(forged > 5);
        assert_eq!(in_blacklists, 0, "seed {seed}");
    }
    // With half the network colluding, a round sees 7 yes answers about one time in six; once some honest agents
    // gain confidence in yes they answer yes too, and others are pulled into accepting.
    let (in_blacklists, _) = forgeries_in_honest_blacklists(snowball(0.5, 1));
    assert!(in_blacklists > 0);
}

#[test]
fn snowball_immunises_without_a_tallier_at_a_cost_per_agent_bounded_by_k_and_beta() {
    let config = SimConfig {
        consensus: dais::config::ConsensusConfig {
            rule: ConsensusRule::Snowball,
            ..Default::default()
        },
        ..Default::default()
    };
    let (k, beta, agents) = (
        config.consensus.snowball.k as u64,
        u64::from(config.consensus.snowball.beta),
        config.simulation.agents as u64,
    );
    let (totals, _, _) = common::run_to_end(config);
    assert!(totals.time_to_immunity[0].is_some(), "{totals:?}");
    assert!(totals.counts.signatures_accepted_true > 0);
    // Nothing travels back to a tallier and no decision is flooded: voting is queries and answers.
    assert_eq!(totals.messages_by_kind[2], 0);
    let per_agent_and_signature =
        totals.messages_by_kind[1] as f64 / (agents * totals.counts.signatures_proposed) as f64;
    assert!(
        per_agent_and_signature <= (4 * k * beta) as f64,
        "{per_agent_and_signature} ballot hops per agent and signature"
    );
}

#[test]
fn dirichlet_trust_with_forgetting_keeps_forgeries_out_and_demotes_the_forgers() {
    let mut config = forgers(ConsensusRule::ReputationWeighted, 0.3, 42);
    config.simulation.steps = 300;
    config.faults.byzantine_strategy = ByzantineStrategy::Forge;
    config.consensus.trust = dais::config::TrustModel::Dirichlet { forgetting: 0.9 };
    let steps = config.simulation.steps;
    let mut simulation = dais::sim::Simulation::new(config, Box::new(dais::ledger::DiscardSink));
    for _ in 0..steps {
        simulation.step();
    }
    let totals = simulation
        .world()
        .resource::<dais::sim::metrics::RunTotals>()
        .clone();
    assert_eq!(totals.counts.signatures_accepted_false, 0, "{totals:?}");
    assert!(totals.accepted() > 0, "{totals:?}");
    assert!(
        totals.time_to_demote.is_some(),
        "every forger ends below even trust"
    );
    let gap = simulation.latest_metrics().unwrap().trust_gap.unwrap();
    assert!(
        gap > 0.3,
        "honest agents are trusted well above the forgers: {gap}"
    );
}
