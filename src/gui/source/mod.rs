//! Where the picture comes from: a live run ([`live`]), which steps a [`crate::sim::Simulation`] beside the view
//! and reads it only through that facade, or a recording ([`replay`]), read from the ledger by tick. [`playback`]
//! turns play, pause and speed into ticks for either. The rest of the view only sees [`ViewData`].

mod fork;
mod live;
mod playback;
mod replay;

use std::sync::Mutex;

use bevy::prelude::*;

pub use fork::{ForkPoint, PendingFork};
pub use live::{LiveRun, ViewSink, in_memory_recording};
pub use playback::{Playback, SPEED_RANGE};
pub use replay::ReplayRun;

use super::{Opening, ViewOptions, ViewSet};
use crate::config::SimConfig;
use crate::ledger::{AgentRow, DecisionRow, Frame};
use crate::model::{Outcome, TickMetrics};
use fork::{check_fork, fork_replay};
pub(crate) use live::show_new_live_run;
use live::{pull_live_ticks, restart_run};
use playback::advance;
pub use replay::SeekClock;
use replay::{open_recording, show_new_replay, show_replay_tick};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<ViewData>();
    app.init_resource::<SeekClock>();
    app.init_resource::<PendingRestart>();
    app.init_resource::<PendingOpen>();
    app.init_resource::<RecordingRequests>();
    app.init_resource::<PendingFork>();
    app.add_systems(Startup, load_opening);
    app.add_systems(Last, finish_ledger_on_exit);
    app.add_systems(
        Update,
        (
            restart_run,
            open_recording,
            fork_replay,
            advance,
            pull_live_ticks,
            check_fork,
            show_replay_tick,
        )
            .chain()
            .in_set(ViewSet::Advance),
    );
}

/// What the view shows this frame. Filled by the live run or the replay; read by the scene and the panels.
#[derive(Resource, Default)]
pub struct ViewData {
    pub config: SimConfig,
    pub agents: Vec<AgentRow>,
    /// Each link once, (lower index, higher index).
    pub edges: Vec<(u32, u32)>,
    /// The tick on screen (0 before the first).
    pub tick: u32,
    /// The last tick there is: the run's length, or the recording's.
    pub last_tick: u32,
    pub frame: Frame,
    /// Metrics of ticks 1..=tick (a replay holds the whole run and shows a prefix).
    pub metrics: Vec<TickMetrics>,
    /// Decisions so far, oldest first.
    pub feed: Vec<FeedEntry>,
    /// Bumps when the frame on screen changes.
    pub frame_generation: u64,
    /// Bumps when a different run or recording is opened (layout and edges change).
    pub run_generation: u64,
    /// The first storage or replay error, shown in the panels.
    /// Settings of the run that stop the defence, each naming its setting (`sim::diagnose`).
    pub hints: Vec<String>,
    pub problem: Option<String>,
    /// Every intervention of the run by tick: the config's script and the class's clicks (a live run), or what
    /// the recording holds (a replay). The scene draws the links cut at the tick on screen from it.
    pub interventions: Vec<(u32, crate::config::Intervention)>,
    /// Where this live run forked off a recording, if it did.
    pub fork: Option<ForkPoint>,
}

impl ViewData {
    /// The interventions applied by the tick on screen, oldest first.
    pub fn visible_interventions(
        &self,
    ) -> impl DoubleEndedIterator<Item = &(u32, crate::config::Intervention)> {
        self.interventions.iter().filter(|(t, _)| *t <= self.tick)
    }

    /// Metrics up to the tick on screen.
    pub fn visible_metrics(&self) -> &[TickMetrics] {
        &self.metrics[..(self.tick as usize).min(self.metrics.len())]
    }
}

/// A decision as the ledger feed shows it, built in one place for a live run and a replay alike.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEntry {
    pub tick: u32,
    /// The signature's stable id, as hex.
    pub sig_id: String,
    /// What the tallier claimed.
    pub outcome: Outcome,
    pub yes: u32,
    pub no: u32,
    /// The certificate check passed (otherwise honest agents refused the decision).
    pub valid: bool,
    /// What the signature really describes: 0 normal traffic, c + 1 campaign c.
    pub truth: u16,
}

impl FeedEntry {
    pub fn new(tick: u32, sig_id: String, truth: u16, row: &DecisionRow) -> Self {
        Self {
            tick,
            sig_id,
            truth,
            outcome: row.outcome,
            yes: row.yes,
            no: row.no,
            valid: row.valid,
        }
    }

    /// What honest agents took the decision as: the claim, or refused when its certificate failed the check.
    pub fn verdict(&self) -> Outcome {
        if self.valid {
            self.outcome
        } else {
            Outcome::Refused
        }
    }
}

/// The live run or the recording behind the view.
#[derive(Resource)]
pub enum ViewSource {
    Live(Box<LiveRun>),
    Replay(Box<ReplayRun>),
}

