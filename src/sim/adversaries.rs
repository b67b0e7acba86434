//! Adversary groups (`faults.adversaries`): insiders whose behaviour changes over the run or works outside the vote.
//! Each member carries an [`Insider`] component with its group's strategy. Its `Role` is what it does *now*: a
//! betrayer is honest until its tick, an on-off agent switches by period, so the stages that read `Role` need not
//! know about groups. What does not fit a role lives here: Sybil identities joining, poisoned training windows,
//! whitewashing's fresh identities; selective forwarding is applied where messages leave (`gossip`).
//!
//! Ground truth (metrics, the ledger's `agents` table) counts every insider as an adversary, whatever its role at
//! the moment.

use bevy::prelude::*;
use rand_distr::StandardNormal;

use super::AgentDirectory;
use super::clock::SimClock;
use super::components::*;
use super::consensus::TrustSnapshot;
use super::network::Network;
use super::traffic::Campaigns;
use crate::config::{Adversary, ByzantineStrategy, Dropped, SimConfig};

/// A member of an adversary group, or an identity a Sybil attacker brought.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Insider {
    pub group: u32,
    pub strategy: Adversary,
    /// For a Sybil identity: the attacker that controls it.
    pub identity_of: Option<AgentIdx>,
    /// Times a whitewasher has left and come back under a new identity.
    pub rejoined: u32,
}

impl Insider {
    /// What the insider does at `tick`.
    pub fn role_at(&self, tick: u32) -> Role {
        match self.strategy {
            Adversary::AlwaysYes => Role::Byzantine(ByzantineStrategy::AlwaysYes),
            Adversary::AlwaysNo => Role::Byzantine(ByzantineStrategy::AlwaysNo),
            Adversary::Forge => Role::Byzantine(ByzantineStrategy::Forge),
            Adversary::Collude => Role::Byzantine(ByzantineStrategy::Collude),
            Adversary::Betrayal { at, then } if tick >= at => Role::Byzantine(then),
            Adversary::Betrayal { .. } => Role::Honest,
            Adversary::OnOff {
                honest,
                malicious,
                strategy,
            } => {
                if tick % (honest + malicious) < honest {
                    Role::Honest
                } else {
                    Role::Byzantine(strategy)
                }
            }
            Adversary::Sybil { strategy, .. } | Adversary::Whitewashing { strategy, .. } => {
                Role::Byzantine(strategy)
            }
            Adversary::SelectiveForwarding { .. } | Adversary::Poisoning { .. } => Role::Honest,
        }
    }

    /// The kind of relayed message this insider drops, if it is a selective forwarder.
    pub fn drops(&self) -> Option<Dropped> {
        match self.strategy {
            Adversary::SelectiveForwarding { drop } => Some(drop),
            _ => None,
        }
    }

    /// How the ledger's `agents` table names it.
    pub fn ledger_role(&self) -> String {
        match self.identity_of {
            Some(attacker) => format!("sybil identity of agent {attacker}"),
            None => format!(
                "adversary group {}: {}",
                self.group,
                ron::to_string(&self.strategy).unwrap_or_default()
            ),
        }
    }
}

/// Whether an agent counts as an adversary in the ground truth: Byzantine now, or a member of a group.
pub fn is_adversary(role: Role, insider: Option<&Insider>) -> bool {
    !role.is_honest() || insider.is_some()
}

