//! Peak memory planned from the config alone, before a run starts, so that a run too big for the machine is refused
//! up front instead of being killed by the kernel hours in.
//!
//! Most of the memory is fixed by the config: every agent's forest, training window and components, and the
//! topology. The rest follows the campaign. Each signature on the table costs something at every agent that hears
//! of it (its entry in the vote book, its ballot on the wire and in the tally, the announcement and decision
//! flooding past), so that part is agents × live signatures, and it is what kills big flooding runs.
//!
//! Live signatures come in a burst. While a signature is undecided, agents that hear of it do not propose their
//! own version; once the first ones settle without immunising anybody (a BFT electorate mostly cannot see the
//! attack yet), every compromised agent proposes at once. So the estimate spreads the campaign over the real
//! topology, as the traffic stage does but without immunity, up to the first settlement, and takes a share of the
//! agents it has reached by then as the live signatures. That is an assumption about dynamics the config does not
//! fix, and the breakdown says so.

use std::mem::size_of;

use rand::RngExt;

use super::components::*;
use super::gossip::Transmission;
use super::network::{self, Network};
use super::rng;
use crate::config::{ConsensusRule, FEATURE_COUNT, SimConfig, Topology};
use crate::ml::iforest::IsolationForest;
use crate::model::{Ballot, Cast, Features};

/// One part of the estimate, with the config keys that shrink it.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryPart {
    pub name: &'static str,
    pub bytes: u64,
    pub shrink_with: &'static str,
}

/// The planned peak, by part.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    pub parts: Vec<MemoryPart>,
    /// Signatures assumed live at once at the peak (see the module text).
    pub live_signatures: usize,
    /// Agents the campaigns are assumed to have reached when the burst of proposals comes.
    pub reached_at_burst: usize,
    /// The tick of the burst (past the run's end: there is none, and only the origins propose).
    pub burst_tick: u32,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// The parts, largest first.
    pub fn largest(&self) -> Vec<&MemoryPart> {
        let mut parts: Vec<&MemoryPart> = self.parts.iter().collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.bytes));
        parts
    }

    /// The breakdown as `dais config show --estimate` prints it.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for part in self.largest() {
            out += &format!(
                "{:<22} {:>10}   shrink with {}\n",
                part.name,
                human_bytes(part.bytes),
                part.shrink_with
            );
        }
        out += &format!("{:<22} {:>10}\n", "total (peak)", human_bytes(self.total()));
        out += &format!(
            "assumes {} signatures live at once: proposed by the {} agents the campaigns reach by tick {}, when \
             every compromised agent that has not heard of another's proposes its own\n",
            self.live_signatures, self.reached_at_burst, self.burst_tick
        );
        out
    }
}

/// `1.2 GiB`, `340 MiB`, `12 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The process before any agent exists: code, the ECS world, thread stacks and allocator arenas.
pub const RUNTIME_BYTES: u64 = 12 << 20;
/// What the allocator and the ECS add per agent beyond the bytes counted below (measured: 1,000 to 30,000 agents
/// of the default scenario).
const AGENT_OVERHEAD_BYTES: u64 = 2_400;
/// A vote-book entry, with its share of the B-tree node around it.
const KNOWN_ENTRY_BYTES: u64 = 40;
/// What vectors that grow by doubling hold on average over what they carry (a capacity between one and two
/// times the length); the wire's buckets, the tallies and the inboxes grow that way during a burst.
const GROWTH_SLACK: f64 = 1.5;
/// A ballot row queued for the ledger writer.
const BALLOT_ROW_BYTES: u64 = 64;
/// How many of the `r` agents reached at the burst propose a signature of their own: `1.25 r^0.8`. The share falls
/// as more are reached, since more of them hear of a sibling's signature first; fitted to the default and stress
/// scenarios at 1,000 to 30,000 agents, where 27% to 83% of them proposed.
fn proposers(reached: usize) -> usize {
    (1.25 * (reached as f64).powf(0.8)).ceil() as usize
}
/// The topology is built to plan with only below this many adjacency entries; a denser one (a big full mesh) is
/// planned from its formula, as reaching everyone in one hop.
const TOPOLOGY_BUILD_LIMIT: usize = 50_000_000;

