//! `dais sweep FILE --out DIR`: every run of a sweep, `--jobs` at a time in this process, each finished run
//! appended to `DIR/runs.csv` at once (flushed, so pandas can read it mid-sweep, and memory stays flat in the number
//! of runs). Rerunning the same command skips the runs already in `runs.csv`; a different sweep in the same DIR is
//! refused. A failed run records its error in the `error` column and the sweep goes on. With `--shard I/N` this
//! process does every N-th run into `runs-shard-I.csv`, and `merge` joins the shards into `runs.csv`.

pub mod manifest;
pub mod merge;
mod plot;
pub mod report;
pub mod slurm;
pub mod table;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::export::{Summary, write_summary};
use super::run::{RunOptions, TickHook, run};
use crate::experiment::shard::Shard;
use crate::experiment::sweep::{Keep, PlannedRun, SweepError, SweepFile};
use crate::ledger::{DiscardSink, LedgerSink};
use crate::ops::SweepTelemetry;
use crate::sim::estimate::{MemoryEstimate, estimate, human_bytes};
use manifest::{Manifest, ManifestError};
use table::{RunsWriter, TableError};

/// Why a sweep could not run at all (a failed run is a row, not this).
#[derive(Debug, thiserror::Error)]
pub enum SweepRunError {
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub out: PathBuf,
    /// Simulations at once.
    pub jobs: usize,
    /// `--threads`: the compute pool's size (None: as [`pool_threads`] decides from the runs). The pool is per
    /// process, so only the first sweep or run in a process sets it.
    pub threads: Option<usize>,
    pub quiet: bool,
    /// `--set` on the command line: applied to every run after the file's own `set` list.
    pub settings: Vec<crate::config::set::Setting>,
    /// Only this slice of the runs, into `runs-shard-I.csv` (None: every run, into `runs.csv`).
    pub shard: Option<Shard>,
    /// `--metrics-addr`: the sweep's Prometheus endpoint and health.
    pub telemetry: Option<Arc<SweepTelemetry>>,
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    pub total: usize,
    /// Already in `runs.csv` from an earlier invocation.
    pub skipped: usize,
    pub finished: usize,
    pub failed: usize,
    pub interrupted: bool,
}

/// The compute pool a sweep of runs of these populations wants (`None`: every core), as `dais run` decides it for
/// one run. With several runs at once each runs whole on its own thread; one run at a time splits its stages over
/// the pool only when some run is big enough to gain from it. The pool is per process, and a pool of two makes even
/// a single-threaded run's `par_iter` hand its few agents out as tasks: 200 runs of 40 agents took 11-13% longer.
pub fn pool_threads(requested: Option<usize>, jobs: usize, populations: &[usize]) -> Option<usize> {
    if jobs > 1 {
        return requested.or(Some(1));
    }
    let largest = populations.iter().copied().max().unwrap_or(0);
    super::run::default_threads(requested, largest)
}

/// One run, keeping what the sweep asks for in `DIR/runs/<id>/`.
fn run_one(
    planned: &PlannedRun,
    keep: &[Keep],
    out: &Path,
    single_threaded: bool,
    on_tick: Option<TickHook>,
) -> Result<Summary, String> {
    let dir = out.join("runs").join(&planned.id);
    if !keep.is_empty() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let sink: Box<dyn LedgerSink> = if keep.contains(&Keep::Ledger) {
        let path = dir.join("ledger.db");
        // A run redone after a crash starts its ledger again.
        let _ = std::fs::remove_file(&path);
        Box::new(crate::ledger::sqlite::SqliteLedger::create(&path).map_err(|e| e.to_string())?)
    } else {
        Box::new(DiscardSink)
    };
    let options = RunOptions {
        out: keep.contains(&Keep::Metrics).then(|| dir.clone()),
        quiet: true,
        single_threaded,
        telemetry: None,
        on_tick,
    };
    // Each run finishes once started: Ctrl-C stops the sweep between runs, not inside one.
    let never = Arc::new(AtomicBool::new(false));
    let outcome = run(planned.config.clone(), sink, &options, never).map_err(|e| e.to_string())?;
    // With `Metrics`, the run wrote its own summary.json beside metrics.csv.
    if keep.contains(&Keep::Summary) && options.out.is_none() {
        write_summary(&dir.join("summary.json"), &outcome.summary).map_err(|e| e.to_string())?;
    }
    Ok(outcome.summary)
}

fn sweep_bar(total: usize, done: usize, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:40}] {pos}/{len} runs  {per_sec}  ETA {eta}  {msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_position(done as u64);
    bar.set_message("0 failed");
    bar
}

