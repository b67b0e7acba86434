//! The simulation as the layers above see it: a [`Simulation`] owns one run's world and answers questions about it,
//! so the headless runner, replays' re-simulation and the view never name a resource or a component. What they may
//! ask is the list of methods here; the ECS inside stays free to change.

use bevy::prelude::*;

use super::clock::SimClock;
use super::components::{Blacklist, Detector, Liveness, Reputation, VoteBook};
use super::metrics::{LatestMetrics, RunTotals};
use super::record::Ledger;
use super::signature::SignatureRegistry;
use super::{AgentDirectory, SimSettings};
use crate::config::SimConfig;
use crate::ledger::{LedgerError, LedgerSink};
use crate::model::TickMetrics;

/// One run: its world (agents, pipeline schedule and resources) and nothing else.
pub struct Simulation {
    world: World,
}

/// What one agent holds right now, for the inspector. Signatures are named by their stable ids.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSnapshot {
    /// The tick at which the agent crashed; `None` while it is up.
    pub crashed_since: Option<u32>,
    /// The forest's anomaly threshold, once it has been fitted.
    pub threshold: Option<f64>,
    /// Stable ids of the blacklisted signatures, in the order they were accepted.
    pub blacklist: Vec<u64>,
    /// The agent's latest ballots, newest first: (signature id, yes).
    pub recent_ballots: Vec<(u64, bool)>,
    pub reputation: f64,
    /// How it lies, while it is Byzantine.
    pub byzantine: Option<crate::config::ByzantineStrategy>,
}

impl Simulation {
    /// Builds the run of `config`, recording into `sink`; tick 1 runs on the first [`Simulation::step`].
    pub fn new(config: SimConfig, sink: Box<dyn LedgerSink>) -> Self {
        let mut app = super::headless_app(config, sink);
        Self {
            world: std::mem::take(app.world_mut()),
        }
    }

    /// Runs every stage on the calling thread, one system after another. A sweep runs many simulations at once,
    /// one per thread, and there the task pool's hand-offs would cost more than they save. Results are the same:
    /// the stages' order is fixed, and no two systems of a stage touch the same data.
    pub fn single_threaded(mut self) -> Self {
        use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
        if let Some(schedule) = self.world.resource_mut::<Schedules>().get_mut(FixedUpdate) {
            schedule.set_executor(SingleThreadedExecutor::new());
        }
        self
    }

    /// Runs exactly one tick (nothing once the configured steps are done).
    pub fn step(&mut self) {
        self.world.run_schedule(FixedUpdate);
    }

    /// The last tick run (0 before the first).
    pub fn tick(&self) -> u32 {
        self.world.resource::<SimClock>().tick
    }

    /// The configured number of ticks.
    pub fn steps(&self) -> u32 {
        self.world.resource::<SimClock>().steps
    }

    pub fn finished(&self) -> bool {
        self.tick() >= self.steps()
    }

    /// The effective config of the run.
    pub fn config(&self) -> &SimConfig {
        &self.world.resource::<SimSettings>().config
    }

    /// Schedules `action` for the next tick, as a teacher's click does: it joins the run's config, so the tick
    /// applies it at its start, the ledger records it and a replay re-simulates it. Refused (with the field and
    /// the reason) when it names an agent or campaign the run lacks, or when the run is over.
    pub fn intervene(
        &mut self,
        action: crate::config::Intervention,
    ) -> Result<u32, crate::config::InvalidField> {
        let tick = self.tick() + 1;
        let mut settings = self.world.resource_mut::<SimSettings>();
        settings.config.interventions.push((tick, action));
        if let Err(invalid) = settings.config.validate_interventions() {
            settings.config.interventions.pop();
            return Err(invalid);
        }
        Ok(tick)
    }

    /// The figures of the last tick run.
    pub fn latest_metrics(&self) -> Option<&TickMetrics> {
        self.world.resource::<LatestMetrics>().tick.as_ref()
    }

    /// The run's cumulative figures so far.
    pub fn totals(&self) -> &RunTotals {
        self.world.resource::<RunTotals>()
    }