/// Every insider of the run by agent index (`None` for the others): the groups' members drawn from `order` after
/// the first `skip` agents (the Byzantine and crashing ones), then the Sybil identities, which take the indices
/// after the real agents, group by group and attacker by attacker (in index order).
pub fn draw_insiders(config: &SimConfig, order: &[usize], skip: usize) -> Vec<Option<Insider>> {
    let agents = config.simulation.agents;
    let mut insiders: Vec<Option<Insider>> = vec![None; config.population()];
    let mut next = skip;
    let mut next_identity = agents;
    for (group, settings) in config.faults.adversaries.iter().enumerate() {
        let size = settings.size(agents);
        let mut members: Vec<usize> = order[next..next + size].to_vec();
        next += size;
        members.sort_unstable();
        for &member in &members {
            insiders[member] = Some(Insider {
                group: group as u32,
                strategy: settings.strategy.clone(),
                identity_of: None,
                rejoined: 0,
            });
        }
        for &attacker in &members {
            for _ in 0..settings.sybil_identities() {
                insiders[next_identity] = Some(Insider {
                    group: group as u32,
                    strategy: settings.strategy.clone(),
                    identity_of: Some(attacker as AgentIdx),
                    rejoined: 0,
                });
                next_identity += 1;
            }
        }
    }
    insiders
}

/// The network with each Sybil identity attached where its attacker is: linked to the attacker and to every one of
/// its neighbours.
pub fn attach_identities(network: &Network, insiders: &[Option<Insider>]) -> Network {
    let real = network.agents();
    if insiders.len() == real {
        return network.clone();
    }
    let mut adjacency: Vec<Vec<u32>> = (0..real as u32)
        .map(|a| network.neighbours(a).to_vec())
        .collect();
    adjacency.resize(insiders.len(), Vec::new());
    for (identity, insider) in insiders.iter().enumerate().skip(real) {
        let Some(attacker) = insider.as_ref().and_then(|i| i.identity_of) else {
            continue;
        };
        let mut place = network.neighbours(attacker).to_vec();
        place.push(attacker);
        for peer in place {
            adjacency[identity].push(peer);
            adjacency[peer as usize].push(identity as u32);
        }
    }
    Network::from_adjacency(adjacency)
}

/// Each insider's role follows its schedule, and Sybil identities whose tick has come join the network.
pub(super) fn act_insiders(
    clock: Res<SimClock>,
    mut insiders: Query<(&Insider, &mut Role, &mut Liveness)>,
) {
    let now = clock.tick;
    for (insider, mut role, mut liveness) in &mut insiders {
        let acting = insider.role_at(now);
        if *role != acting {
            *role = acting;
        }
        if let (Some(_), Adversary::Sybil { at, .. }) = (insider.identity_of, &insider.strategy)
            && *liveness == Liveness::Absent
            && now >= *at
        {
            *liveness = Liveness::Up;
        }
    }
}

/// Poisoners, in agent order, slip their campaign's samples into each live neighbour's training window until the
/// campaign starts. The samples are drawn at the neighbour's own profile, as the campaign will reach it, from the
/// poisoner's stream.
pub(super) fn poison_windows(
    tick: super::TickContext,
    directory: Res<AgentDirectory>,
    network: Res<Network>,
    campaigns: Res<Campaigns>,
    poisoners: Query<(&Agent, &Insider, &Liveness)>,
    mut rngs: Query<&mut AgentRng>,
    mut targets: Query<(&Liveness, &NormalProfile, &mut Detector)>,
) {
    let now = tick.now();
    let window = tick.config().detector.window;
    let mut plan: Vec<(AgentIdx, usize, usize)> = poisoners
        .iter()
        .filter_map(|(agent, insider, liveness)| match insider.strategy {
            Adversary::Poisoning {
                campaign,
                samples_per_tick,
            } if liveness.is_up() && now < campaigns.list[campaign].start_tick => {
                Some((agent.index, campaign, samples_per_tick))
            }
            _ => None,
        })
        .collect();
    plan.sort_unstable();
    for (poisoner, campaign, samples) in plan {
        for &target in network.neighbours(poisoner) {
            let Ok((liveness, profile, mut detector)) =
                targets.get_mut(directory.agents[target as usize])
            else {
                continue;
            };
            if !liveness.is_up() {
                continue;
            }
            let Ok(mut rng) = rngs.get_mut(directory.agents[poisoner as usize]) else {
                continue;
            };
            for _ in 0..samples {
                let draw: Features = std::array::from_fn(|_| {
                    rand::RngExt::sample::<f32, _>(&mut rng.0, StandardNormal)
                });
                let sample =
                    campaigns.list[campaign].sample_at(profile, campaigns.attack_noise, &draw);
                // Planted behind Detect's back: checked against nothing.
                detector.window.push(sample, 0, window);
            }
        }
    }
}

