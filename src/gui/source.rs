//! Where the picture comes from. A live run keeps its simulation in a separate `World` that the view steps (the
//! view's own entities never mix with agents); a [`ViewSink`] hands each recorded tick to the view. A replay reads
//! frames from the ledger by tick. Either way the rest of the view only sees [`ViewData`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bevy::platform::time::Instant;
use bevy::prelude::*;

use super::{Opening, ViewOptions, ViewSet};
use crate::config::SimConfig;
use crate::ledger::{AgentRow, DecisionRow, Frame, LedgerError, LedgerSink, RunInfo, TickRecord};
use crate::model::{Outcome, TickMetrics};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<ViewData>();
    app.init_resource::<PendingRestart>();
    app.init_resource::<PendingOpen>();
    app.init_resource::<RecordingRequests>();
    app.add_systems(Startup, load_opening);
    app.add_systems(Last, finish_ledger_on_exit);
    app.add_systems(
        Update,
        (
            restart_run,
            open_recording,
            advance,
            pull_live_ticks,
            show_replay_tick,
        )
            .chain()
            .in_set(ViewSet::Advance),
    );
}

/// The slowest and fastest playback speeds, in ticks per second.
pub const SPEED_RANGE: (f32, f32) = (0.5, 240.0);
/// At most this long per frame goes to simulating, so the window stays responsive when a tick is slow.
const STEP_BUDGET_SECS: f32 = 0.035;

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
    pub problem: Option<String>,
}

impl ViewData {
    /// Metrics up to the tick on screen.
    pub fn visible_metrics(&self) -> &[TickMetrics] {
        &self.metrics[..(self.tick as usize).min(self.metrics.len())]
    }
}

/// Play, pause, speed and stepping.
#[derive(Resource, Debug)]
pub struct Playback {
    pub playing: bool,
    /// Ticks per second.
    pub speed: f32,
    /// Fraction of the current tick's animation already shown.
    pub phase: f32,
    pub step_once: bool,
    /// A replay tick to jump to.
    pub seek: Option<u32>,
    /// Holds the picture at the end of the tick (screenshots), so the same tick looks the same every time.
    pub freeze_phase: bool,
    /// Run the live simulation flat out to this tick (screenshots).
    pub run_to: Option<u32>,
}

impl Playback {
    pub fn new(options: &ViewOptions) -> Self {
        Self {
            playing: options.play,
            speed: options
                .speed
                .unwrap_or(8.0)
                .clamp(SPEED_RANGE.0, SPEED_RANGE.1),
            phase: 1.0,
            step_once: false,
            seek: Some(options.start_at.max(1)),
            freeze_phase: options.screenshot.is_some(),
            run_to: None,
        }
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
}

impl FeedEntry {
    pub fn new(tick: u32, sig_id: String, row: &DecisionRow) -> Self {
        Self {
            tick,
            sig_id,
            outcome: row.outcome,
            yes: row.yes,
            no: row.no,
            valid: row.valid,
        }
    }
}

/// The view's copy of what the simulation records each tick.
#[derive(Default)]
struct Feed {
    run: Option<RunInfo>,
    frame: Option<Frame>,
    metrics: Vec<TickMetrics>,
    decisions: Vec<FeedEntry>,
    sig_ids: BTreeMap<u32, u64>,
    last_tick: u32,
}

/// The live run's ledger sink: keeps what the view needs and passes every tick on to an optional real ledger.
pub struct ViewSink {
    feed: Arc<Mutex<Feed>>,
    inner: Option<Box<dyn LedgerSink>>,
}

impl LedgerSink for ViewSink {
    fn begin(&mut self, run: &RunInfo) -> Result<(), LedgerError> {
        self.feed.lock().expect("view feed").run = Some(run.clone());
        match &mut self.inner {
            Some(inner) => inner.begin(run),
            None => Ok(()),
        }
    }