/// Runs the sweep in `file` into `options.out`, until done or until `stop` is set (then it finishes the runs in
/// progress and keeps every finished row).
pub fn run_sweep(
    file: &Path,
    options: &SweepOptions,
    stop: Arc<AtomicBool>,
) -> Result<SweepOutcome, SweepRunError> {
    let (sweep, runs) = SweepFile::load(file, &options.settings)?;
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|source| SweepRunError::CreateDir {
        path: out.clone(),
        source,
    })?;
    Manifest::new(&sweep, &runs).write_or_check(out)?;

    let columns = table::columns(
        &sweep,
        runs.first().expect("expansion gives at least one run"),
    );
    let (csv_path, mine): (PathBuf, Vec<&PlannedRun>) = match options.shard {
        None => (out.join("runs.csv"), runs.iter().collect()),
        Some(shard) => (
            out.join(shard.csv_name()),
            runs.iter()
                .enumerate()
                .filter(|(i, _)| shard.owns(*i))
                .map(|(_, r)| r)
                .collect(),
        ),
    };
    let populations: Vec<usize> = mine.iter().map(|r| r.config.population()).collect();
    crate::headless::init_threads(pool_threads(options.threads, options.jobs, &populations));
    let (mut csv, done) = RunsWriter::open(&csv_path, &columns)?;
    let todo: Vec<&PlannedRun> = mine
        .iter()
        .copied()
        .filter(|r| !done.contains(&r.id))
        .collect();

    // Each run's planned peak: runs too big for the machine alone are refused as failed rows, and no more run at
    // once than fit side by side.
    let ledger_queue = sweep
        .keep
        .contains(&Keep::Ledger)
        .then_some(crate::ledger::sqlite::QUEUE_LIMIT_BYTES);
    let planned: Vec<MemoryEstimate> = todo
        .iter()
        .map(|r| estimate(&r.config, ledger_queue))
        .collect();
    let available = super::memory::available_bytes();
    let jobs = match available {
        Some(available) => {
            let totals: Vec<u64> = planned.iter().map(MemoryEstimate::total).collect();
            let fit = super::memory::jobs_that_fit(&totals, options.jobs, available);
            if fit < options.jobs.min(todo.len()) && !options.quiet {
                eprintln!(
                    "dais: the largest runs plan up to {} each and {} is available: running {fit} at once instead of \
                     {} (results are the same for any --jobs)",
                    human_bytes(totals.iter().copied().max().unwrap_or(0)),
                    human_bytes(available),
                    options.jobs
                );
            }
            fit
        }
        None => options.jobs,
    };
    let refusals: Vec<Option<String>> = planned
        .iter()
        .map(|p| available.and_then(|a| super::memory::refusal(p, a)))
        .collect();

    let mut outcome = SweepOutcome {
        total: mine.len(),
        skipped: mine.len() - todo.len(),
        ..Default::default()
    };
    if let Some(telemetry) = &options.telemetry {
        telemetry
            .metrics
            .planned(mine.len(), mine.len() - todo.len());
    }
    let bar = sweep_bar(mine.len(), outcome.skipped, options.quiet);
    let next = AtomicUsize::new(0);
    // With several simulations at once, each runs whole on its own thread: parallelism comes from the runs. A run
    // too small to split gains nothing from the pool either (as `dais run` decides), and `run` itself keeps a pool
    // of one thread (a Slurm task with one CPU) on the single-threaded executor.
    let single_threaded =
        |population: usize| jobs > 1 || super::run::best_on_one_thread(population);
    let started = Instant::now();
    let (send, receive) = mpsc::channel::<(usize, Result<Summary, String>)>();
    std::thread::scope(|scope| -> Result<(), SweepRunError> {
        for job in 0..jobs.max(1).min(todo.len().max(1)) {
            let send = send.clone();
            let (todo, next, stop, keep) = (&todo, &next, &stop, &sweep.keep);
            let refusals = &refusals;
            // The job slot's run reports its ticks (and keeps the sweep's health fresh within long runs).
            let on_tick = options.telemetry.clone().map(|telemetry| {
                TickHook(Arc::new(move |tick| {
                    telemetry.metrics.tick(job, tick);
                    telemetry.health.ticked(tick, 0.0, false);
                }))
            });
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(planned) = todo.get(i) else { break };
                    let result = match &refusals[i] {
                        Some(line) => Err(line.clone()),
                        None => run_one(
                            planned,
                            keep,
                            out,
                            single_threaded(planned.config.population()),
                            on_tick.clone(),
                        ),
                    };
                    if send.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        // Rows are written here, one thread, in the order runs finish; each is flushed before the next.
        for (i, result) in receive {
            csv.append(&table::record(todo[i], &result, columns.len()))?;
            if let Some(telemetry) = &options.telemetry {
                telemetry.metrics.finished(result.is_ok());
            }
            match result {
                Ok(_) => outcome.finished += 1,
                Err(_) => outcome.failed += 1,
            }
            bar.inc(1);
            bar.set_message(format!("{} failed", outcome.failed));
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    outcome.interrupted = stop.load(Ordering::Relaxed)
        && outcome.skipped + outcome.finished + outcome.failed < outcome.total;
    if !options.quiet {
        eprintln!(
            "{} runs: {} done now, {} already done, {} failed, in {:.1} s{}",
            outcome.total,
            outcome.finished,
            outcome.skipped,
            outcome.failed,
            started.elapsed().as_secs_f64(),
            if outcome.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_at_a_time_uses_the_pool_only_when_some_run_gains_from_it() {
        assert_eq!(pool_threads(None, 1, &[40, 20]), Some(1));
        assert_eq!(pool_threads(None, 1, &[40, 1_000]), None);
        assert_eq!(pool_threads(None, 2, &[1_000]), Some(1));
        assert_eq!(pool_threads(Some(2), 1, &[40]), Some(2));
        assert_eq!(pool_threads(Some(2), 2, &[1_000]), Some(2));
    }
}
