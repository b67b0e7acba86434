//! Where each agent sits on screen, computed once per run: a circle for ring-like topologies, the grid for a grid,
//! and a force-directed layout for random graphs. Everything here is deterministic (no RNG, no clock), so the live
//! view and a replay of the same run put every node in the same place.

use crate::config::Topology;

/// The layout fits in a square of this half-width, in world units; the camera fits that square to the view.
pub const EXTENT: f32 = 500.0;

/// Up to this many agents a ring-like network is drawn as a circle; beyond it the circle's nodes would shrink to
/// specks, so the ring is coiled into a spiral, which keeps ring neighbours side by side and fills the square.
pub const MAX_CIRCLE: usize = 150;

/// Positions, one per agent, within `[-EXTENT, EXTENT]²`.
pub fn positions(topology: Topology, agents: usize, edges: &[(u32, u32)]) -> Vec<[f32; 2]> {
    match topology {
        Topology::Grid => grid(agents),
        Topology::Ring | Topology::WattsStrogatz | Topology::FullMesh if agents <= MAX_CIRCLE => {
            circle(agents)
        }
        Topology::Ring | Topology::WattsStrogatz | Topology::FullMesh => spiral(agents),
        Topology::ErdosRenyi | Topology::BarabasiAlbert => force_directed(agents, edges),
    }
}

/// A typical distance between neighbouring nodes, which sizes the nodes and the messages.
pub fn spacing(topology: Topology, agents: usize) -> f32 {
    let n = agents.max(1) as f32;
    match topology {
        Topology::Grid => 2.0 * EXTENT / n.sqrt().ceil().max(1.0),
        Topology::Ring | Topology::WattsStrogatz | Topology::FullMesh if agents <= MAX_CIRCLE => {
            (std::f32::consts::TAU * EXTENT / n).min(EXTENT)
        }
        Topology::Ring | Topology::WattsStrogatz | Topology::FullMesh => spiral_spacing(agents),
        Topology::ErdosRenyi | Topology::BarabasiAlbert => 2.0 * EXTENT / n.sqrt(),
    }
}

fn circle(agents: usize) -> Vec<[f32; 2]> {
    (0..agents)
        .map(|i| {
            // Agent 0 at twelve o'clock, going clockwise, as people read a clock face.
            let angle =
                std::f32::consts::FRAC_PI_2 - std::f32::consts::TAU * i as f32 / agents as f32;
            [EXTENT * angle.cos(), EXTENT * angle.sin()]
        })
        .collect()
}

/// Distance between neighbours along the spiral, and between its turns.
fn spiral_spacing(agents: usize) -> f32 {
    EXTENT * (std::f32::consts::PI / agents.max(1) as f32).sqrt()
}

/// An Archimedean spiral walked at equal arc length: agent i sits at radius d·sqrt(i/π), so consecutive agents (ring
/// neighbours) are one spacing apart and the turns are one spacing apart too.
fn spiral(agents: usize) -> Vec<[f32; 2]> {
    let d = spiral_spacing(agents);
    (0..agents)
        .map(|i| {
            let i = i as f32 + 0.5;
            let theta = (4.0 * std::f32::consts::PI * i).sqrt();
            let r = (d * (i / std::f32::consts::PI).sqrt()).min(EXTENT);
            [r * theta.sin(), r * theta.cos()]
        })
        .collect()
}

fn grid(agents: usize) -> Vec<[f32; 2]> {
    let side = (agents as f64).sqrt().ceil().max(1.0) as usize;
    let step = if side > 1 {
        2.0 * EXTENT / (side - 1) as f32
    } else {
        0.0
    };
    (0..agents)
        .map(|i| {
            let (col, row) = (i % side, i / side);
            [-EXTENT + step * col as f32, EXTENT - step * row as f32]
        })
        .collect()
}