    fn append(&mut self, mut record: TickRecord) -> Result<(), LedgerError> {
        {
            let mut feed = self.feed.lock().expect("view feed");
            for s in &record.signatures {
                feed.sig_ids.insert(s.sig, s.id);
            }
            for d in &record.decisions {
                let sig_id = feed
                    .sig_ids
                    .get(&d.sig)
                    .map_or_else(|| "?".to_string(), |&id| crate::ledger::sig_id_hex(id));
                feed.decisions.push(FeedEntry::new(record.tick, sig_id, d));
            }
            feed.metrics.push(record.metrics.clone());
            feed.last_tick = record.tick;
            // Only copy the frame when a real ledger wants it too.
            feed.frame = Some(match &self.inner {
                Some(_) => record.frame.clone(),
                None => std::mem::take(&mut record.frame),
            });
        }
        match &mut self.inner {
            Some(inner) => inner.append(record),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), LedgerError> {
        match &mut self.inner {
            Some(inner) => inner.finish(),
            None => Ok(()),
        }
    }

    fn snapshot(&mut self) -> Result<Vec<u8>, LedgerError> {
        match &mut self.inner {
            Some(inner) => inner.snapshot(),
            None => Err(LedgerError::NoRecording("this run is not recorded".into())),
        }
    }
}

/// A live simulation the view drives.
pub struct LiveRun {
    /// The simulation's own world: agents, pipeline schedule and resources, untouched by the view.
    pub world: World,
    feed: Arc<Mutex<Feed>>,
}

impl LiveRun {
    pub fn start(config: SimConfig, inner: Option<Box<dyn LedgerSink>>) -> Self {
        let feed = Arc::new(Mutex::new(Feed::default()));
        let sink = ViewSink {
            feed: feed.clone(),
            inner,
        };
        let mut app = crate::sim::headless_app(config, Box::new(sink));
        Self {
            world: std::mem::take(app.world_mut()),
            feed,
        }
    }

    pub fn tick(&self) -> u32 {
        self.world.resource::<crate::sim::clock::SimClock>().tick
    }

    pub fn finished(&self) -> bool {
        let clock = self.world.resource::<crate::sim::clock::SimClock>();
        clock.tick >= clock.steps
    }

    pub fn step(&mut self) {
        crate::sim::step_world(&mut self.world);
    }

    fn storage_problem(&self) -> Option<String> {
        self.world
            .resource::<crate::sim::record::Ledger>()
            .failure
            .clone()
    }

