//! The ECS simulation. One pass of `FixedUpdate` is one tick:
//! `Traffic -> Detect -> Sign -> Gossip -> Vote -> Consensus -> Learn -> Measure -> Record`.
//! The order is declared once, here. Within a stage, per-agent work runs in parallel over agents (each agent touches
//! only its own components and its own RNG), and the few serial steps walk agents in index order, so the outcome
//! is the same on any number of threads.

pub mod adversaries;
pub mod clock;
pub mod components;
pub mod consensus;
pub mod detect;
pub mod diagnose;
pub mod estimate;
pub mod faults;
pub mod flows;
pub mod gossip;
pub mod interventions;
pub mod learn;
pub mod links;
pub mod metrics;
pub mod network;
pub mod record;
pub mod retention;
pub mod rng;
pub mod signature;
pub mod simulation;
pub mod traffic;
pub mod vote;

use bevy::prelude::*;

use crate::config::SimConfig;
use crate::ledger::{AgentRow, LedgerSink, RunInfo};
use components::*;
pub use simulation::{AgentSnapshot, Simulation};

/// The tick pipeline.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pipeline {
    /// The clock advances, crashes take effect, campaigns spread, and each live agent draws its labelled batch.
    Traffic,
    /// Blacklists drop what they match; each agent's forest scores the rest.
    Detect,
    /// Anomaly clusters become proposed signatures (and forgers forge).
    Sign,
    /// Messages travel one hop: outboxes drain, inboxes fill, in a sorted order.
    Gossip,
    /// Receivers judge signatures against their own evidence and cast ballots.
    Vote,
    /// Talliers decide under the rule; certificates are checked; signatures settle or expire.
    Consensus,
    /// Certified acceptances enter blacklists, immunity is re-measured, forests retrain.
    Learn,
    /// The tick's figures against ground truth.
    Measure,
    /// Everything the tick produced goes to the ledger, with the state hash.
    Record,
}

/// How the heavy per-agent stages (Detect, Learn) split their agents among threads: several batches a thread,
/// so that one that drew the agents due to retrain (a forest fit costs a hundred agents' scoring) does not leave
/// the other threads idle at the stage's end. Which thread runs an agent never changes its result.
pub fn agent_batches() -> bevy::ecs::batching::BatchingStrategy {
    bevy::ecs::batching::BatchingStrategy::new().batches_per_thread(8)
}

/// Learn's split: finer than `agent_batches`, because its work is almost all in the few agents due to refit (one
/// in `detector.retrain_period`, 250 µs each), so a batch of 1,000 / 16 agents often holds two fits and the other
/// thread waits on it at the stage's end. With 32 batches a thread a batch rarely holds more than one (2 threads,
/// 1,000 agents: threads busy 94.5% -> 95.3% of the run, ticks/s 1.0-1.1x in alternate runs).
pub fn learner_batches() -> bevy::ecs::batching::BatchingStrategy {
    bevy::ecs::batching::BatchingStrategy::new().batches_per_thread(32)
}

/// The effective config of the run.
#[derive(Resource, Clone, Debug)]
pub struct SimSettings {
    pub config: SimConfig,
}

/// The tick being run and the run's config: what most stages read first.
#[derive(bevy::ecs::system::SystemParam)]
pub struct TickContext<'w> {
    clock: Res<'w, clock::SimClock>,
    settings: Res<'w, SimSettings>,
}

impl TickContext<'_> {
    /// The tick being run.
    pub fn now(&self) -> u32 {
        self.clock.tick
    }

    pub fn config(&self) -> &SimConfig {
        &self.settings.config
    }
}

/// Agent entities by index: serial stages walk this so that their order never depends on the ECS's storage order.
#[derive(Resource, Clone, Debug, Default)]
pub struct AgentDirectory {
    pub agents: Vec<Entity>,
}

/// This tick's ledger events, filled by the stages and drained by Record.
#[derive(Resource, Clone, Debug, Default)]
pub struct TickEvents {
    /// Interventions applied at the start of the tick, in order.
    pub interventions: Vec<crate::config::Intervention>,
    pub proposals: Vec<SigIdx>,
    /// Ballots cast this tick, with the signature each is on.
    pub ballots: Vec<(SigIdx, Ballot)>,
    pub decisions: Vec<u32>,
    /// Signatures whose fate was settled this tick.
    pub settled: Vec<Settlement>,
}

pub use crate::model::Settlement;

impl TickEvents {
    pub fn clear(&mut self) {
        self.interventions.clear();
        self.proposals.clear();
        self.ballots.clear();
        self.decisions.clear();
        self.settled.clear();
    }
}

/// Adds the simulation of `config`, writing to `sink`. The world is populated immediately, so tick 1 runs on the
/// first pass of `FixedUpdate`.
pub struct SimPlugin {
    pub config: SimConfig,
    pub sink: std::sync::Mutex<Option<Box<dyn LedgerSink>>>,
}

impl SimPlugin {
    pub fn new(config: SimConfig, sink: Box<dyn LedgerSink>) -> Self {
        Self {
            config,
            sink: std::sync::Mutex::new(Some(sink)),
        }
    }
}

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            FixedUpdate,
            (
                Pipeline::Traffic,
                Pipeline::Detect,
                Pipeline::Sign,
                Pipeline::Gossip,
                Pipeline::Vote,
                Pipeline::Consensus,
                Pipeline::Learn,
                Pipeline::Measure,
                Pipeline::Record,
            )
                .chain()
                .run_if(clock::run_not_finished),
        );
        app.add_plugins((
            traffic::plugin,
            detect::plugin,
            signature::plugin,
            gossip::plugin,
            vote::plugin,
            consensus::plugin,
            learn::plugin,
            metrics::plugin,
            record::plugin,
        ));
        let sink = self
            .sink
            .lock()
            .expect("plugin lock")
            .take()
            .expect("SimPlugin is built once");
        populate(app.world_mut(), self.config.clone(), sink);
    }
}