/// Plans the peak memory of running `config`, recording to a ledger whose writer queue holds up to
/// `ledger_queue_bytes` (None: no ledger).
pub fn estimate(config: &SimConfig, ledger_queue_bytes: Option<u64>) -> MemoryEstimate {
    let n = config.population() as u64;
    let detector = &config.detector;
    let psi = detector.subsample.min(detector.window).max(1);
    let forest = IsolationForest::planned_heap_bytes(detector.trees, psi, FEATURE_COUNT) as u64;
    let features = size_of::<Features>() as u64;
    let window = detector.window as u64 * features;
    let samples = config.simulation.samples_per_tick as u64;
    let agent_state = (size_of::<Detector>()
        + size_of::<Blacklist>()
        + size_of::<VoteBook>()
        + size_of::<Evidence>()
        + size_of::<TrafficBatch>()
        + size_of::<Inbox>()
        + size_of::<Outbox>()
        + size_of::<TickCounts>()
        + size_of::<NormalProfile>()
        + size_of::<AgentRng>()) as u64
        + config.vote.evidence_memory as u64 * features
        + samples * (features + size_of::<Label>() as u64 + 8 + 4)
        + AGENT_OVERHEAD_BYTES;

    let topology = plan_topology(config);
    let adjacency = topology.directed_edges * 4 + n * 24;
    let (live, reached, burst_tick) = live_signatures(config, &topology);
    let live = live as u64;

    // Every agent hears of every live signature (gossip reaches everyone once), and every voter's ballot is on the
    // wire and then in the tally (and the registry notes what each agent cast).
    let voters = match config.consensus.rule {
        ConsensusRule::Committee => config.consensus.committee_size.min(n as usize) as u64,
        _ => n,
    };
    let per_voter = match config.consensus.rule {
        ConsensusRule::Snowball => {
            let k = config.consensus.snowball.k as u64;
            size_of::<SnowballState>() as u64 + k * size_of::<Ballot>() as u64
        }
        _ => (size_of::<Ballot>() + size_of::<Transmission>()) as u64,
    };
    let signatures =
        live * (n * (KNOWN_ENTRY_BYTES + size_of::<Cast>() as u64) + voters * per_voter);
    let signatures = (signatures as f64 * GROWTH_SLACK) as u64;

    // The wire at its busiest tick: the burst's announcements, ballots and decisions, spread over the ticks a
    // signature takes to cross the network and its ballots to come back.
    let spread_per_signature = if config.network.fan_out == 0 {
        topology.directed_edges
    } else {
        n * config.network.fan_out as u64
    };
    let ballot_hops = match config.consensus.rule {
        ConsensusRule::Snowball => 2 * config.consensus.snowball.k as u64,
        _ => (topology.mean_distance.ceil() as u64).max(1),
    };
    let per_signature = 2 * spread_per_signature + voters * ballot_hops;
    let crossing_ticks = topology.crossing_ticks(config.network.latency);
    // A transmission is held on the wire, then as an arrival the view and the ledger read, then in an inbox.
    let held = (2 * size_of::<Transmission>() + size_of::<(AgentIdx, Payload)>()) as u64;
    let messages = (live * per_signature / crossing_ticks * held) as f64 * GROWTH_SLACK;
    let messages = messages as u64;

    let mut parts = vec![
        MemoryPart {
            name: "runtime",
            bytes: RUNTIME_BYTES,
            shrink_with: "nothing",
        },
        MemoryPart {
            name: "forests",
            bytes: n * forest,
            shrink_with: "detector.trees, detector.subsample",
        },
        MemoryPart {
            name: "training windows",
            bytes: n * window,
            shrink_with: "detector.window",
        },
        MemoryPart {
            name: "agent state",
            bytes: n * agent_state,
            shrink_with: "simulation.agents, vote.evidence_memory",
        },
        MemoryPart {
            name: "topology",
            bytes: adjacency,
            shrink_with: "network.topology, network.neighbours",
        },
        MemoryPart {
            name: "live signatures",
            bytes: signatures,
            shrink_with: "consensus.rule (committee or snowball), signatures.min_support",
        },
        MemoryPart {
            name: "messages in flight",
            bytes: messages,
            shrink_with: "network.fan_out, network.ttl, consensus.rule",
        },
    ];
    if let Some(queue) = ledger_queue_bytes {
        let ballots = live * voters * BALLOT_ROW_BYTES;
        parts.push(MemoryPart {
            name: "ledger queue",
            bytes: ballots.min(queue) + (8 << 20),
            shrink_with: "consensus.rule, or run without --out",
        });
    }
    MemoryEstimate {
        parts,
        live_signatures: live as usize,
        reached_at_burst: reached,
        burst_tick,
    }
}

