//! Sortition for the committee rule: the agents that may vote on a signature are drawn from the run seed and the
//! signature's index alone, so any agent (and `ledger verify`, and a replay) can recompute the committee, and no
//! proposer can pick its own. A forger cannot grind for a friendly committee either: the index is handed out by the
//! registry in proposal order, not chosen by the proposer.

use std::collections::BTreeSet;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use crate::model::{AgentIdx, SigIdx};
use crate::sim::rng;

/// Committee streams sit above every shared stream tag (`rng::STREAM_*`) and every agent index.
const COMMITTEE_STREAMS: u64 = 2 << 40;

/// The committee of signature `sig`: `size` distinct agents of `agents`, sorted by index (every agent when the
/// network is no larger than the committee). Floyd's algorithm: `size` draws whatever the network's size.
pub fn committee(seed: u64, sig: SigIdx, agents: usize, size: usize) -> Vec<AgentIdx> {
    let mut rng = rng::stream(seed, COMMITTEE_STREAMS + u64::from(sig));
    sample_distinct(&mut rng, agents, size)
}

/// `amount` distinct indices below `length`, sorted (all of them when `amount >= length`): Floyd's algorithm,
/// `amount` draws whatever `length` is.
pub fn sample_distinct(rng: &mut ChaCha8Rng, length: usize, amount: usize) -> Vec<AgentIdx> {
    if amount >= length {
        return (0..length as AgentIdx).collect();
    }
    let mut chosen = BTreeSet::new();
    for top in (length - amount)..length {
        let pick = rng.random_range(0..=top);
        if !chosen.insert(pick as AgentIdx) {
            chosen.insert(top as AgentIdx);
        }
    }
    chosen.into_iter().collect()
}

/// Whether `agent` sits on `committee` (sorted, as [`committee`] returns it).
pub fn is_member(committee: &[AgentIdx], agent: AgentIdx) -> bool {
    committee.binary_search(&agent).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committee_is_sized_sorted_distinct_and_reproducible() {
        let c = committee(7, 3, 100_000, 31);
        assert_eq!(c.len(), 31);
        assert!(c.windows(2).all(|w| w[0] < w[1]));
        assert!(c.iter().all(|&a| (a as usize) < 100_000));
        assert_eq!(c, committee(7, 3, 100_000, 31));
        assert_ne!(c, committee(7, 4, 100_000, 31));
        assert_ne!(c, committee(8, 3, 100_000, 31));
        assert_eq!(committee(7, 3, 10, 31), (0..10).collect::<Vec<_>>());
        assert!(is_member(&c, c[5]) && !is_member(&c, c[5] + 1) || c.contains(&(c[5] + 1)));
    }

    #[test]
    fn every_agent_is_drawn_about_equally_often() {
        // 2,000 committees of 10 from 20 agents: each agent sits on about 1,000 of them.
        let mut seats = [0u32; 20];
        for sig in 0..2_000 {
            for a in committee(1, sig, 20, 10) {
                seats[a as usize] += 1;
            }
        }
        assert!(
            seats.iter().all(|&s| (880..1_120).contains(&s)),
            "{seats:?}"
        );
    }
}
