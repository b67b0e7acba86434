//! Faults: which agents are byzantine (and how they lie) and which crash, and when. Both are drawn once from the
//! seeded roles stream, disjoint from each other, so the same seed always picks the same culprits. Targeted crashes
//! add the hubs, the authority or listed agents at their tick. Churn crashes live agents at random and brings them
//! back; a returning agent's honest neighbours send it the acceptances it missed.

use bevy::prelude::*;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use super::AgentDirectory;
use super::clock::SimClock;
use super::components::*;
use super::network::Network;
use crate::config::{CrashTarget, FaultsConfig, SimConfig};

/// When each agent crashes, if ever.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashPlan {
    pub at: Option<u32>,
}

/// Draws every agent's role and crash plan.
pub fn assign(
    faults: &FaultsConfig,
    agents: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<(Role, CrashPlan)> {
    cast(faults, &draw_order(agents, rng))
}

/// The seeded order in which agents are drawn for roles: Byzantine first, then crashing, then the adversary
/// groups (`adversaries::draw_insiders`).
pub fn draw_order(agents: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..agents).collect();
    for i in (1..agents).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

/// The Byzantine and crashing agents, taken from the front of `order`.
pub fn cast(faults: &FaultsConfig, order: &[usize]) -> Vec<(Role, CrashPlan)> {
    let agents = order.len();
    let byzantine = byzantine_count(faults, agents);
    let crashed = crashed_count(faults, agents);
    let mut plan = vec![(Role::Honest, CrashPlan::default()); agents];
    for &agent in &order[..byzantine] {
        plan[agent].0 = Role::Byzantine(faults.byzantine_strategy);
    }
    for &agent in &order[byzantine..byzantine + crashed] {
        plan[agent].1 = CrashPlan {
            at: Some(faults.crash_tick),
        };
    }
    plan
}

/// How many agents the configured crash fraction crashes (never one already Byzantine).
pub fn crashed_count(faults: &FaultsConfig, agents: usize) -> usize {
    ((faults.crash_fraction * agents as f64).round() as usize)
        .min(agents - byzantine_count(faults, agents))
}

/// Every identity that is not honest by the ground truth: the Byzantine agents, the adversary groups' members and
/// the identities Sybil attackers bring.
pub fn adversary_count(config: &SimConfig) -> usize {
    let agents = config.simulation.agents;
    byzantine_count(&config.faults, agents)
        + config
            .faults
            .adversaries
            .iter()
            .map(|g| g.size(agents) * (1 + g.sybil_identities()))
            .sum::<usize>()
}

/// How many of `agents` the configured Byzantine fraction makes Byzantine.
pub fn byzantine_count(faults: &FaultsConfig, agents: usize) -> usize {
    (faults.byzantine_fraction * agents as f64).round() as usize
}

/// Adds the targeted crashes to the plan: each target crashes at its tick, or earlier if already planned.
pub fn target_crashes(plan: &mut [(Role, CrashPlan)], config: &SimConfig, network: &Network) {
    for crash in &config.faults.targeted_crashes {
        let targets: Vec<usize> = match &crash.target {
            CrashTarget::Hubs(k) => hubs(network, *k),
            CrashTarget::Authority => vec![config.consensus.authority],
            CrashTarget::Agents(list) => list.clone(),
        };
        for agent in targets {
            if let Some((_, planned)) = plan.get_mut(agent) {
                planned.at = Some(planned.at.map_or(crash.tick, |at| at.min(crash.tick)));
            }
        }
    }
}

/// The `k` agents with the most links, ties to the lower index.
pub fn hubs(network: &Network, k: usize) -> Vec<usize> {
    let mut by_degree: Vec<usize> = (0..network.agents()).collect();
    by_degree.sort_by_key(|&a| (std::cmp::Reverse(network.neighbours(a as u32).len()), a));
    by_degree.truncate(k);
    by_degree
}

/// Agents whose crash tick has come stop for good.
pub(super) fn crash_agents(
    clock: Res<SimClock>,
    mut churn: ResMut<Churn>,
    mut agents: Query<(&Agent, &CrashPlan, &mut Liveness)>,
) {
    for (agent, plan, mut liveness) in &mut agents {
        if plan.at.is_some_and(|at| clock.tick >= at) {
            if liveness.is_up() {
                *liveness = Liveness::Crashed { since: clock.tick };
            }
            // A planned crash is for good, even of an agent churn had taken down for a while.
            if let Some(until) = churn.down_until.get_mut(agent.index as usize) {
                *until = None;
            }
        }
    }
}

/// Churn's state: when each agent churned down comes back, and the stream its draws come from.
#[derive(Resource, Debug)]
pub struct Churn {
    pub down_until: Vec<Option<u32>>,
    /// Agents that came back this tick.
    pub recovered: Vec<AgentIdx>,
    rng: ChaCha8Rng,
}

impl Churn {
    pub fn new(agents: usize, rng: ChaCha8Rng) -> Self {
        Self {
            down_until: vec![None; agents],
            recovered: Vec::new(),
            rng,
        }
    }
}

/// A geometric number of ticks (at least 1) with mean `mean`.
fn downtime(rng: &mut ChaCha8Rng, mean: u32) -> u32 {
    if mean <= 1 {
        return 1;
    }
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let stay = 1.0 - 1.0 / f64::from(mean);
    (u.ln() / stay.ln()).ceil().max(1.0) as u32
}

/// Churn, in agent order: agents due back come up, then each live agent crashes with the configured chance. Draws
/// nothing when churn is off.
pub(super) fn churn_agents(
    clock: Res<SimClock>,
    settings: Res<super::SimSettings>,
    directory: Res<AgentDirectory>,
    mut churn: ResMut<Churn>,
    mut agents: Query<&mut Liveness>,
) {
    let config = &settings.config.faults.churn;
    let now = clock.tick;
    let churn = &mut *churn;
    churn.recovered.clear();
    if config.crash_probability <= 0.0 {
        return;
    }
    for (index, &entity) in directory.agents.iter().enumerate() {
        let Ok(mut liveness) = agents.get_mut(entity) else {
            continue;
        };
        match churn.down_until[index] {
            Some(until) if until <= now => {
                churn.down_until[index] = None;
                *liveness = Liveness::Up;
                churn.recovered.push(index as AgentIdx);
            }
            Some(_) => {}
            None if liveness.is_up() && churn.rng.random_bool(config.crash_probability) => {
                *liveness = Liveness::Crashed { since: now };
                churn.down_until[index] =
                    Some(now + downtime(&mut churn.rng, config.mean_downtime));
            }
            None => {}
        }
    }
}

/// Each agent back from churn asks its neighbours what it missed: every live honest neighbour sends it, directly,
/// the certified acceptances in its own blacklist. They arrive as decisions that go no further.
pub(super) fn send_missed_decisions(
    clock: Res<SimClock>,
    churn: Res<Churn>,
    directory: Res<AgentDirectory>,
    network: Res<Network>,
    mut agents: Query<(&Role, &Liveness, &Blacklist, &mut Outbox)>,
) {
    for &back in &churn.recovered {
        for &neighbour in network.neighbours(back) {
            let Ok((role, liveness, blacklist, mut outbox)) =
                agents.get_mut(directory.agents[neighbour as usize])
            else {
                continue;
            };
            if !role.is_honest() || !liveness.is_up() {
                continue;
            }
            for &sig in &blacklist.entries {
                outbox.messages.push(Outgoing {
                    made_at: clock.tick,
                    to: Destination::One(back),
                    payload: Payload::Decision {
                        sig,
                        certified_acceptance: true,
                        ttl: 1,
                    },
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ByzantineStrategy;
    use crate::sim::rng::stream;

    #[test]
    fn downtimes_are_geometric_with_the_configured_mean() {
        let mut rng = stream(3, 4);
        let draws: Vec<u32> = (0..20_000).map(|_| downtime(&mut rng, 20)).collect();
        let mean = draws.iter().map(|&d| f64::from(d)).sum::<f64>() / draws.len() as f64;
        assert!((mean - 20.0).abs() < 0.6, "mean {mean}");
        assert!(draws.iter().all(|&d| d >= 1));
        assert_eq!(downtime(&mut rng, 1), 1);
    }

    #[test]
    fn targeted_crashes_take_the_hubs_the_authority_or_a_list_at_their_tick() {
        let network =
            Network::from_adjacency(vec![vec![1, 2, 3], vec![0, 2], vec![0, 1], vec![0], vec![]]);
        assert_eq!(hubs(&network, 3), vec![0, 1, 2]);
        let mut config = SimConfig::default();
        config.consensus.authority = 4;
        config.faults.targeted_crashes = vec![
            crate::config::TargetedCrash {
                tick: 30,
                target: CrashTarget::Hubs(1),
            },
            crate::config::TargetedCrash {
                tick: 50,
                target: CrashTarget::Authority,
            },
            crate::config::TargetedCrash {
                tick: 20,
                target: CrashTarget::Agents(vec![0, 3]),
            },
        ];
        let mut plan = vec![(Role::Honest, CrashPlan::default()); 5];
        plan[3].1.at = Some(10);
        target_crashes(&mut plan, &config, &network);
        let at: Vec<Option<u32>> = plan.iter().map(|p| p.1.at).collect();
        assert_eq!(at, vec![Some(20), None, None, Some(10), Some(50)]);
    }

    #[test]
    fn fractions_are_respected_and_disjoint() {
        let faults = FaultsConfig {
            byzantine_fraction: 0.3,
            byzantine_strategy: ByzantineStrategy::Forge,
            crash_fraction: 0.2,
            crash_tick: 9,
            ..FaultsConfig::default()
        };
        let plan = assign(&faults, 100, &mut stream(1, 1));
        let byzantine = plan.iter().filter(|p| !p.0.is_honest()).count();
        let crashing = plan.iter().filter(|p| p.1.at == Some(9)).count();
        assert_eq!((byzantine, crashing), (30, 20));
        assert!(plan.iter().all(|p| p.0.is_honest() || p.1.at.is_none()));
        assert_eq!(plan, assign(&faults, 100, &mut stream(1, 1)));
    }
}
