//! Seeded random streams. Every agent owns one, derived from (run seed, agent index), so an agent's draws never
//! depend on which thread ran it or on how many agents there are. Shared serial steps (topology, gossip loss,
//! campaign spread) each get their own stream, derived from the seed and a fixed purpose tag.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

/// Purpose tags for the shared streams; agents use their index, so these sit above any agent index.
pub const STREAM_TOPOLOGY: u64 = 1 << 40;
pub const STREAM_ROLES: u64 = (1 << 40) + 1;
pub const STREAM_GOSSIP: u64 = (1 << 40) + 2;
pub const STREAM_CAMPAIGNS: u64 = (1 << 40) + 3;
/// The fixed probe samples immunity is measured with (never drawn from by the simulation itself).
pub const STREAM_IMMUNITY_PROBES: u64 = (1 << 40) + 4;
/// Churn's crashes and downtimes.
pub const STREAM_CHURN: u64 = (1 << 40) + 5;
/// Evasive campaigns' mutations: this plus (campaign << 20) plus the mutation's index.
pub const STREAM_EVASION: u64 = 3 << 40;

/// The stream for `(seed, stream)`: ChaCha8 keyed by the seed, with the stream id selecting an independent
/// sequence.
pub fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

pub fn agent_rng(seed: u64, agent: u32) -> ChaCha8Rng {
    stream(seed, u64::from(agent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = agent_rng(7, 3).random();
        let b: u64 = agent_rng(7, 3).random();
        let c: u64 = agent_rng(7, 4).random();
        let d: u64 = agent_rng(8, 3).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
