//! Topologies: who can talk to whom. Built once at start-up from a seeded stream and stored as one compressed
//! adjacency array (CSR), so that gossip reads a neighbour list as a contiguous slice.

use bevy::prelude::*;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use crate::config::{NetworkConfig, Topology};

/// Undirected graph over agent indices, neighbours sorted ascending.
#[derive(Resource, Clone, Debug, PartialEq, Eq, Default)]
pub struct Network {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Network {
    pub fn from_adjacency(mut adjacency: Vec<Vec<u32>>) -> Self {
        let mut offsets = Vec::with_capacity(adjacency.len() + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for list in &mut adjacency {
            list.sort_unstable();
            list.dedup();
            targets.extend_from_slice(list);
            offsets.push(targets.len() as u32);
        }
        Self { offsets, targets }
    }

    pub fn agents(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn neighbours(&self, agent: u32) -> &[u32] {
        let i = agent as usize;
        &self.targets[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Each undirected edge once, as (lower, higher).
    pub fn edges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.agents() as u32).flat_map(move |a| {
            self.neighbours(a)
                .iter()
                .filter(move |&&b| a < b)
                .map(move |&b| (a, b))
        })
    }

    pub fn edge_count(&self) -> usize {
        self.targets.len() / 2
    }

    pub fn mean_degree(&self) -> f64 {
        self.targets.len() as f64 / self.agents().max(1) as f64
    }
}

fn link(adjacency: &mut [Vec<u32>], a: usize, b: usize) {
    if a != b && !adjacency[a].contains(&(b as u32)) {
        adjacency[a].push(b as u32);
        adjacency[b].push(a as u32);
    }
}

/// Builds the configured topology over `agents` nodes.
pub fn build(config: &NetworkConfig, agents: usize, rng: &mut ChaCha8Rng) -> Network {
    let mut adjacency = vec![Vec::new(); agents];
    match config.topology {
        Topology::Ring => {
            for i in 0..agents {
                link(&mut adjacency, i, (i + 1) % agents);
            }
        }
        Topology::Grid => {
            let side = (agents as f64).sqrt().ceil() as usize;
            for i in 0..agents {
                if (i % side) + 1 < side && i + 1 < agents {
                    link(&mut adjacency, i, i + 1);
                }
                if i + side < agents {
                    link(&mut adjacency, i, i + side);
                }
            }
        }
        Topology::FullMesh => {
            for (i, list) in adjacency.iter_mut().enumerate() {
                list.extend((0..agents as u32).filter(|&j| j as usize != i));
            }
        }
        Topology::ErdosRenyi => erdos_renyi(&mut adjacency, config.edge_probability, rng),
        Topology::WattsStrogatz => {
            let half = config.neighbours / 2;
            for i in 0..agents {
                for j in 1..=half {
                    link(&mut adjacency, i, (i + j) % agents);
                }
            }
            // Rewire each lattice link (i, i+j) with the configured probability, keeping the graph simple.
            for j in 1..=half {
                for i in 0..agents {
                    let old = (i + j) % agents;
                    if !rng.random_bool(config.rewire_probability)
                        || !adjacency[i].contains(&(old as u32))
                    {
                        continue;
                    }
                    if adjacency[i].len() + 1 >= agents {
                        continue;
                    }
                    let new = loop {
                        let candidate = rng.random_range(0..agents);
                        if candidate != i && !adjacency[i].contains(&(candidate as u32)) {
                            break candidate;
                        }
                    };
                    adjacency[i].retain(|&x| x as usize != old);
                    adjacency[old].retain(|&x| x as usize != i);
                    link(&mut adjacency, i, new);
                }
            }
        }
        Topology::BarabasiAlbert => {
            let m = config.attach.min(agents.saturating_sub(1)).max(1);
            // Every endpoint of every edge, so a uniform pick is a pick proportional to degree.
            let mut endpoints: Vec<u32> = Vec::new();
            let seed_nodes = (m + 1).min(agents);
            for a in 0..seed_nodes {
                for b in a + 1..seed_nodes {
                    link(&mut adjacency, a, b);
                    endpoints.extend([a as u32, b as u32]);
                }
            }
            let mut chosen = Vec::with_capacity(m);
            for new in seed_nodes..agents {
                chosen.clear();
                while chosen.len() < m {
                    let target = endpoints[rng.random_range(0..endpoints.len())];
                    if !chosen.contains(&target) {
                        chosen.push(target);
                    }
                }
                for &target in &chosen {
                    link(&mut adjacency, new, target as usize);
                    endpoints.extend([new as u32, target]);
                }
            }
        }
    }
    Network::from_adjacency(adjacency)
}

/// G(n, p) in time proportional to the edges, by skipping geometrically over absent pairs (Batagelj & Brandes).
fn erdos_renyi(adjacency: &mut [Vec<u32>], p: f64, rng: &mut ChaCha8Rng) {
    let n = adjacency.len() as i64;
    if p <= 0.0 || n < 2 {
        return;
    }
    if p >= 1.0 {
        for a in 0..n as usize {
            for b in a + 1..n as usize {
                link(adjacency, a, b);
            }
        }
        return;
    }
    let log_q = (1.0 - p).ln();
    let (mut v, mut w) = (1i64, -1i64);
    while v < n {
        let r: f64 = rng.random();
        w += 1 + ((1.0 - r).ln() / log_q).floor() as i64;
        while w >= v && v < n {
            w -= v;
            v += 1;
        }
        if v < n {
            link(adjacency, v as usize, w as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    fn make(topology: Topology, agents: usize) -> Network {
        let config = NetworkConfig {
            topology,
            ..Default::default()
        };
        build(&config, agents, &mut stream(1, 0))
    }

    fn is_symmetric(net: &Network) -> bool {
        (0..net.agents() as u32).all(|a| {
            net.neighbours(a)
                .iter()
                .all(|&b| net.neighbours(b).contains(&a))
        })
    }

    #[test]
    fn ring_grid_and_mesh_have_their_shapes() {
        let ring = make(Topology::Ring, 10);
        assert!((0..10).all(|a| ring.neighbours(a).len() == 2));
        let grid = make(Topology::Grid, 9);
        assert_eq!(grid.neighbours(4), &[1, 3, 5, 7]);
        assert_eq!(grid.neighbours(0), &[1, 3]);
        let mesh = make(Topology::FullMesh, 5);
        assert_eq!(mesh.edge_count(), 10);
    }

    #[test]
    fn random_topologies_are_simple_symmetric_and_seeded() {
        for topology in [
            Topology::ErdosRenyi,
            Topology::WattsStrogatz,
            Topology::BarabasiAlbert,
        ] {
            let net = make(topology, 300);
            assert!(is_symmetric(&net), "{topology:?}");
            assert!(
                (0..300).all(|a| !net.neighbours(a).contains(&a)),
                "{topology:?} has a self-loop"
            );
            assert_eq!(net, make(topology, 300), "{topology:?} not reproducible");
        }
        // Watts–Strogatz keeps the lattice's edge count; Barabási–Albert adds m per node.
        assert_eq!(make(Topology::WattsStrogatz, 300).edge_count(), 900);
        assert_eq!(
            make(Topology::BarabasiAlbert, 300).edge_count(),
            6 + 3 * 296
        );
        let er = make(Topology::ErdosRenyi, 300);
        let expected = 0.05 * 300.0 * 299.0 / 2.0;
        assert!(
            (er.edge_count() as f64 - expected).abs() < 0.15 * expected,
            "{}",
            er.edge_count()
        );
    }
}