/// What the estimate needs of the topology.
struct PlannedTopology {
    /// Adjacency entries (each undirected edge twice).
    directed_edges: u64,
    /// Mean hop distance between agents.
    mean_distance: f64,
    /// The built network, when it was small enough to build.
    network: Option<Network>,
}

impl PlannedTopology {
    /// Ticks for a signature to cross the network and its ballots to come back.
    fn crossing_ticks(&self, latency: u32) -> u64 {
        (2.0 * self.mean_distance).ceil().max(1.0) as u64 * u64::from(latency.max(1))
    }
}

fn plan_topology(config: &SimConfig) -> PlannedTopology {
    let n = config.simulation.agents;
    let net = &config.network;
    let planned_entries = match net.topology {
        Topology::FullMesh => n.saturating_mul(n.saturating_sub(1)),
        Topology::ErdosRenyi => (net.edge_probability * (n * n) as f64) as usize,
        _ => n * net.neighbours.max(2 * net.attach).max(4),
    };
    if planned_entries > TOPOLOGY_BUILD_LIMIT {
        return PlannedTopology {
            directed_edges: planned_entries as u64,
            mean_distance: 1.0,
            network: None,
        };
    }
    let network = network::build(
        net,
        n,
        &mut rng::stream(config.simulation.seed, rng::STREAM_TOPOLOGY),
    );
    let directed_edges = 2 * network.edge_count() as u64;
    let mean_distance = mean_distance_from(&network, 0);
    PlannedTopology {
        directed_edges,
        mean_distance,
        network: Some(network),
    }
}

/// Mean hop distance from `source` to the agents it can reach (breadth-first).
fn mean_distance_from(network: &Network, source: u32) -> f64 {
    let n = network.agents();
    if n == 0 {
        return 1.0;
    }
    let mut distance = vec![u32::MAX; n];
    let mut queue = std::collections::VecDeque::from([source]);
    distance[source as usize] = 0;
    let (mut sum, mut reached) = (0u64, 0u64);
    while let Some(agent) = queue.pop_front() {
        let d = distance[agent as usize];
        sum += u64::from(d);
        reached += 1;
        for &next in network.neighbours(agent) {
            if distance[next as usize] == u32::MAX {
                distance[next as usize] = d + 1;
                queue.push_back(next);
            }
        }
    }
    (sum as f64 / reached.saturating_sub(1).max(1) as f64).max(1.0)
}

/// Ticks from the first proposal to the burst. Where the whole network votes (every rule but a committee and
/// Snowball), a big network mostly cannot see an early attack and rejects its first signatures: the announcement
/// crosses the network, the ballots come back, the rejection crosses again, and once agents forget it every
/// compromised agent proposes its own (measured: 17 to 37 ticks after the first proposal, at 1,000 to 30,000
/// agents). A committee or Snowball can accept them; the agents that propose are those reached before the first
/// signature has crossed the network.
fn burst_delay(config: &SimConfig, topology: &PlannedTopology) -> u32 {
    let crossing = topology.crossing_ticks(config.network.latency) as u32;
    match config.consensus.rule {
        ConsensusRule::Committee | ConsensusRule::Snowball => crossing,
        _ => 2 * crossing,
    }
}

