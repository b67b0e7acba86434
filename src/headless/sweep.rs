//! `dais sweep FILE --out DIR`: every run of a sweep, `--jobs` at a time in this process, each finished run
//! appended to `DIR/runs.csv` at once (flushed, so pandas can read it mid-sweep, and memory stays flat in the number
//! of runs). Rerunning the same command skips the runs already in `runs.csv`; a different sweep in the same DIR is
//! refused. A failed run records its error in the `error` column and the sweep goes on.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::export::{Summary, write_summary};
use super::run::{RunOptions, run};
use crate::experiment::sweep::{Keep, PlannedRun, SweepError, SweepFile};
use crate::ledger::{DiscardSink, LedgerSink};
use crate::sim::metrics::RunTotals;

/// Why a sweep could not run at all (a failed run is a row, not this).
#[derive(Debug, thiserror::Error)]
pub enum SweepRunError {
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error(
        "{dir} holds a different sweep (its manifest.json has sweep hash {found}, this one is {expected}); use another --out"
    )]
    DifferentSweep {
        dir: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: its header is not this sweep's columns; use another --out")]
    DifferentColumns { path: PathBuf },
}

#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub out: PathBuf,
    /// Simulations at once.
    pub jobs: usize,
    pub quiet: bool,
    /// `--set` on the command line: applied to every run after the file's own `set` list.
    pub settings: Vec<crate::config::set::Setting>,
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

#[derive(Serialize)]
struct Manifest<'a> {
    dais_version: &'a str,
    sweep_hash: String,
    sweep: &'a SweepFile,
    runs: Vec<ManifestRun<'a>>,
}

#[derive(Serialize)]
struct ManifestRun<'a> {
    id: &'a str,
    seed: u64,
    point: Vec<(&'a str, &'a str)>,
}

/// The figures of a summary as flat columns: every top-level number, name and hash, each campaign's figures as
/// `<figure>_<campaign>`, and `time_to_immunity_<campaign>`. Derived from `Summary`'s own serialisation, so a new
/// figure in `summary.json` becomes a column without being listed here.
fn summary_cells(summary: &Summary) -> Vec<(String, String)> {
    let value = serde_json::to_value(summary).expect("a summary serialises");
    let mut cells = Vec::new();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    for (key, v) in value.as_object().expect("an object") {
        match v {
            serde_json::Value::Number(_) | serde_json::Value::Null => {
                cells.push((key.clone(), text(v)))
            }
            serde_json::Value::Bool(b) => cells.push((key.clone(), u8::from(*b).to_string())),
            // The rule, topology and strategy names, and the hashes that let a row be checked against a rerun.
            serde_json::Value::String(text) => cells.push((key.clone(), text.clone())),
            _ => {}
        }
    }
    for campaign in value["campaigns"].as_array().into_iter().flatten() {
        let name = campaign["name"].as_str().unwrap_or("?");
        for (key, v) in campaign.as_object().expect("an object") {
            if key != "name" {
                cells.push((format!("{key}_{name}"), text(v)));
            }
        }
    }
    cells
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The columns of `runs.csv` for this sweep.
fn header(sweep: &SweepFile, first: &PlannedRun) -> Vec<String> {
    let blank = Summary::new(
        &first.config,
        &RunTotals::default(),
        None,
        (String::new(), None),
        0.0,
        false,
        1,
    );
    let mut columns = vec!["run_id".to_string()];
    columns.extend(sweep.vary.iter().map(|a| a.key.clone()));
    columns.push("seed".into());
    columns.extend(
        summary_cells(&blank)
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k != "seed"),
    );
    columns.push("error".into());
    columns
}

fn row(run: &PlannedRun, result: &Result<Summary, String>, columns: usize) -> String {
    let mut cells = vec![run.id.clone()];
    cells.extend(run.point.iter().map(|s| s.value.clone()));
    cells.push(run.seed.to_string());
    match result {
        Ok(summary) => {
            cells.extend(
                summary_cells(summary)
                    .into_iter()
                    .filter(|(k, _)| k != "seed")
                    .map(|(_, v)| v),
            );
            cells.push(String::new());
        }
        Err(error) => {
            cells.resize(columns - 1, String::new());
            cells.push(error.clone());
        }
    }
    cells
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",")
}