impl ViewSource {
    pub fn open(opening: Opening, options: &ViewOptions) -> Result<Self, String> {
        Ok(match opening {
            Opening::Live(config) => {
                #[cfg(not(target_arch = "wasm32"))]
                let inner: Option<Box<dyn crate::ledger::LedgerSink>> = match &options.ledger {
                    Some(path) => Some(Box::new(
                        crate::ledger::sqlite::SqliteLedger::create(path)
                            .map_err(|e| e.to_string())?,
                    )),
                    None => None,
                };
                #[cfg(target_arch = "wasm32")]
                let inner = {
                    let _ = options;
                    in_memory_recording()
                };
                #[allow(unused_mut)]
                let mut run = LiveRun::start(*config, inner);
                #[cfg(not(target_arch = "wasm32"))]
                if let Some(telemetry) = &options.telemetry {
                    telemetry.health.set_ready();
                    run.telemetry = Some(telemetry.clone());
                }
                ViewSource::Live(Box::new(run))
            }
            Opening::Replay(source) => ViewSource::Replay(Box::new(ReplayRun {
                source: Mutex::new(*source),
            })),
        })
    }

    pub fn is_replay(&self) -> bool {
        !matches!(self, ViewSource::Live(_))
    }

    /// What is on screen as the bytes of a ledger file, with a file name for it: the live run's in-memory
    /// recording (the browser keeps one), or the recording being replayed.
    pub fn recording(&mut self) -> Result<(String, Vec<u8>), String> {
        match self {
            ViewSource::Live(run) => {
                let seed = run.simulation.config().simulation.seed;
                let tick = run.tick();
                let bytes = run
                    .simulation
                    .ledger_snapshot()
                    .map_err(|e| e.to_string())?;
                Ok((format!("dais-seed{seed}-tick{tick}.sqlite"), bytes))
            }
            ViewSource::Replay(replay) => {
                let source = replay.source.get_mut().map_err(|e| e.to_string())?;
                let bytes = source.to_bytes().map_err(|e| e.to_string())?;
                Ok((source.name().to_string(), bytes))
            }
        }
    }
}

/// A request from the panels that replaces the run (also from a replay: back to a live run).
#[derive(Resource, Default)]
pub struct PendingRestart(pub Option<SimConfig>);

/// A recording's file name and bytes, handed over by the page, to open in place of what is on screen.
#[derive(Resource, Default)]
pub struct PendingOpen(pub Option<(String, Vec<u8>)>);

/// What the recording buttons asked the page for this frame (the browser build answers them).
#[derive(Resource, Default, Debug)]
pub struct RecordingRequests {
    /// Hand the recording on screen to the user as a file.
    pub download: bool,
    /// Let the user pick a recording to open.
    pub pick: bool,
    /// Start filming the canvas, or stop and save the film.
    pub toggle_video: bool,
    /// The canvas is being filmed (the browser's MediaRecorder).
    pub filming: bool,
}

fn edges_of(agents: &[AgentRow]) -> Vec<(u32, u32)> {
    let mut edges: Vec<(u32, u32)> = agents
        .iter()
        .flat_map(|a| {
            a.neighbours
                .iter()
                .filter(move |&&b| b > a.index)
                .map(move |&b| (a.index, b))
        })
        .collect();
    edges.sort_unstable();
    edges.dedup();
    edges
}

/// Resets the view for a new run or recording.
fn open_view(data: &mut ViewData, config: SimConfig, agents: Vec<AgentRow>, last_tick: u32) {
    let generation = data.run_generation + 1;
    let network = crate::sim::network::Network::from_adjacency(
        agents.iter().map(|a| a.neighbours.clone()).collect(),
    );
    *data = ViewData {
        hints: crate::sim::diagnose::hints(&config, &network),
        edges: edges_of(&agents),
        frame: Frame {
            agents: vec![crate::model::AgentState::Healthy; agents.len()],
            messages: Vec::new(),
        },
        agents,
        last_tick,
        config,
        run_generation: generation,
        frame_generation: 1,
        ..default()
    };
}

fn load_opening(mut source: ResMut<ViewSource>, mut data: ResMut<ViewData>) {
    match source.as_mut() {
        ViewSource::Live(run) => show_new_live_run(run, &mut data),
        ViewSource::Replay(replay) => {
            let source = replay.source.get_mut().expect("replay lock");
            if let Err(e) = show_new_replay(source, &mut data) {
                data.problem = Some(e.to_string());
            }
        }
    }
}