    /// The hash of the state after the last tick, as the ledger records it.
    pub fn state_hash_hex(&self) -> String {
        self.world.resource::<Ledger>().state_hash_hex()
    }

    /// The first error the ledger reported, if any; the run keeps going, but its recording is incomplete.
    pub fn storage_failure(&self) -> Option<&str> {
        self.world.resource::<Ledger>().failure.as_deref()
    }

    /// Writes the ledger's closing row and flushes it.
    pub fn finish_ledger(&mut self) -> Result<(), LedgerError> {
        self.world.resource_mut::<Ledger>().sink.finish()
    }

    /// How the ledger's writing stands (rows, queue, failures), for monitoring.
    pub fn ledger_stats(&self) -> crate::ledger::LedgerStats {
        self.world.resource::<Ledger>().sink.stats()
    }

    /// The hash of the ledger's last row, when the run is recorded.
    pub fn ledger_head_hash(&self) -> Option<String> {
        self.world.resource::<Ledger>().sink.head_hash()
    }

    /// The recording so far as the bytes of a ledger file (runs that record in memory, as the browser does).
    pub fn ledger_snapshot(&mut self) -> Result<Vec<u8>, LedgerError> {
        self.world.resource_mut::<Ledger>().sink.snapshot()
    }

    /// What agent `index` holds now, its latest `ballots` ballots included; `None` past the last agent.
    pub fn agent(&self, index: u32, ballots: usize) -> Option<AgentSnapshot> {
        let world = &self.world;
        let entity = *world
            .resource::<AgentDirectory>()
            .agents
            .get(index as usize)?;
        let registry = world.resource::<SignatureRegistry>();
        let id = |sig: u32| registry.get(sig).signature.id;
        Some(AgentSnapshot {
            crashed_since: match world.get::<Liveness>(entity)? {
                Liveness::Up | Liveness::Absent => None,
                Liveness::Crashed { since } => Some(*since),
            },
            threshold: world.get::<Detector>(entity).and_then(Detector::threshold),
            blacklist: world
                .get::<Blacklist>(entity)
                .map(|b| b.entries.iter().map(|&s| id(s)).collect())
                .unwrap_or_default(),
            recent_ballots: world
                .get::<VoteBook>(entity)
                .map(|book| {
                    book.recent_ballots
                        .iter()
                        .rev()
                        .take(ballots)
                        .map(|&(sig, yes)| (id(sig), yes))
                        .collect()
                })
                .unwrap_or_default(),
            reputation: world.get::<Reputation>(entity)?.trust(),
            byzantine: match world.get::<super::components::Role>(entity)? {
                super::components::Role::Byzantine(strategy) => Some(*strategy),
                super::components::Role::Honest => None,
            },
        })
    }

    /// Bytes the simulation's state holds, as it counts them (`retention::state_bytes`): for checking that memory
    /// is bounded by what is live, not by the run's length.
    pub fn state_bytes(&mut self) -> usize {
        super::retention::state_bytes(&mut self.world)
    }

    /// The world itself, for tests and analyses that look at components the facade does not name.
    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::DiscardSink;

    #[test]
    fn the_facade_reports_the_run_it_steps() {
        let mut config = SimConfig::default();
        config.simulation.agents = 10;
        config.simulation.steps = 40;
        let mut sim = Simulation::new(config.clone(), Box::new(DiscardSink));
        assert_eq!((sim.tick(), sim.steps(), sim.finished()), (0, 40, false));
        assert!(sim.latest_metrics().is_none());
        for _ in 0..45 {
            sim.step();
        }
        assert!(sim.finished());
        assert_eq!(sim.tick(), 40, "stepping past the end does nothing");
        assert_eq!(sim.totals().ticks, 40);
        assert_eq!(sim.latest_metrics().map(|m| m.tick), Some(40));
        assert_eq!(sim.config(), &config);
        let agent = sim.agent(3, 4).expect("agent 3 exists");
        assert_eq!(agent.crashed_since, None);
        assert!(agent.threshold.is_some(), "fitted after warm-up");
        assert!(agent.recent_ballots.len() <= 4);
        assert!(sim.agent(10, 4).is_none());
        assert!(sim.storage_failure().is_none());
    }
}
