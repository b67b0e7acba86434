//! Batch runs without a window: step the simulation as fast as the machine allows, show a progress bar on a
//! terminal, stream metrics to disk as they are computed, and stop cleanly on Ctrl-C with everything so far written.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bevy::prelude::*;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use thiserror::Error;

use super::export::{MetricsCsv, Summary, write_summary};
use crate::config::SimConfig;
use crate::ledger::LedgerSink;
use crate::ops::RunTelemetry;
use crate::sim::{Simulation, metrics::RunTotals};

#[derive(Debug, Error)]
pub enum RunError {
    #[error("cannot create output directory {path}: {source}")]
    OutputDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The ledger failed while the run recorded into it (its first error, as the run reported it).
    #[error("{0}")]
    Recording(String),
    /// The ledger failed to close.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub out: Option<PathBuf>,
    /// Hide the progress bar even on a terminal.
    pub quiet: bool,
    /// Run every stage on this thread (see [`Simulation::single_threaded`]). A pool of one thread always does: the
    /// multi-threaded executor's hand-offs would gain nothing.
    pub single_threaded: bool,
    /// `--metrics-addr`: the Prometheus endpoint and health this run reports to after every tick.
    pub telemetry: Option<Arc<RunTelemetry>>,
    /// Told each tick as it completes (a sweep's `dais_sweep_current_run_ticks`).
    pub on_tick: Option<TickHook>,
}

/// A callback given each completed tick.
#[derive(Clone)]
pub struct TickHook(pub Arc<dyn Fn(u32) + Send + Sync>);

impl std::fmt::Debug for TickHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TickHook")
    }
}

/// What a finished (or interrupted) run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub summary: Summary,
    pub totals: RunTotals,
}

/// A tick slower than this is logged as a warning (a stall in the making: /healthz says 503 after --stall-after).
const STALLED_TICK_SECONDS: f64 = 10.0;

/// This many ticks waiting for the SQLite writer holding a sixteenth of its queue's bytes, or half its bytes
/// whatever the ticks, means the writer lags behind the run;
/// once the queue's bytes are full the run waits on the disk.
const LEDGER_LAG_TICKS: u64 = 8;

/// Below this many agents a run is fastest on one thread: splitting a stage's few agents among threads costs more
/// in hand-offs than it saves (measured on 2 cores: 20 agents x 100 ticks 35 ms on one thread against 49 on two,
/// 40 agents 63 against 77; at 60 agents two threads win, 86 against 95).
pub const ONE_THREAD_BELOW_AGENTS: usize = 50;

/// Whether a run of `population` agents is fastest on one thread ([`ONE_THREAD_BELOW_AGENTS`]).
pub fn best_on_one_thread(population: usize) -> bool {
    population < ONE_THREAD_BELOW_AGENTS
}

/// The worker threads a run of `population` agents uses: `requested` when given, else one where
/// [`best_on_one_thread`] and every core (`None`) otherwise.
pub fn default_threads(requested: Option<usize>, population: usize) -> Option<usize> {
    requested.or(best_on_one_thread(population).then_some(1))
}

/// Sets the size of the compute pool that `par_iter` uses. Only the first call in a process takes effect, which is
/// why `--threads` is a process-level flag.
pub fn init_threads(threads: Option<usize>) -> usize {
    let threads = threads
        .unwrap_or_else(bevy::tasks::available_parallelism)
        .max(1);
    bevy::tasks::ComputeTaskPool::get_or_init(|| {
        bevy::tasks::TaskPoolBuilder::new()
            .num_threads(threads)
            .thread_name("dais-compute".into())
            .build()
    })
    .thread_num()
}

pub fn progress_bar(steps: u32, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::new(u64::from(steps));
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:40}] {pos}/{len} ticks  {rate}  ETA {eta}  {msg}",
        )
        .expect("static template")
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1} ticks/s", state.per_sec());
            },
        )
        .progress_chars("=> "),
    );
    bar
}