fn role_name(role: Role) -> String {
    match role {
        Role::Honest => "honest".into(),
        Role::Byzantine(strategy) => format!(
            "byzantine:{}",
            ron::to_string(&strategy).unwrap_or_default()
        ),
    }
}

/// Builds the network, draws roles, profiles and RNGs, spawns the agents and opens the ledger.
pub fn populate(world: &mut World, config: SimConfig, mut sink: Box<dyn LedgerSink>) {
    let seed = config.simulation.seed;
    let agents = config.simulation.agents;
    let network = network::build(
        &config.network,
        agents,
        &mut rng::stream(seed, rng::STREAM_TOPOLOGY),
    );
    let order = faults::draw_order(agents, &mut rng::stream(seed, rng::STREAM_ROLES));
    let mut plan = faults::cast(&config.faults, &order);
    faults::target_crashes(&mut plan, &config, &network);
    let drawn = faults::byzantine_count(&config.faults, agents)
        + faults::crashed_count(&config.faults, agents);
    let insiders = adversaries::draw_insiders(&config, &order, drawn);
    // Sybil identities join the network where their attackers are; everything below is sized by the population.
    let network = adversaries::attach_identities(&network, &insiders);
    let n = config.population();
    plan.resize(n, (Role::Honest, faults::CrashPlan::default()));
    let mut campaigns = traffic::Campaigns::new(
        &config.traffic,
        n,
        rng::stream(seed, rng::STREAM_CAMPAIGNS),
        config.immunity.probes,
        &mut rng::stream(seed, rng::STREAM_IMMUNITY_PROBES),
    );

    let flow_feed = flows::FlowFeed::open(&config, &mut campaigns);
    let flow_failure = flow_feed.as_ref().and_then(|f| f.failure.clone());

    let mut directory = AgentDirectory::default();
    let mut agent_rows = Vec::with_capacity(n);
    for (index, (&(mut role, crash), insider)) in plan.iter().zip(insiders).enumerate() {
        if let Some(insider) = &insider {
            role = insider.role_at(0);
        }
        let liveness = match &insider {
            Some(insider) if insider.identity_of.is_some() => Liveness::Absent,
            _ => Liveness::Up,
        };
        let mut agent_rng = rng::agent_rng(seed, index as u32);
        let profile = traffic::draw_profile(&mut agent_rng, config.traffic.profile_spread);
        let entity = world
            .spawn((
                (
                    Agent {
                        index: index as AgentIdx,
                    },
                    role,
                    liveness,
                    crash,
                    AgentRng(agent_rng),
                    profile,
                ),
                (
                    Detector {
                        forest: None,
                        window: TrainingWindow::with_capacity(config.detector.window),
                        last_fit_tick: None,
                    },
                    Blacklist::new(config.signatures.min_spread),
                    VoteBook::default(),
                    Reputation::default(),
                    Evidence::default(),
                ),
                (
                    TrafficBatch::default(),
                    Inbox::default(),
                    Outbox::default(),
                    TickCounts::default(),
                ),
            ))
            .id();
        directory.agents.push(entity);
        let role_name = match &insider {
            Some(insider) => insider.ledger_role(),
            None => role_name(role),
        };
        if let Some(insider) = insider {
            world.entity_mut(entity).insert(insider);
        }
        agent_rows.push(AgentRow {
            index: index as AgentIdx,
            role: role_name,
            neighbours: network.neighbours(index as u32).to_vec(),
        });
    }

    let run = RunInfo {
        config_ron: config.to_ron(),
        config_hash: config.hash_hex(),
        seed,
        version: env!("CARGO_PKG_VERSION").to_string(),
        agents: agent_rows,
    };
    let began = sink.begin(&run);
    let mut ledger = record::Ledger::new(sink);
    ledger.failure = began.err().map(|e| e.to_string()).or(flow_failure);

    world.insert_resource(clock::SimClock {
        tick: 0,
        steps: config.simulation.steps,
    });
    world.insert_resource(gossip::InFlight::new(rng::stream(seed, rng::STREAM_GOSSIP)));
    world.insert_resource(consensus::TrustSnapshot {
        trust: vec![Reputation::default().trust(); n],
    });
    world.insert_resource(links::Links {
        latency: links::LinkLatency::new(&config.network, seed),
        queues: links::LinkQueues::new(config.network.bandwidth),
    });
    world.insert_resource(links::Partitions::new(
        &config.faults.partitions,
        &network,
        seed,
    ));
    world.insert_resource(faults::Churn::new(n, rng::stream(seed, rng::STREAM_CHURN)));
    world.insert_resource(network);
    world.insert_resource(campaigns);
    if let Some(feed) = flow_feed {
        world.insert_resource(feed);
    }
    world.insert_resource(directory);
    world.insert_resource(ledger);
    world.init_resource::<TickEvents>();
    world.insert_resource(SimSettings { config });
}

/// A bare app around the simulation: no window, no time. [`Simulation::new`] takes its world.
fn headless_app(config: SimConfig, sink: Box<dyn LedgerSink>) -> App {
    let mut app = App::new();
    app.add_plugins(bevy::app::TaskPoolPlugin::default());
    app.add_plugins(SimPlugin::new(config, sink));
    app.finish();
    app.cleanup();
    app
}
