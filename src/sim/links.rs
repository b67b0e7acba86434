//! What a link does to a message on its way: how long it takes (a latency per link, drawn once from the run seed),
//! how many it carries per tick (the rest queue behind them), and whether a partition cuts it. Gossip asks this
//! for every transmission; with the defaults (constant latency, no bandwidth limit, no partitions) it answers
//! without drawing anything, so runs that use none of it are unchanged.

use std::collections::HashMap;

use bevy::prelude::*;

use super::components::AgentIdx;
use super::network::Network;
use crate::config::{Cut, LatencyDistribution, NetworkConfig, PartitionConfig};

/// Each link's latency and queue, as gossip sends over them.
#[derive(Resource, Clone, Debug)]
pub struct Links {
    pub latency: LinkLatency,
    pub queues: LinkQueues,
}

/// A log-normal latency is capped this many sigmas above its median, so that a round's timeout stays finite.
pub const LOG_NORMAL_MAX_SIGMAS: f64 = 3.0;

/// Every link's latency: a pure function of the run seed and the pair, so it needs no table and any two agents
/// (neighbours or not, as Snowball's direct queries are) have one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkLatency {
    constant: u32,
    distribution: LatencyDistribution,
    seed: u64,
}

impl LinkLatency {
    pub fn new(config: &NetworkConfig, seed: u64) -> Self {
        Self {
            constant: config.latency,
            distribution: config.latency_distribution,
            seed,
        }
    }

    /// Ticks a message takes from `a` to `b` (the same both ways).
    pub fn between(&self, a: AgentIdx, b: AgentIdx) -> u32 {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let key = self.seed ^ (u64::from(lo) << 32 | u64::from(hi));
        match self.distribution {
            LatencyDistribution::Constant => self.constant,
            LatencyDistribution::Uniform { min, max } => {
                let span = u64::from(max - min) + 1;
                min + (splitmix64(key) % span) as u32
            }
            LatencyDistribution::LogNormal { median, sigma } => {
                // Box–Muller from two independent uniforms in (0, 1].
                let u1 = unit_interval(splitmix64(key));
                let u2 = unit_interval(splitmix64(key ^ 0x9e37_79b9_7f4a_7c15));
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let z = z.min(LOG_NORMAL_MAX_SIGMAS);
                ((median * (sigma * z).exp()).round() as u32).max(1)
            }
        }
    }

    /// The longest any link takes: how long to wait before no more answers can come.
    pub fn max(&self) -> u32 {
        match self.distribution {
            LatencyDistribution::Constant => self.constant,
            LatencyDistribution::Uniform { max, .. } => max,
            LatencyDistribution::LogNormal { median, sigma } => {
                ((median * (sigma * LOG_NORMAL_MAX_SIGMAS).exp()).round() as u32).max(1)
            }
        }
    }
}

/// SplitMix64: a fast, well-mixed hash of one word (Steele, Lea and Flood 2014).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A word's top 53 bits as a float in (0, 1].
fn unit_interval(x: u64) -> f64 {
    ((x >> 11) + 1) as f64 / (1u64 << 53) as f64
}

/// Per-link queues under a bandwidth limit: for each directed link in use, the tick its queue has reached and how
/// many messages already leave in that tick. Only looked up by key, never iterated in an order that matters.
#[derive(Clone, Debug, Default)]
pub struct LinkQueues {
    bandwidth: u32,
    queues: HashMap<(AgentIdx, AgentIdx), (u32, u32)>,
}

impl LinkQueues {
    pub fn new(bandwidth: u32) -> Self {
        Self {
            bandwidth,
            queues: HashMap::new(),
        }
    }

