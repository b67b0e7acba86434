//! Each adversary group has the effect it claims, and each test names the defence that counters it. Every claim is
//! measured against ground truth: forged signatures accepted, real ones accepted, immunity, and per-agent recall.

mod common;

use dais::config::{
    Adversary, AdversaryGroup, ByzantineStrategy, ConsensusRule, Dropped, SimConfig, Topology,
};
use dais::sim::Simulation;
use dais::sim::adversaries::Insider;
use dais::sim::components::{Agent, TickCounts};
use dais::sim::metrics::RunTotals;

/// 300 agents on a Barabási–Albert network under `rule`, with these adversary groups.
fn scenario(rule: ConsensusRule, steps: u32, groups: Vec<AdversaryGroup>) -> SimConfig {
    let mut config = SimConfig::default();
    config.simulation.agents = 300;
    config.simulation.steps = steps;
    config.network.topology = Topology::BarabasiAlbert;
    config.consensus.rule = rule;
    config.faults.adversaries = groups;
    config
}

fn group(fraction: f64, strategy: Adversary) -> AdversaryGroup {
    AdversaryGroup {
        fraction,
        count: 0,
        strategy,
    }
}

fn run(config: SimConfig) -> RunTotals {
    common::run_to_end(config).0
}

const COLLUDE: ByzantineStrategy = ByzantineStrategy::Collude;

/// Reputation-weighted voting with a low bar (a fifth of the trust weight accepts), the setting in which reputation
/// is the only thing between a quarter of colluders and their forgeries.
fn low_bar(groups: Vec<AdversaryGroup>) -> SimConfig {
    let mut config = scenario(ConsensusRule::ReputationWeighted, 400, groups);
    config.consensus.reputation_threshold = 0.2;
    config
}

/// The defence against the trust-based attacks: the same group under BFT, which weighs no trust, gets no forgery
/// accepted.
fn assert_bft_accepts_no_forgery(adversaries: AdversaryGroup) {
    let mut bft = low_bar(vec![adversaries]);
    bft.consensus.rule = ConsensusRule::Bft;
    let bft = run(bft);
    assert_eq!(bft.counts.signatures_accepted_false, 0, "{bft:?}");
}

#[test]
fn betrayal_fools_reputation_but_not_bft() {
    // The same quarter of agents, colluding from the start, is demoted by reputation before its forgeries count.
    let from_start = run(low_bar(vec![group(0.25, Adversary::Collude)]));
    assert_eq!(
        from_start.counts.signatures_accepted_false, 0,
        "{from_start:?}"
    );
    // Betrayers vote honestly for 150 ticks, earn the honest agents' trust, then forge with it.
    let betrayal = Adversary::Betrayal {
        at: 150,
        then: COLLUDE,
    };
    let betrayed = run(low_bar(vec![group(0.25, betrayal.clone())]));
    assert!(
        betrayed.counts.signatures_accepted_false > 10,
        "betrayers with earned trust get forgeries accepted: {betrayed:?}"
    );
    // Defence: BFT counts heads, not trust, and no certificate can cite ballots that were not cast.
    assert_bft_accepts_no_forgery(group(0.25, betrayal));
}

#[test]
fn on_off_attackers_rebuild_trust_between_attacks_unless_bft_decides() {
    // A quarter of the agents collude in malicious spells of 20 ticks after honest spells of 60, which restore
    // the trust each attack spent: forgeries get through, where the same group colluding all the time was demoted
    // before any did (see the betrayal test).
    let on_off = Adversary::OnOff {
        honest: 60,
        malicious: 20,
        strategy: COLLUDE,
    };
    let on_off_run = run(low_bar(vec![group(0.25, on_off.clone())]));
    assert!(
        on_off_run.counts.signatures_accepted_false > 10,
        "{on_off_run:?}"
    );
    // Defence: BFT, which has no trust to rebuild.
    assert_bft_accepts_no_forgery(group(0.25, on_off));
}

#[test]
fn whitewashers_shed_their_bad_name_unless_bft_decides() {
    let whitewash = Adversary::Whitewashing {
        threshold: 0.3,
        strategy: COLLUDE,
    };
    let config = low_bar(vec![group(0.25, whitewash.clone())]);
    let mut simulation = Simulation::new(config, Box::new(dais::ledger::DiscardSink));
    while !simulation.finished() {
        simulation.step();
    }
    let totals = simulation.totals().clone();
    assert!(
        totals.counts.signatures_accepted_false > 10,
        "colluders that would have been demoted come back trusted: {totals:?}"
    );
    let world = simulation.world_mut();
    let rejoined: u32 = world
        .query::<&Insider>()
        .iter(world)
        .map(|i| i.rejoined)
        .sum();
    assert!(rejoined > 0, "whitewashers left and came back");
    // Defence: BFT does not weigh trust, so a fresh identity buys nothing.
    assert_bft_accepts_no_forgery(group(0.25, whitewash));
}