/// The window is closing: flush the live run's ledger so no recorded tick is lost.
fn finish_ledger_on_exit(mut exits: MessageReader<AppExit>, mut source: ResMut<ViewSource>) {
    if exits.read().next().is_some()
        && let ViewSource::Live(run) = source.as_mut()
    {
        run.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_config() -> SimConfig {
        let mut config = SimConfig::default();
        config.simulation.agents = 12;
        config.simulation.steps = 60;
        config
    }

    #[test]
    fn a_live_run_feeds_the_view_every_tick_it_steps() {
        let mut run = LiveRun::start(small_config(), None);
        let mut data = ViewData::default();
        show_new_live_run(&run, &mut data);
        assert_eq!(data.agents.len(), 12);
        assert!(!data.edges.is_empty());
        assert!(data.edges.iter().all(|&(a, b)| a < b));
        for _ in 0..45 {
            run.step();
        }
        let feed = run.feed.lock().unwrap();
        assert_eq!(feed.last_tick, 45);
        assert_eq!(feed.metrics.len(), 45);
        assert_eq!(feed.frame.as_ref().map(|f| f.agents.len()), Some(12));
        drop(feed);
        let details = ViewSource::Live(Box::new(run))
            .inspect(3, &data)
            .expect("agent 3 exists");
        assert_eq!(details.liveness.as_deref(), Some("up"));
        assert!(details.threshold.is_some(), "fitted after warm-up");
        assert!(details.reputation.is_some());
    }

    /// A live run recording into an in-memory ledger, as in the browser, stepped `ticks` times.
    fn recorded_in_memory(ticks: u32) -> LiveRun {
        let ledger = crate::ledger::sqlite::SqliteLedger::in_memory().unwrap();
        let mut run = LiveRun::start(small_config(), Some(Box::new(ledger)));
        for _ in 0..ticks {
            run.step();
        }
        run
    }

    #[test]
    fn a_live_run_recorded_in_memory_downloads_as_a_recording_that_replays() {
        let run = recorded_in_memory(30);
        let last_frame = run.feed.lock().unwrap().frame.clone().unwrap();
        let mut source = ViewSource::Live(Box::new(run));
        let (name, bytes) = source.recording().unwrap();
        assert_eq!(
            name,
            format!("dais-seed{}-tick30.sqlite", small_config().simulation.seed)
        );
        let mut replay = crate::replay::ReplaySource::from_bytes(&name, &bytes).unwrap();
        assert_eq!(replay.ticks(), 30);
        assert_eq!(replay.config(), &small_config());
        assert_eq!(replay.frame(30).unwrap(), last_frame);
        // A replay hands its recording on unchanged.
        let again = replay.to_bytes().unwrap();
        assert_eq!(
            crate::replay::ReplaySource::from_bytes("again", &again)
                .unwrap()
                .ticks(),
            30
        );
        // A live run that keeps no recording says so instead of saving nothing.
        let mut unrecorded = ViewSource::Live(Box::new(LiveRun::start(small_config(), None)));
        assert!(unrecorded.recording().is_err());
    }

    /// A view with only what opening a recording touches.
    fn view_world(source: ViewSource) -> World {
        let mut world = World::new();
        world.insert_resource(source);
        world.insert_resource(Playback::new(&ViewOptions::default()));
        world.init_resource::<ViewData>();
        world.init_resource::<SeekClock>();
        world.init_resource::<PendingOpen>();
        world
    }

    #[test]
    fn an_opened_recording_replaces_the_live_run_and_a_bad_file_leaves_it() {
        use bevy::ecs::system::RunSystemOnce;
        let recorded = recorded_in_memory(20);
        let (_, bytes) = ViewSource::Live(Box::new(recorded)).recording().unwrap();

        let mut world = view_world(ViewSource::Live(Box::new(LiveRun::start(
            small_config(),
            None,
        ))));
        world.resource_mut::<PendingOpen>().0 = Some(("notes.txt".into(), b"hello".to_vec()));
        world.run_system_once(open_recording).unwrap();
        assert!(!world.resource::<ViewSource>().is_replay());
        let problem = world.resource::<ViewData>().problem.clone().unwrap();
        assert!(
            problem.contains("notes.txt is not a DAIS ledger"),
            "{problem}"
        );

        world.resource_mut::<PendingOpen>().0 = Some(("run.sqlite".into(), bytes));
        world.run_system_once(open_recording).unwrap();
        world.run_system_once(show_replay_tick).unwrap();
        assert!(world.resource::<ViewSource>().is_replay());
        let data = world.resource::<ViewData>();
        assert_eq!((data.tick, data.last_tick), (1, 20));
        assert_eq!(data.agents.len(), 12);
        assert_eq!(data.metrics.len(), 20);
        assert!(data.problem.is_none(), "a good file clears the old problem");
    }

    #[test]
    fn the_live_view_matches_the_ledger_frame_for_frame() {
        // The frame the view shows is the very frame the ledger records, so a replay draws the same picture.
        let ledger = crate::ledger::memory::MemoryLedger::default();
        let mut recorded = LiveRun::start(small_config(), Some(Box::new(ledger.clone())));
        for _ in 0..50 {
            recorded.step();
        }
        let shown = recorded.feed.lock().unwrap().frame.clone();
        assert_eq!(
            shown.as_ref(),
            ledger.contents().ticks.last().map(|t| &t.frame)
        );
    }
}