/// Fruchterman-Reingold with repulsion only between nodes within a cell's width (found in the neighbouring cells of a
/// uniform grid), so each
/// iteration costs O(agents + edges) rather than O(agents²): 5,000 agents lay out in well under a second.
fn force_directed(agents: usize, edges: &[(u32, u32)]) -> Vec<[f32; 2]> {
    if agents <= 1 {
        return vec![[0.0, 0.0]; agents];
    }
    // Start on a sunflower spiral: even, deterministic, and free of the coincident points that stall the forces.
    let golden = std::f32::consts::PI * (3.0 - 5f32.sqrt());
    let mut pos: Vec<[f32; 2]> = (0..agents)
        .map(|i| {
            let r = EXTENT * ((i as f32 + 0.5) / agents as f32).sqrt();
            let a = golden * i as f32;
            [r * a.cos(), r * a.sin()]
        })
        .collect();
    let area = (2.0 * EXTENT) * (2.0 * EXTENT);
    let k = (area / agents as f32).sqrt();
    let cell = 2.0 * k;
    let iterations = 120;
    let mut temperature = EXTENT / 5.0;
    let cooling = (0.01f32).powf(1.0 / iterations as f32);
    let mut displacement = vec![[0.0f32; 2]; agents];
    let mut buckets: Vec<(i32, i32, u32)> = Vec::with_capacity(agents);
    for _ in 0..iterations {
        displacement.iter_mut().for_each(|d| *d = [0.0, 0.0]);
        buckets.clear();
        buckets.extend(pos.iter().enumerate().map(|(i, p)| {
            (
                (p[0] / cell).floor() as i32,
                (p[1] / cell).floor() as i32,
                i as u32,
            )
        }));
        buckets.sort_unstable();
        let find = |cx: i32, cy: i32| {
            let start = buckets.partition_point(|b| (b.0, b.1) < (cx, cy));
            let end = buckets.partition_point(|b| (b.0, b.1) <= (cx, cy));
            start..end
        };
        for &(cx, cy, i) in &buckets {
            let i = i as usize;
            for dx in -1..=1 {
                for dy in -1..=1 {
                    for &(_, _, j) in &buckets[find(cx + dx, cy + dy)] {
                        let j = j as usize;
                        if i == j {
                            continue;
                        }
                        let d = [pos[i][0] - pos[j][0], pos[i][1] - pos[j][1]];
                        let dist2 = (d[0] * d[0] + d[1] * d[1]).max(1e-2);
                        // Repel within one cell's width, the same in every direction: the 3x3 block reaches
                        // further on one side of a node than the other, and without the cut-off nodes piled up
                        // along the cells' borders in straight rows.
                        if dist2 > cell * cell {
                            continue;
                        }
                        let force = k * k / dist2;
                        displacement[i][0] += d[0] * force;
                        displacement[i][1] += d[1] * force;
                    }
                }
            }
        }
        for &(a, b) in edges {
            let (a, b) = (a as usize, b as usize);
            let d = [pos[a][0] - pos[b][0], pos[a][1] - pos[b][1]];
            let dist = (d[0] * d[0] + d[1] * d[1]).sqrt().max(1e-3);
            let pull = dist / k;
            displacement[a][0] -= d[0] * pull;
            displacement[a][1] -= d[1] * pull;
            displacement[b][0] += d[0] * pull;
            displacement[b][1] += d[1] * pull;
        }
        for (p, d) in pos.iter_mut().zip(&displacement) {
            let len = (d[0] * d[0] + d[1] * d[1]).sqrt();
            if len > 0.0 {
                let step = len.min(temperature) / len;
                // A gentle pull to the centre keeps disconnected pieces from drifting off screen.
                p[0] += d[0] * step - p[0] * 0.01;
                p[1] += d[1] * step - p[1] * 0.01;
            }
        }
        temperature *= cooling;
    }
    fit_to_extent(&mut pos);
    pos
}