#[test]
fn sybils_pushing_the_byzantine_share_past_a_third_break_bft() {
    // A fifth of the agents collude; at tick 20, before the campaign, one of them brings k new identities.
    let with_sybils = |identities| {
        let mut groups = vec![group(0.2, Adversary::Collude)];
        if identities > 0 {
            groups.push(AdversaryGroup {
                fraction: 0.0,
                count: 1,
                strategy: Adversary::Sybil {
                    at: 20,
                    identities,
                    strategy: COLLUDE,
                },
            });
        }
        run(scenario(ConsensusRule::Bft, 300, groups))
    };
    // 60 of 300, then 91 of 330: below a third, BFT still accepts the real signatures and the network immunises.
    for identities in [0, 30] {
        let totals = with_sybils(identities);
        assert!(
            totals.counts.signatures_accepted_true > 0 && totals.time_to_immunity[0].is_some(),
            "{identities} sybils: {totals:?}"
        );
    }
    // 141 of 380: past a third, the colluders' no ballots reach f+1 first and every real signature is rejected.
    let broken = with_sybils(80);
    assert_eq!(broken.counts.signatures_accepted_true, 0, "{broken:?}");
    assert!(broken.counts.signatures_rejected > 50, "{broken:?}");
    // Defence: admission control. BFT's bound is on identities, so identities must cost something.
}

#[test]
fn forwarders_that_swallow_ballots_starve_the_tallier_but_not_snowball() {
    let forwarders = |drop| vec![group(0.3, Adversary::SelectiveForwarding { drop })];
    let bft = |drop| {
        let mut config = scenario(ConsensusRule::Bft, 300, forwarders(drop));
        config.network.topology = Topology::WattsStrogatz;
        config
    };
    // Ballots travel back up the announcement's path: a forwarder that relays announcements but drops ballots
    // sits on those paths and swallows them, so no tally reaches 2f+1 and nothing is accepted.
    let gray = run(bft(Dropped::Ballots));
    assert_eq!(gray.accepted(), 0, "{gray:?}");
    assert!(gray.time_to_immunity[0].is_none(), "{gray:?}");
    // One that drops everything is never on a ballot's path (nobody hears an announcement through it): the
    // network routes around it and still immunises.
    let black = run(bft(Dropped::All));
    assert!(black.time_to_immunity[0].is_some(), "{black:?}");
    // Defence: Snowball, whose queries and answers go straight to the sampled peer, with no tallier to starve.
    let mut snowball = bft(Dropped::Ballots);
    snowball.consensus.rule = ConsensusRule::Snowball;
    let snowball = run(snowball);
    assert!(snowball.time_to_immunity[0].is_some(), "{snowball:?}");
}

/// Recall of the forests of `agents` (their flagged share of the attack samples that got past their blacklist),
/// summed over the run.
fn recall_of(config: SimConfig, agents: &[u32]) -> f64 {
    let mut simulation = Simulation::new(config, Box::new(dais::ledger::DiscardSink));
    let (mut caught, mut missed) = (0u64, 0u64);
    while !simulation.finished() {
        simulation.step();
        let world = simulation.world_mut();
        for (agent, counts) in world.query::<(&Agent, &TickCounts)>().iter(world) {
            if agents.binary_search(&agent.index).is_ok() {
                caught += u64::from(counts.true_positive);
                missed += u64::from(counts.false_negative);
            }
        }
    }
    assert!(
        caught + missed > 100,
        "the targets saw the campaign: {caught} caught, {missed} missed, {} agents",
        agents.len()
    );
    caught as f64 / (caught + missed) as f64
}

#[test]
fn poisoning_lowers_recall_on_the_poisoned_agents() {
    let poison = AdversaryGroup {
        fraction: 0.0,
        count: 10,
        strategy: Adversary::Poisoning {
            campaign: 0,
            samples_per_tick: 4,
        },
    };
    let mut poisoned = scenario(ConsensusRule::Bft, 120, vec![poison]);
    // Immunity would soon block the campaign everywhere; this test is about the forests, so the only agent whose
    // ballot could accept a signature (not the campaign's origin) is gone from the start.
    poisoned.consensus.rule = ConsensusRule::CentralAuthority;
    poisoned.consensus.authority = 150;
    poisoned.faults.targeted_crashes = vec![dais::config::TargetedCrash {
        tick: 1,
        target: dais::config::CrashTarget::Authority,
    }];
    // The targets: honest neighbours of the poisoners.
    let mut simulation = Simulation::new(poisoned.clone(), Box::new(dais::ledger::DiscardSink));
    simulation.step();
    let world = simulation.world_mut();
    let poisoners: Vec<u32> = world
        .query::<(&Agent, &Insider)>()
        .iter(world)
        .map(|(a, _)| a.index)
        .collect();
    let network = world.resource::<dais::sim::network::Network>();
    let mut targets: Vec<u32> = poisoners
        .iter()
        .flat_map(|&p| network.neighbours(p).to_vec())
        .filter(|t| !poisoners.contains(t))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let mut clean = poisoned.clone();
    clean.faults.adversaries.clear();
    let (before, after) = (recall_of(clean, &targets), recall_of(poisoned, &targets));
    eprintln!(
        "recall on the {} poisoned agents: {before:.3} clean, {after:.3} poisoned",
        targets.len()
    );
    assert!(
        after < before - 0.2,
        "recall on the poisoned agents fell from {before:.2} to {after:.2}"
    );
    // Defence: the blacklist. Signatures other agents propose block the campaign whatever the forest learned.
}