/// Signatures live at the peak, and the agents reached when the burst comes (see the module text).
fn live_signatures(config: &SimConfig, topology: &PlannedTopology) -> (usize, usize, u32) {
    let n = config.simulation.agents;
    let steps = config.simulation.steps;
    let samples = config.simulation.samples_per_tick as f64;
    // The tick each agent was reached.
    let mut reached: Vec<Option<u32>> = vec![None; n];
    let mut reached_count = 0usize;
    let mut first_burst = u32::MAX;
    let mut spreading = Vec::new();
    for campaign in &config.traffic.campaigns {
        // An attacked agent sees intensity × samples attack rows a tick; it proposes once its cluster holds
        // min_support of them (from when its first forest exists), and the first signature settles within the
        // voting window.
        let per_tick = (campaign.intensity * samples).max(1e-9);
        let gathering = (f64::from(config.signatures.min_support) / per_tick).ceil() as u32;
        let first_proposal = campaign.start_tick.max(config.detector.warmup) + gathering;
        let burst = first_proposal + burst_delay(config, topology);
        first_burst = first_burst.min(burst);
        // The chance that a reached agent lets attack traffic through in a tick, and so infects its neighbours.
        let through = 1.0 - (1.0 - campaign.intensity).powf(samples);
        spreading.push((campaign, through));
        for &origin in &campaign.origins {
            if origin < n && reached[origin].is_none() {
                reached[origin] = Some(campaign.start_tick);
                reached_count += 1;
            }
        }
    }
    if spreading.is_empty() || first_burst > steps {
        // No burst within the run: the origins' first proposals are all there is.
        let origins = reached_count.max(usize::from(!spreading.is_empty()));
        return (origins, reached_count, first_burst);
    }
    let start = spreading
        .iter()
        .map(|(c, _)| c.start_tick)
        .min()
        .unwrap_or(0);
    match &topology.network {
        Some(network) => {
            let mut rng = rng::stream(config.simulation.seed, rng::STREAM_CAMPAIGNS);
            for tick in start + 1..first_burst {
                let mut newly = Vec::new();
                for (campaign, through) in &spreading {
                    let p = campaign.spread_probability * through;
                    for agent in 0..n {
                        // As in the traffic stage: an agent infected at tick t counts as reached from t + 1, and
                        // infects once its traffic of that tick has let attack rows through, from t + 2.
                        if reached[agent].is_none_or(|at| at + 1 > tick) {
                            continue;
                        }
                        for &next in network.neighbours(agent as u32) {
                            if reached[next as usize].is_none()
                                && rng.random_bool(p.clamp(0.0, 1.0))
                            {
                                newly.push(next as usize);
                            }
                        }
                    }
                }
                for agent in newly {
                    if reached[agent].is_none() {
                        reached[agent] = Some(tick + 1);
                        reached_count += 1;
                    }
                }
            }
        }
        // Too dense to build: everyone is a neighbour of the origins.
        None => reached_count = n,
    }
    let live = proposers(reached_count).clamp(1, n.max(1));
    (live, reached_count, first_burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(340 << 20), "340 MiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
    }

    #[test]
    fn forests_grow_with_agents_and_trees_and_signatures_with_agents_squared() {
        let mut config = SimConfig::default();
        config.simulation.agents = 1_000;
        let small = estimate(&config, None);
        config.simulation.agents = 4_000;
        let big = estimate(&config, None);
        let part =
            |e: &MemoryEstimate, name: &str| e.parts.iter().find(|p| p.name == name).unwrap().bytes;
        assert_eq!(part(&big, "forests"), 4 * part(&small, "forests"));
        config.detector.trees = 25;
        assert!(part(&estimate(&config, None), "forests") < part(&big, "forests"));
        // More agents means more live signatures, each at more agents.
        assert!(part(&big, "live signatures") >= 4 * part(&small, "live signatures"));
    }

    #[test]
    fn a_committee_plans_fewer_ballots_than_bft_over_everyone() {
        let mut config = SimConfig::default();
        config.simulation.agents = 5_000;
        let bft = estimate(&config, Some(256 << 20));
        config.consensus.rule = ConsensusRule::Committee;
        let committee = estimate(&config, Some(256 << 20));
        assert!(committee.total() < bft.total());
    }

    #[test]
    fn a_run_that_ends_before_the_burst_plans_only_the_first_proposals() {
        let mut config = SimConfig::default();
        config.simulation.steps = config.traffic.campaigns[0].start_tick + 1;
        let planned = estimate(&config, None);
        assert_eq!(
            planned.live_signatures,
            config.traffic.campaigns[0].origins.len()
        );
    }
}