/// A whitewasher whose trust fell below its threshold leaves and comes back as a newcomer: its record is wiped.
/// Runs after the tick's reputations moved, in agent order.
pub(super) fn whitewash(
    mut trust: ResMut<TrustSnapshot>,
    mut insiders: Query<(&Agent, &mut Insider, &mut Reputation)>,
) {
    for (agent, mut insider, mut reputation) in &mut insiders {
        let Adversary::Whitewashing { threshold, .. } = insider.strategy else {
            continue;
        };
        if reputation.trust() < threshold {
            *reputation = Reputation::default();
            trust.trust[agent.index as usize] = reputation.trust();
            insider.rejoined += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AdversaryGroup;

    fn insider(strategy: Adversary) -> Insider {
        Insider {
            group: 0,
            strategy,
            identity_of: None,
            rejoined: 0,
        }
    }

    #[test]
    fn betrayal_and_on_off_follow_their_schedules() {
        let collude = Role::Byzantine(ByzantineStrategy::Collude);
        let betrayer = insider(Adversary::Betrayal {
            at: 100,
            then: ByzantineStrategy::Collude,
        });
        assert_eq!(betrayer.role_at(99), Role::Honest);
        assert_eq!(betrayer.role_at(100), collude);
        let on_off = insider(Adversary::OnOff {
            honest: 3,
            malicious: 2,
            strategy: ByzantineStrategy::Collude,
        });
        let roles: Vec<bool> = (0..10).map(|t| on_off.role_at(t).is_honest()).collect();
        assert_eq!(
            roles,
            [
                true, true, true, false, false, true, true, true, false, false
            ]
        );
        let forwarder = insider(Adversary::SelectiveForwarding {
            drop: Dropped::Ballots,
        });
        assert_eq!(forwarder.role_at(5), Role::Honest);
        assert_eq!(forwarder.drops(), Some(Dropped::Ballots));
        assert!(is_adversary(Role::Honest, Some(&forwarder)));
        assert!(!is_adversary(Role::Honest, None));
    }

    #[test]
    fn sybil_identities_follow_the_real_agents_and_sit_where_their_attacker_is() {
        let mut config = SimConfig::default();
        config.simulation.agents = 6;
        config.faults.adversaries = vec![AdversaryGroup {
            fraction: 0.0,
            count: 1,
            strategy: Adversary::Sybil {
                at: 10,
                identities: 2,
                strategy: ByzantineStrategy::Collude,
            },
        }];
        assert_eq!(config.population(), 8);
        let order = [4, 2, 0, 1, 3, 5];
        let insiders = draw_insiders(&config, &order, 1);
        assert_eq!(insiders.len(), 8);
        assert_eq!(insiders[2].as_ref().map(|i| i.identity_of), Some(None));
        assert_eq!(insiders[6].as_ref().and_then(|i| i.identity_of), Some(2));
        assert_eq!(insiders[7].as_ref().and_then(|i| i.identity_of), Some(2));
        assert!(
            insiders[4].is_none(),
            "the agents skipped stay as drawn before"
        );
        let line = Network::from_adjacency(vec![
            vec![1],
            vec![0, 2],
            vec![1, 3],
            vec![2, 4],
            vec![3, 5],
            vec![4],
        ]);
        let grown = attach_identities(&line, &insiders);
        assert_eq!(grown.agents(), 8);
        assert_eq!(grown.neighbours(6), &[1, 2, 3]);
        assert_eq!(grown.neighbours(2), &[1, 3, 6, 7]);
        assert_eq!(grown.neighbours(0), line.neighbours(0));
    }
}
