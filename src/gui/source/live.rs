//! A live run: the simulation steps in its own world beside the view's, and a [`ViewSink`] hands each recorded tick
//! to the view (and on to a real ledger, when the run is recorded).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;

use super::{FeedEntry, PendingRestart, ViewData, ViewSource, open_view};
use crate::config::SimConfig;
use crate::ledger::{Frame, LedgerError, LedgerSink, RunInfo, TickRecord};
use crate::model::TickMetrics;
use crate::sim::Simulation;

/// The view's copy of what the simulation records each tick.
#[derive(Default)]
pub(super) struct Feed {
    run: Option<RunInfo>,
    pub(super) frame: Option<Frame>,
    pub(super) metrics: Vec<TickMetrics>,
    decisions: Vec<FeedEntry>,
    /// Each signature's id and ground truth, by index.
    sig_ids: BTreeMap<u32, (u64, u16)>,
    pub(super) last_tick: u32,
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
                feed.sig_ids.insert(s.sig, (s.id, s.truth));
            }
            for d in &record.decisions {
                let (sig_id, truth) = feed.sig_ids.get(&d.sig).map_or_else(
                    || ("?".to_string(), 0),
                    |&(id, truth)| (crate::ledger::sig_id_hex(id), truth),
                );
                feed.decisions
                    .push(FeedEntry::new(record.tick, sig_id, truth, d));
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
    /// The simulation's own world, untouched by the view, which reads it only through the facade.
    pub simulation: Simulation,
    pub(super) feed: Arc<Mutex<Feed>>,
    /// `--metrics-addr`, told of every tick.
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) telemetry: Option<Arc<crate::ops::RunTelemetry>>,
}

impl LiveRun {
    pub fn start(config: SimConfig, inner: Option<Box<dyn LedgerSink>>) -> Self {
        let feed = Arc::new(Mutex::new(Feed::default()));
        let sink = ViewSink {
            feed: feed.clone(),
            inner,
        };
        Self {
            simulation: Simulation::new(config, Box::new(sink)),
            feed,
            #[cfg(not(target_arch = "wasm32"))]
            telemetry: None,
        }
    }

    pub fn tick(&self) -> u32 {
        self.simulation.tick()
    }

    pub fn finished(&self) -> bool {
        self.simulation.finished()
    }

    pub fn step(&mut self) {
        #[cfg(not(target_arch = "wasm32"))]
        let started = std::time::Instant::now();
        self.simulation.step();
        #[cfg(not(target_arch = "wasm32"))]
        if let (Some(telemetry), Some(metrics)) =
            (&self.telemetry, self.simulation.latest_metrics())
        {
            telemetry.ticked(
                metrics,
                started.elapsed().as_secs_f64(),
                self.simulation.ledger_stats(),
                self.simulation.storage_failure().is_some(),
            );
        }
    }

    /// Flushes the run's ledger, if it writes one. A failure here was already reported as the run's storage
    /// problem, when the tick that failed was recorded.
    pub fn finish(&mut self) {
        let _ = self.simulation.finish_ledger();
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

pub(crate) fn show_new_live_run(run: &LiveRun, data: &mut ViewData) {
    let feed = run.feed.lock().expect("view feed");
    let info = feed.run.clone().unwrap_or_else(|| RunInfo {
        config_ron: String::new(),
        config_hash: String::new(),
        seed: 0,
        version: String::new(),
        agents: Vec::new(),
    });
    drop(feed);
    let config = run.simulation.config().clone();
    let steps = config.simulation.steps;
    let interventions = config.interventions.clone();
    open_view(data, config, info.agents, steps);
    data.interventions = interventions;
}

pub(super) fn restart_run(
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

pub(super) fn pull_live_ticks(source: Res<ViewSource>, mut data: ResMut<ViewData>) {
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
        data.problem = run.simulation.storage_failure().map(str::to_string);
    }
}
