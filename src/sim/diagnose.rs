//! Settings that stop the defence in a way one can explain, found before the run: a voting window shorter than a
//! ballot's round trip, more faulty agents than the rule tolerates, a quorum larger than the network, an authority
//! set to crash. The view shows each as a hint naming the setting, so a class is not left wondering why nothing is
//! ever accepted.

use std::collections::VecDeque;

use super::links::LinkLatency;
use super::network::Network;
use crate::config::{ConsensusRule, CrashTarget, SimConfig};

/// Agents whose distances are averaged: enough for a stable mean, cheap on any network the view draws.
const SAMPLED_AGENTS: usize = 32;

/// Hop counts from `from` to every agent it reaches.
fn hops_from(network: &Network, from: u32) -> Vec<u32> {
    let mut hops = vec![u32::MAX; network.agents()];
    let mut queue = VecDeque::from([from]);
    hops[from as usize] = 0;
    while let Some(at) = queue.pop_front() {
        for &next in network.neighbours(at) {
            if hops[next as usize] == u32::MAX {
                hops[next as usize] = hops[at as usize] + 1;
                queue.push_back(next);
            }
        }
    }
    hops
}

/// The mean, over evenly spaced agents, of the hops within which two thirds of the agents lie: how far a tallier's
/// announcement must travel, and its ballots come back, before a BFT tally (2f+1) can close.
fn mean_reach(network: &Network) -> f64 {
    let n = network.agents();
    if n == 0 {
        return 0.0;
    }
    let step = n.div_ceil(SAMPLED_AGENTS).max(1);
    let needed = (2 * n).div_ceil(3).max(1);
    let sampled: Vec<f64> = (0..n)
        .step_by(step)
        .map(|a| {
            let mut hops = hops_from(network, a as u32);
            hops.sort_unstable();
            f64::from(hops[needed - 1].min(n as u32))
        })
        .collect();
    sampled.iter().sum::<f64>() / sampled.len() as f64
}

/// Each setting of `config` on `network` that stops the defence, as a sentence naming the setting.
pub fn hints(config: &SimConfig, network: &Network) -> Vec<String> {
    let mut hints = Vec::new();
    let rules = &config.consensus;
    let agents = config.population();
    if rules.rule != ConsensusRule::Snowball && rules.rule != ConsensusRule::CentralAuthority {
        let hops = mean_reach(network);
        let latency = LinkLatency::new(&config.network, config.simulation.seed).max();
        let round_trip = 2.0 * hops * f64::from(latency);
        if round_trip > f64::from(rules.voting_window) {
            hints.push(format!(
                "consensus.voting_window = {} ticks is shorter than a ballot's round trip here (about {round_trip:.0} \
                 ticks: {hops:.0} hops out to two thirds of the agents and back, {latency} tick(s) a hop), so \
                 tallies close before enough ballots arrive and signatures expire: raise it, or use a \
                 better-connected network.topology",
                rules.voting_window
            ));
        }
    }
    let faulty = (super::faults::adversary_count(config)
        + super::faults::crashed_count(&config.faults, config.simulation.agents))
        as f64
        / agents.max(1) as f64;
    if matches!(rules.rule, ConsensusRule::Bft | ConsensusRule::Committee) && faulty >= 1.0 / 3.0 {
        hints.push(format!(
            "faults: {:.0}% of the agents are Byzantine or crash, and BFT tolerates fewer than a third: 2f+1 \
             honest yes ballots may never come, and colluders' no ballots reject real signatures",
            faulty * 100.0
        ));
    }
    if rules.rule == ConsensusRule::Quorum && rules.quorum > agents {
        hints.push(format!(
            "consensus.quorum = {} is more than the {agents} agents: no signature can be accepted",
            rules.quorum
        ));
    }
    if rules.rule == ConsensusRule::CentralAuthority {
        let crash = config
            .faults
            .targeted_crashes
            .iter()
            .filter(|c| matches!(c.target, CrashTarget::Authority))
            .map(|c| c.tick)
            .min();
        if let Some(tick) = crash {
            hints.push(format!(
                "faults.targeted_crashes: the central authority (agent {}) crashes at tick {tick}; after that no \
                 signature is decided: the single point of failure",
                rules.authority
            ));
        }
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Topology;

    fn network_of(config: &SimConfig) -> Network {
        super::super::network::build(
            &config.network,
            config.simulation.agents,
            &mut super::super::rng::stream(
                config.simulation.seed,
                super::super::rng::STREAM_TOPOLOGY,
            ),
        )
    }

    #[test]
    fn a_ring_too_long_for_the_voting_window_is_named_and_the_default_is_not() {
        let mut config = crate::config::load::scenario("classroom").unwrap();
        assert!(hints(&config, &network_of(&config)).is_empty());
        config.network.topology = Topology::Ring;
        let found = hints(&config, &network_of(&config));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("consensus.voting_window = 30 ticks"),
            "{found:?}"
        );
        config.consensus.voting_window = 60;
        let after = hints(&config, &network_of(&config));
        assert!(after.is_empty(), "{after:?}");
    }

    #[test]
    fn faults_beyond_the_rule_and_a_crashing_authority_are_named() {
        let mut config = SimConfig::default();
        config.faults.byzantine_fraction = 0.4;
        let found = hints(&config, &network_of(&config));
        assert!(
            found.iter().any(|h| h.starts_with("faults: 40%")),
            "{found:?}"
        );
        config.faults.byzantine_fraction = 0.0;
        config.consensus.rule = ConsensusRule::CentralAuthority;
        config.faults.targeted_crashes = vec![crate::config::TargetedCrash {
            tick: 50,
            target: CrashTarget::Authority,
        }];
        let found = hints(&config, &network_of(&config));
        assert!(found[0].contains("crashes at tick 50"), "{found:?}");
    }
}