    /// Ticks a message sent over `from -> to` at `now` waits in the link's queue before it leaves (0 without a
    /// limit, or while the link has room this tick).
    pub fn wait(&mut self, from: AgentIdx, to: AgentIdx, now: u32) -> u32 {
        if self.bandwidth == 0 {
            return 0;
        }
        let queue = self.queues.entry((from, to)).or_insert((now, 0));
        if queue.0 < now {
            *queue = (now, 0);
        }
        if queue.1 >= self.bandwidth {
            *queue = (queue.0 + 1, 0);
        }
        queue.1 += 1;
        queue.0 - now
    }

    /// Drops the queues that have drained by `now`, so memory follows the links in use, not all ever used.
    pub fn forget_drained(&mut self, now: u32) {
        if self.queues.len() > 4096 {
            self.queues.retain(|_, (tick, _)| *tick >= now);
        }
    }

    /// Heap bytes of the queues of links in use, for the state byte count (`retention::state_bytes`).
    pub fn heap_bytes(&self) -> usize {
        self.queues.capacity() * (std::mem::size_of::<((AgentIdx, AgentIdx), (u32, u32))>() + 1)
    }
}

/// The configured partitions, each with the agents on its far side.
#[derive(Resource, Clone, Debug, Default)]
pub struct Partitions {
    cuts: Vec<ActiveCut>,
    /// Links cut by interventions, lower index first: they carry nothing until restored.
    pub cut_links: std::collections::BTreeSet<(AgentIdx, AgentIdx)>,
}

#[derive(Clone, Debug)]
struct ActiveCut {
    from: u32,
    heal: u32,
    far_side: Vec<bool>,
}

impl Partitions {
    pub fn new(configs: &[PartitionConfig], network: &Network, seed: u64) -> Self {
        let cuts = configs
            .iter()
            .enumerate()
            .map(|(i, partition)| ActiveCut {
                from: partition.tick,
                heal: partition.heal,
                far_side: far_side(&partition.cut, network, seed, i as u64),
            })
            .collect();
        Self {
            cuts,
            cut_links: Default::default(),
        }
    }

    /// Whether an intervention has cut the link between `a` and `b`.
    pub fn link_cut(&self, a: AgentIdx, b: AgentIdx) -> bool {
        !self.cut_links.is_empty()
            && self
                .cut_links
                .contains(&crate::config::interventions::link(a as usize, b as usize))
    }

    /// Whether a cut (a partition, or an intervention's cut link) separates `a` from `b` at `tick`.
    pub fn separates(&self, tick: u32, a: AgentIdx, b: AgentIdx) -> bool {
        self.link_cut(a, b)
            || self.cuts.iter().any(|cut| {
                (cut.from..cut.heal).contains(&tick)
                    && cut.far_side[a as usize] != cut.far_side[b as usize]
            })
    }

    /// The agents on the far side of partition `i` (empty if there is no such partition).
    pub fn far_side(&self, i: usize) -> Vec<AgentIdx> {
        self.cuts.get(i).map_or_else(Vec::new, |cut| {
            (0..cut.far_side.len() as AgentIdx)
                .filter(|&a| cut.far_side[a as usize])
                .collect()
        })
    }
}