    /// Flushes the run's ledger, if it writes one.
    pub fn finish(&mut self) {
        let _ = self
            .world
            .resource_mut::<crate::sim::record::Ledger>()
            .sink
            .finish();
    }
}

/// A recording the view scrubs.
pub struct ReplayRun {
    /// A SQLite connection is not `Sync`; the lock makes the resource shareable.
    pub source: Mutex<crate::replay::ReplaySource>,
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
                let inner: Option<Box<dyn LedgerSink>> = match &options.ledger {
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
                ViewSource::Live(Box::new(LiveRun::start(*config, inner)))
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
                let seed = run
                    .world
                    .resource::<crate::sim::SimSettings>()
                    .config
                    .simulation
                    .seed;
                let tick = run.tick();
                let bytes = run
                    .world
                    .resource_mut::<crate::sim::record::Ledger>()
                    .sink
                    .snapshot()
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

/// The ledger a live run records into when no file is given: in the browser, an in-memory SQLite ledger, so the
/// page can offer the run's recording for download. The desktop records only where `--ledger` says.
pub fn in_memory_recording() -> Option<Box<dyn LedgerSink>> {
    if cfg!(target_arch = "wasm32") {
        crate::ledger::sqlite::SqliteLedger::in_memory()
            .ok()
            .map(|l| Box::new(l) as Box<dyn LedgerSink>)
    } else {
        None
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
    *data = ViewData {
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

fn show_new_replay(
    source: &crate::replay::ReplaySource,
    data: &mut ViewData,
) -> Result<(), crate::replay::ReplayError> {
    let agents = source.agents()?;
    let metrics = source.metrics_history()?;
    let feed = source
        .decisions()?
        .into_iter()
        .map(|d| FeedEntry::new(d.tick, d.sig_id, &d.row))
        .collect();
    open_view(data, source.config().clone(), agents, source.ticks());
    data.metrics = metrics;
    data.feed = feed;
    Ok(())
}

/// Opens a recording the page handed over in place of what is on screen, at its first tick and paused. A file
/// that is not a ledger leaves the view as it was and says why.
fn open_recording(
    mut pending: ResMut<PendingOpen>,
    mut source: ResMut<ViewSource>,
    mut data: ResMut<ViewData>,
    mut playback: ResMut<Playback>,
) {
    let Some((name, bytes)) = pending.0.take() else {
        return;
    };
    let opened = crate::replay::ReplaySource::from_bytes(&name, &bytes).and_then(|replay| {
        let mut shown = ViewData {
            run_generation: data.run_generation,
            ..default()
        };
        show_new_replay(&replay, &mut shown)?;
        Ok((replay, shown))
    });
    match opened {
        Ok((replay, shown)) => {
            if let ViewSource::Live(run) = source.as_mut() {
                run.finish();
            }
            *source = ViewSource::Replay(Box::new(ReplayRun {
                source: Mutex::new(replay),
            }));
            *data = shown;
            playback.playing = false;
            playback.phase = 1.0;
            playback.seek = Some(1);
        }
        Err(e) => data.problem = Some(e.to_string()),
    }
}

fn show_new_live_run(run: &LiveRun, data: &mut ViewData) {
    let feed = run.feed.lock().expect("view feed");
    let info = feed.run.clone().unwrap_or_else(|| RunInfo {
        config_ron: String::new(),
        config_hash: String::new(),
        seed: 0,
        version: String::new(),
        agents: Vec::new(),
    });
    drop(feed);
    let config = run
        .world
        .resource::<crate::sim::SimSettings>()
        .config
        .clone();
    let steps = config.simulation.steps;
    open_view(data, config, info.agents, steps);
}

/// The window is closing: flush the live run's ledger so no recorded tick is lost.
fn finish_ledger_on_exit(mut exits: MessageReader<AppExit>, mut source: ResMut<ViewSource>) {
    if exits.read().next().is_some()
        && let ViewSource::Live(run) = source.as_mut()
    {
        run.finish();
    }
}

fn restart_run(
    mut pending: ResMut<PendingRestart>,
    mut source: ResMut<ViewSource>,
    mut data: ResMut<ViewData>,
) {
    let Some(config) = pending.0.take() else {
        return;
    };
    if let ViewSource::Live(run) = source.as_mut() {
        run.finish();
    }
    // A restarted run is not recorded to a file: the ledger given on the command line belongs to the first run.
    let run = LiveRun::start(config, in_memory_recording());
    show_new_live_run(&run, &mut data);
    *source = ViewSource::Live(Box::new(run));
}

/// Moves time forward: steps the live simulation, or moves the replay's tick. Exclusive, so it runs on the main
/// thread: the simulation's own multi-threaded schedule must not be started from a worker of the view's schedule,
/// where both wait on the same task pool and deadlock.
fn advance(world: &mut World) {
    let delta = world.resource::<Time<Real>>().delta_secs();
    let shown_tick = world.resource::<ViewData>().tick;
    let last_tick = world.resource::<ViewData>().last_tick;
    world.resource_scope(|world, mut source: Mut<ViewSource>| {
        let mut playback = world.resource_mut::<Playback>();
        let mut ticks = 0u32;
        if playback.playing {
            playback.phase += playback.speed * delta;
            if playback.phase >= 1.0 {
                ticks = playback.phase.floor() as u32;
                playback.phase = playback.phase.fract();
            }
        }
        if playback.step_once {
            playback.step_once = false;
            ticks += 1;
            playback.phase = 0.0;
        }
        if playback.freeze_phase {
            playback.phase = 1.0;
        }
        match source.as_mut() {
            ViewSource::Live(run) => {
                let mut budget = STEP_BUDGET_SECS;
                if let Some(target) = playback.run_to {
                    ticks = ticks.max(target.saturating_sub(run.tick()));
                    budget = 0.25;
                    if ticks == 0 {
                        playback.run_to = None;
                    }
                }
                let started = Instant::now();
                for _ in 0..ticks {
                    if run.finished() {
                        break;
                    }
                    run.step();
                    if started.elapsed().as_secs_f32() > budget {
                        // Too slow for the chosen speed: show what we have instead of falling further behind.
                        break;
                    }
                }
                if run.finished() {
                    playback.playing = false;
                }
            }
            ViewSource::Replay(_) => {
                if ticks > 0 {
                    let target = (shown_tick + ticks).min(last_tick);
                    if target >= last_tick {
                        playback.playing = false;
                    }
                    playback.seek = Some(target);
                }
            }
        }
    });
}

fn pull_live_ticks(source: Res<ViewSource>, mut data: ResMut<ViewData>) {
    let ViewSource::Live(run) = source.as_ref() else {
        return;
    };
    let mut feed = run.feed.lock().expect("view feed");
    if let Some(frame) = feed.frame.take() {
        data.frame = frame;
        data.tick = feed.last_tick;
        data.frame_generation += 1;
        data.metrics.append(&mut feed.metrics);
        data.feed.append(&mut feed.decisions);
    }
    if data.problem.is_none() {
        drop(feed);
        data.problem = run.storage_problem();
    }
}

fn show_replay_tick(
    source: Res<ViewSource>,
    mut playback: ResMut<Playback>,
    mut data: ResMut<ViewData>,
) {
    let ViewSource::Replay(replay) = source.as_ref() else {
        return;
    };
    let Some(tick) = playback.seek.take() else {
        return;
    };
    let tick = tick.clamp(1.min(data.last_tick), data.last_tick);
    if tick == data.tick || tick == 0 {
        return;
    }
    let frame = replay.source.lock().expect("replay lock").frame(tick);
    match frame {
        Ok(frame) => {
            data.frame = frame;
            data.tick = tick;
            data.frame_generation += 1;
        }
        Err(e) => data.problem = Some(e.to_string()),
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