/// Scales and centres points to fill `[-EXTENT, EXTENT]²` while keeping their aspect.
fn fit_to_extent(pos: &mut [[f32; 2]]) {
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for p in pos.iter() {
        for axis in 0..2 {
            lo[axis] = lo[axis].min(p[axis]);
            hi[axis] = hi[axis].max(p[axis]);
        }
    }
    let span = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-3);
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    for p in pos.iter_mut() {
        for axis in 0..2 {
            p[axis] = (p[axis] - centre[axis]) * 2.0 * EXTENT / span;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn min_distance(pos: &[[f32; 2]]) -> f32 {
        let mut best = f32::MAX;
        for i in 0..pos.len() {
            for j in i + 1..pos.len() {
                let d = ((pos[i][0] - pos[j][0]).powi(2) + (pos[i][1] - pos[j][1]).powi(2)).sqrt();
                best = best.min(d);
            }
        }
        best
    }

    #[test]
    fn every_layout_stays_in_bounds_and_keeps_nodes_apart() {
        let ring_edges: Vec<(u32, u32)> = (0..200).map(|i| (i, (i + 1) % 200)).collect();
        for topology in [
            Topology::Ring,
            Topology::Grid,
            Topology::ErdosRenyi,
            Topology::FullMesh,
        ] {
            let pos = positions(topology, 200, &ring_edges);
            assert_eq!(pos.len(), 200);
            assert!(
                pos.iter()
                    .flatten()
                    .all(|v| v.abs() <= EXTENT + 1e-3 && v.is_finite())
            );
            // No two nodes overlap: each gets at least a tenth of the typical spacing.
            assert!(
                min_distance(&pos) > spacing(topology, 200) / 10.0,
                "{topology:?}"
            );
        }
    }

    #[test]
    fn a_large_ring_coils_into_a_spiral_that_keeps_neighbours_close() {
        let n = 1000;
        let pos = positions(Topology::Ring, n, &[]);
        let d = spacing(Topology::Ring, n);
        let dist = |i: usize, j: usize| {
            ((pos[i][0] - pos[j][0]).powi(2) + (pos[i][1] - pos[j][1]).powi(2)).sqrt()
        };
        // Ring neighbours about one spacing apart, and the nodes far bigger than on a 1,000-node circle.
        assert!(
            (1..n).all(|i| dist(i - 1, i) < 2.0 * d),
            "neighbours drift apart"
        );
        assert!(d > 5.0 * std::f32::consts::TAU * EXTENT / n as f32);
        assert!(pos.iter().flatten().all(|v| v.abs() <= EXTENT));
    }

    #[test]
    fn force_directed_is_deterministic_and_pulls_neighbours_together() {
        let edges: Vec<(u32, u32)> = (0..99).map(|i| (i, i + 1)).collect();
        let a = positions(Topology::ErdosRenyi, 100, &edges);
        assert_eq!(a, positions(Topology::ErdosRenyi, 100, &edges));
        let dist =
            |i: usize, j: usize| ((a[i][0] - a[j][0]).powi(2) + (a[i][1] - a[j][1]).powi(2)).sqrt();
        let linked: f32 = edges
            .iter()
            .map(|&(i, j)| dist(i as usize, j as usize))
            .sum::<f32>()
            / 99.0;
        let far: f32 = (0..50).map(|i| dist(i, i + 50)).sum::<f32>() / 50.0;
        assert!(linked * 3.0 < far, "linked {linked} vs unlinked {far}");
    }

    #[test]
    fn a_scale_free_network_is_not_laid_out_in_rows() {
        // The hub-attack preset's network: 300 agents, Barabási–Albert. Repulsion cut off by the bucket grid's
        // square block used to line dozens of nodes up on the cells' borders.
        let config = crate::config::load::scenario("hub-attack").unwrap();
        let network = crate::sim::network::build(
            &config.network,
            300,
            &mut crate::sim::rng::stream(42, crate::sim::rng::STREAM_TOPOLOGY),
        );
        let edges: Vec<(u32, u32)> = (0..300u32)
            .flat_map(|a| {
                network
                    .neighbours(a)
                    .iter()
                    .filter(move |&&b| b > a)
                    .map(move |&b| (a, b))
            })
            .collect();
        let pos = positions(Topology::BarabasiAlbert, 300, &edges);
        for axis in 0..2 {
            let mut bins = std::collections::BTreeMap::<i32, usize>::new();
            for p in &pos {
                *bins.entry((p[axis] / 3.0).floor() as i32).or_default() += 1;
            }
            let crowded = bins.values().max().copied().unwrap_or(0);
            assert!(crowded <= 6, "{crowded} nodes on one line of axis {axis}");
        }
    }

    #[test]
    fn tiny_networks_do_not_divide_by_zero() {
        for n in 0..3 {
            for topology in [Topology::Ring, Topology::Grid, Topology::BarabasiAlbert] {
                assert!(
                    positions(topology, n, &[])
                        .iter()
                        .flatten()
                        .all(|v| v.is_finite())
                );
            }
        }
    }
}