/// The run ids already in `runs.csv`, after checking its header is this sweep's.
fn finished_ids(path: &Path, header_line: &str) -> Result<BTreeSet<String>, SweepRunError> {
    let Ok(file) = File::open(path) else {
        return Ok(BTreeSet::new());
    };
    let mut lines = BufReader::new(file).lines();
    match lines.next() {
        Some(Ok(first)) if first == header_line => {}
        None => return Ok(BTreeSet::new()),
        _ => {
            return Err(SweepRunError::DifferentColumns {
                path: path.to_path_buf(),
            });
        }
    }
    // A row cut short by a crash has no newline and fewer fields; it is simply redone.
    Ok(lines
        .map_while(Result::ok)
        .filter(|l| l.split(',').count() >= header_line.split(',').count())
        .filter_map(|l| l.split(',').next().map(str::to_string))
        .collect())
}

/// One run, keeping what the sweep asks for in `DIR/runs/<id>/`.
fn run_one(
    planned: &PlannedRun,
    keep: &[Keep],
    out: &Path,
    single_threaded: bool,
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
    let mut sweep = SweepFile::read(file)?;
    sweep.set.extend(
        options
            .settings
            .iter()
            .map(|s| (s.key.clone(), s.value.clone())),
    );
    let folder = file.parent().unwrap_or(Path::new("."));
    let runs = sweep.expand(folder)?;
    let out = &options.out;
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SweepRunError::Write { path, source }
    };
    std::fs::create_dir_all(out).map_err(write_err(out))?;

    // The sweep's identity is its expanded run list: the same file, or an equivalent one, resumes.
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    let sweep_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        ids.join("\n").as_bytes(),
    ));
    let manifest_path = out.join("manifest.json");
    if let Ok(text) = std::fs::read_to_string(&manifest_path) {
        let found: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let found = found["sweep_hash"]
            .as_str()
            .unwrap_or("unreadable")
            .to_string();
        if found != sweep_hash {
            return Err(SweepRunError::DifferentSweep {
                dir: out.clone(),
                found,
                expected: sweep_hash,
            });
        }
    } else {
        let manifest = Manifest {
            dais_version: env!("CARGO_PKG_VERSION"),
            sweep_hash: sweep_hash.clone(),
            sweep: &sweep,
            runs: runs
                .iter()
                .map(|r| ManifestRun {
                    id: &r.id,
                    seed: r.seed,
                    point: r
                        .point
                        .iter()
                        .map(|s| (s.key.as_str(), s.value.as_str()))
                        .collect(),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
        std::fs::write(&manifest_path, text + "\n").map_err(write_err(&manifest_path))?;
    }

    let columns = header(
        &sweep,
        runs.first().expect("expansion gives at least one run"),
    );
    let header_line = columns.join(",");
    let csv_path = out.join("runs.csv");
    let done = finished_ids(&csv_path, &header_line)?;
    let todo: Vec<&PlannedRun> = runs.iter().filter(|r| !done.contains(&r.id)).collect();
    let mut csv = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&csv_path)
        .map_err(write_err(&csv_path))?;
    if done.is_empty() {
        csv.set_len(0).map_err(write_err(&csv_path))?;
        writeln!(csv, "{header_line}").map_err(write_err(&csv_path))?;
    }

    let mut outcome = SweepOutcome {
        total: runs.len(),
        skipped: runs.len() - todo.len(),
        ..Default::default()
    };
    let bar = sweep_bar(runs.len(), outcome.skipped, options.quiet);
    let next = AtomicUsize::new(0);
    // With several simulations at once, each runs whole on its own thread: parallelism comes from the runs.
    let single_threaded = options.jobs > 1;
    let started = Instant::now();
    let (send, receive) = mpsc::channel::<(usize, Result<Summary, String>)>();
    std::thread::scope(|scope| -> Result<(), SweepRunError> {
        for _ in 0..options.jobs.max(1).min(todo.len().max(1)) {
            let send = send.clone();
            let (todo, next, stop, keep) = (&todo, &next, &stop, &sweep.keep);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(planned) = todo.get(i) else { break };
                    let result = run_one(planned, keep, out, single_threaded);
                    if send.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        // Rows are written here, one thread, in the order runs finish; each is flushed before the next.
        for (i, result) in receive {
            let line = row(todo[i], &result, columns.len());
            writeln!(csv, "{line}")
                .and_then(|()| csv.flush())
                .map_err(write_err(&csv_path))?;
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
