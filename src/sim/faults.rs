//! Faults: which agents are byzantine (and how they lie) and which crash, and when. Both are drawn once from the
//! seeded roles stream, disjoint from each other, so the same seed always picks the same culprits.

use bevy::prelude::*;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use super::clock::SimClock;
use super::components::*;
use crate::config::FaultsConfig;

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
    let mut order: Vec<usize> = (0..agents).collect();
    for i in (1..agents).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let byzantine = (faults.byzantine_fraction * agents as f64).round() as usize;
    let crashed =
        ((faults.crash_fraction * agents as f64).round() as usize).min(agents - byzantine);
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

/// Agents whose crash tick has come stop for good.
pub(super) fn crash_agents(clock: Res<SimClock>, mut agents: Query<(&CrashPlan, &mut Liveness)>) {
    for (plan, mut liveness) in &mut agents {
        if liveness.is_up() && plan.at.is_some_and(|at| clock.tick >= at) {
            *liveness = Liveness::Crashed { since: clock.tick };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ByzantineStrategy;
    use crate::sim::rng::stream;

    #[test]
    fn fractions_are_respected_and_disjoint() {
        let faults = FaultsConfig {
            byzantine_fraction: 0.3,
            byzantine_strategy: ByzantineStrategy::Forge,
            crash_fraction: 0.2,
            crash_tick: 9,
        };
        let plan = assign(&faults, 100, &mut stream(1, 1));
        let byzantine = plan.iter().filter(|p| !p.0.is_honest()).count();
        let crashing = plan.iter().filter(|p| p.1.at == Some(9)).count();
        assert_eq!((byzantine, crashing), (30, 20));
        assert!(plan.iter().all(|p| p.0.is_honest() || p.1.at.is_none()));
        assert_eq!(plan, assign(&faults, 100, &mut stream(1, 1)));
    }
}