/// Runs `config` to its last step, or until `stop` is set.
pub fn run(
    config: SimConfig,
    sink: Box<dyn LedgerSink>,
    options: &RunOptions,
    stop: Arc<AtomicBool>,
) -> Result<RunOutcome, RunError> {
    if let Some(dir) = &options.out {
        std::fs::create_dir_all(dir).map_err(|source| RunError::OutputDir {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("config.ron");
        std::fs::write(&path, config.to_ron())
            .map_err(|source| RunError::Write { path, source })?;
    }
    let campaign_names: Vec<String> = config
        .traffic
        .campaigns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let mut csv = match &options.out {
        Some(dir) => Some(MetricsCsv::create(
            &dir.join("metrics.csv"),
            &campaign_names,
        )?),
        None => None,
    };
    let steps = config.simulation.steps;
    tracing::info!(
        target: "dais::run",
        seed = config.simulation.seed,
        config_hash = %config.hash_hex(),
        agents = config.simulation.agents,
        steps,
        "run started"
    );
    let started = Instant::now();
    let mut simulation = Simulation::new(config.clone(), sink);
    if options.single_threaded || bevy::tasks::ComputeTaskPool::get().thread_num() <= 1 {
        simulation = simulation.single_threaded();
    }
    if let Some(telemetry) = &options.telemetry {
        telemetry.health.set_ready();
    }
    let bar = progress_bar(steps, options.quiet);
    crate::ops::logs::attach_bar(&bar);
    let mut next_lag_warning = 0;
    let mut interrupted = false;
    for _ in 0..steps {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        let tick_started = Instant::now();
        simulation.step();
        let tick_seconds = tick_started.elapsed().as_secs_f64();
        let tick = simulation.tick();
        if tick_seconds > STALLED_TICK_SECONDS {
            tracing::warn!(target: "dais::run", tick, seconds = tick_seconds, "a tick took over {STALLED_TICK_SECONDS} s");
        }
        let ledger = simulation.ledger_stats();
        // Ticks alone are no sign of trouble: a small run outpaces the writer by many ticks of a few kilobytes.
        let limit = crate::ledger::sqlite::QUEUE_LIMIT_BYTES;
        let lagging = (ledger.queued_ticks >= LEDGER_LAG_TICKS
            && ledger.queued_bytes >= limit / 16)
            || ledger.queued_bytes >= limit / 2;
        if lagging && tick >= next_lag_warning {
            tracing::warn!(target: "dais::run", tick, queued_ticks = ledger.queued_ticks, queued_bytes = ledger.queued_bytes, "the ledger writer lags: the run waits on the disk once its queue is full");
            next_lag_warning = tick + 100;
        }
        let failure = simulation.storage_failure();
        if let Some(telemetry) = &options.telemetry {
            telemetry.ticked(
                simulation.latest_metrics().expect("a tick was measured"),
                tick_seconds,
                ledger,
                failure.is_some(),
            );
        }
        if let Some(TickHook(hook)) = &options.on_tick {
            hook(tick);
        }
        if let Some(failure) = failure {
            return Err(RunError::Recording(failure.to_string()));
        }
        if let Some(csv) = &mut csv {
            csv.append(simulation.latest_metrics().expect("a tick was measured"))?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    crate::ops::logs::detach_bar();
    if interrupted {
        tracing::warn!(target: "dais::run", tick = simulation.tick(), "run interrupted: writing what it has");
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    let ledger_result = simulation.finish_ledger();
    let ledger_head = simulation.ledger_head_hash();
    if let Some(csv) = &mut csv {
        csv.flush()?;
    }
    let totals = simulation.totals().clone();
    let state_hash = simulation.state_hash_hex();
    let threads = bevy::tasks::ComputeTaskPool::get().thread_num();
    let last = simulation.latest_metrics().cloned();
    let summary = Summary::new(
        &config,
        &totals,
        last.as_ref(),
        (state_hash, ledger_head),
        wall_seconds,
        interrupted,
        threads,
    );
    if let Some(dir) = &options.out {
        write_summary(&dir.join("summary.json"), &summary)?;
    }
    tracing::info!(
        target: "dais::run",
        tick = totals.ticks,
        signatures_accepted_true = summary.counts.signatures_accepted_true,
        signatures_accepted_false = summary.counts.signatures_accepted_false,
        detection_precision = summary.detection_precision,
        detection_recall = summary.detection_recall,
        messages = summary.messages,
        wall_seconds,
        interrupted,
        final_state_hash = %summary.final_state_hash,
        "run finished"
    );
    ledger_result?;
    Ok(RunOutcome { summary, totals })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_runs_default_to_one_thread_and_a_requested_count_wins() {
        assert_eq!(default_threads(None, 40), Some(1));
        assert_eq!(default_threads(None, ONE_THREAD_BELOW_AGENTS), None);
        assert_eq!(default_threads(Some(2), 40), Some(2));
        assert_eq!(default_threads(Some(1), 1_000), Some(1));
    }
}