/// The far side of a cut: the listed agents, or half the network grown breadth-first from a seeded agent.
fn far_side(cut: &Cut, network: &Network, seed: u64, partition: u64) -> Vec<bool> {
    let n = network.agents();
    let mut side = vec![false; n];
    match cut {
        Cut::Agents(list) => {
            for &a in list {
                side[a] = true;
            }
        }
        Cut::Bisection => {
            if n == 0 {
                return side;
            }
            let start = (splitmix64(seed ^ (partition + 1).wrapping_mul(0x5851_f42d_4c95_7f2d))
                % n as u64) as u32;
            let mut queue = std::collections::VecDeque::from([start]);
            side[start as usize] = true;
            let mut taken = 1;
            // Breadth-first from the start; if the start's component is smaller than half, go on from the lowest
            // agent not yet taken.
            let mut next_seed = 0usize;
            while taken < n / 2 {
                let Some(agent) = queue.pop_front() else {
                    while side[next_seed] {
                        next_seed += 1;
                    }
                    side[next_seed] = true;
                    taken += 1;
                    queue.push_back(next_seed as u32);
                    continue;
                };
                for &next in network.neighbours(agent) {
                    if taken < n / 2 && !side[next as usize] {
                        side[next as usize] = true;
                        taken += 1;
                        queue.push_back(next);
                    }
                }
            }
        }
    }
    side
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use crate::sim::{network, rng};

    #[test]
    fn latencies_are_per_link_symmetric_seeded_and_within_the_distribution() {
        let mut config = NetworkConfig {
            latency_distribution: LatencyDistribution::Uniform { min: 2, max: 5 },
            ..NetworkConfig::default()
        };
        let links = LinkLatency::new(&config, 7);
        let drawn: Vec<u32> = (0..200).map(|b| links.between(3, b)).collect();
        assert!(drawn.iter().all(|&t| (2..=5).contains(&t)));
        for t in 2..=5 {
            assert!(drawn.contains(&t), "{t} never drawn");
        }
        assert_eq!(links.between(3, 9), links.between(9, 3));
        assert_eq!(
            links.between(3, 9),
            LinkLatency::new(&config, 7).between(3, 9)
        );
        assert_eq!(links.max(), 5);

        config.latency_distribution = LatencyDistribution::LogNormal {
            median: 4.0,
            sigma: 0.5,
        };
        let links = LinkLatency::new(&config, 7);
        let mut drawn: Vec<u32> = (0..2000).map(|b| links.between(1, b + 2)).collect();
        drawn.sort_unstable();
        assert_eq!(drawn[1000], 4, "the median link takes the median");
        assert!(drawn[0] >= 1 && *drawn.last().unwrap() <= links.max());
        assert!(drawn[1900] > 4, "a long right tail");

        config.latency_distribution = LatencyDistribution::Constant;
        config.latency = 3;
        assert_eq!(LinkLatency::new(&config, 7).between(0, 1), 3);
    }

    #[test]
    fn a_link_carries_its_bandwidth_per_tick_and_queues_the_rest() {
        let mut queues = LinkQueues::new(2);
        let waits: Vec<u32> = (0..5).map(|_| queues.wait(0, 1, 10)).collect();
        assert_eq!(waits, vec![0, 0, 1, 1, 2]);
        // The other direction and other links have queues of their own.
        assert_eq!(queues.wait(1, 0, 10), 0);
        // Two ticks later the queue has moved on: the first message waits until the backlog has gone.
        assert_eq!(queues.wait(0, 1, 11), 1);
        assert_eq!(queues.wait(0, 1, 13), 0);
        assert_eq!(LinkQueues::new(0).wait(0, 1, 10), 0);
    }

    #[test]
    fn a_bisection_takes_half_the_agents_as_one_region_and_heals() {
        let config = SimConfig::default();
        let network = network::build(
            &config.network,
            100,
            &mut rng::stream(1, rng::STREAM_TOPOLOGY),
        );
        let partitions = Partitions::new(
            &[PartitionConfig {
                tick: 10,
                heal: 20,
                cut: Cut::Bisection,
            }],
            &network,
            1,
        );
        let far = partitions.far_side(0);
        assert_eq!(far.len(), 50);
        let near = (0..100).find(|a| !far.contains(a)).unwrap();
        assert!(partitions.separates(10, far[0], near));
        assert!(!partitions.separates(9, far[0], near) && !partitions.separates(20, far[0], near));
        assert!(!partitions.separates(15, far[0], far[1]));
        // Most of the far side's links stay inside it: a region, not a random half.
        let inside = far
            .iter()
            .flat_map(|&a| network.neighbours(a).iter().map(move |&b| (a, b)))
            .filter(|(_, b)| far.contains(b))
            .count();
        let all: usize = far.iter().map(|&a| network.neighbours(a).len()).sum();
        assert!(inside * 4 > all * 3, "{inside} of {all} links inside");
    }
}
