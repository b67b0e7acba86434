//! The command line: parse flags, pick a mode, report errors as one line with a non-zero exit code.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

use std::io::Write;
use std::path::{Path, PathBuf};

mod sweep;

use crate::cli::{
    Cli, Command, ConfigArgs, ConfigCommand, DetectArgs, LedgerCommand, ReplayArgs, RunArgs,
};
use crate::error::CommandError;
use crate::exit::Finished;
use dais::config::{SimConfig, load};
use dais::ledger::sqlite::SqliteLedger;
use dais::sim::estimate::{estimate, human_bytes};

/// The command line's log flags, set once in `main`.
static LOG_ARGS: std::sync::OnceLock<crate::cli::LogArgs> = std::sync::OnceLock::new();

fn log_args() -> &'static crate::cli::LogArgs {
    LOG_ARGS.get().expect("main sets the log flags first")
}

/// Headless work logs through our subscriber (a window's LogPlugin sets up its own).
fn start_logs() -> Result<(), CommandError> {
    dais::ops::logs::init(&log_args().options())?;
    Ok(())
}

fn env_vars() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("DAIS_"))
        .collect()
}

/// The config from all layers. A `DAIS_` variable that names no key is a warning with the closest key, or an
/// error with `--strict-env`: a typo must not silently leave a setting at its default.
fn effective_config(args: &ConfigArgs) -> Result<SimConfig, CommandError> {
    let vars = env_vars();
    for unknown in load::unknown_env_vars(&vars) {
        if args.strict_env {
            return Err(CommandError::StrictEnv {
                var: unknown.to_string(),
            });
        }
        eprintln!("warning: {unknown}; it is ignored (--strict-env makes this an error)");
    }
    Ok(load::load_config(&args.source(), &vars, &args.flags())?)
}

/// The files a run writes into `--out DIR`.
const RUN_FILES: &[&str] = &[
    "metrics.csv",
    "summary.json",
    "config.ron",
    "ledger.db",
    "ledger.db-wal",
    "ledger.db-shm",
];

/// Refuses a `--out` directory that holds an earlier run, unless `--force`, which clears that run's files first
/// (so nothing of the old run survives beside the new one).
fn prepare_out_dir(dir: &Path, force: bool) -> Result<(), CommandError> {
    let earlier: Vec<&str> = RUN_FILES
        .iter()
        .copied()
        .filter(|f| dir.join(f).exists())
        .collect();
    if earlier.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(CommandError::EarlierRun {
            dir: dir.to_path_buf(),
            files: earlier.iter().map(|f| f.to_string()).collect(),
        });
    }
    for file in earlier {
        let path = dir.join(file);
        std::fs::remove_file(&path).map_err(|source| CommandError::Replace { path, source })?;
    }
    Ok(())
}

/// Ctrl-C asks the run to stop after the current tick and write what it has; a second Ctrl-C exits at once.
fn install_interrupt_handler(finishing: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ndais: interrupted; {finishing} (Ctrl-C again to abort)");
    });
    stop
}

/// `--metrics-addr`: bound before the run starts, so a port in use is one line and no run.
fn start_telemetry(
    ops: &crate::cli::OpsArgs,
    config: &SimConfig,
) -> Result<Option<dais::ops::RunTelemetry>, CommandError> {
    let Some(addr) = &ops.metrics_addr else {
        return Ok(None);
    };
    let telemetry = dais::ops::RunTelemetry::start(
        addr,
        config,
        std::time::Duration::from_secs_f64(ops.stall_after),
    )?;
    announce(telemetry.local_addr());
    Ok(Some(telemetry))
}

/// Where the monitoring endpoint listens: one line on stderr, even with --quiet (with port 0, the port chosen).
pub(crate) fn announce(addr: std::net::SocketAddr) {
    eprintln!("dais: serving metrics on http://{addr}/metrics (and /healthz, /readyz)");
}

/// Whether to open a window: not with --no-render, and not where none can open (said in one line).
fn window_wanted(no_render: bool, screenshot: bool) -> Result<bool, CommandError> {
    if no_render {
        return Ok(false);
    }
    #[cfg(feature = "gui")]
    {
        match dais::gui::display_problem() {
            None => Ok(true),
            Some(reason) if screenshot => Err(CommandError::NeedsWindow(reason)),
            Some(reason) => {
                eprintln!(
                    "dais: {reason}; running headless instead (--no-render skips this check)"
                );
                Ok(false)
            }
        }
    }
    #[cfg(not(feature = "gui"))]
    {
        if screenshot {
            return Err(CommandError::NeedsWindow(
                "this dais was built without the gui feature".into(),
            ));
        }
        eprintln!("dais: this dais was built without the gui feature; running headless");
        Ok(false)
    }
}

/// What only some windows have: a film to make (`replay --video`) and a size.
#[cfg(feature = "gui")]
#[derive(Default)]
struct WindowExtras {
    video: Option<dais::gui::video::VideoPlan>,
    size: Option<(u32, u32)>,
    lesson: Option<dais::lesson::Lesson>,
}

#[cfg(feature = "gui")]
fn open_window(
    opening: dais::gui::Opening,
    view: &crate::cli::ViewArgs,
    // The tick a replay opens at, and the tick a screenshot shows.
    screenshot_tick: u32,
    ledger: Option<PathBuf>,
    telemetry: Option<Arc<dais::ops::RunTelemetry>>,
    extras: WindowExtras,
) -> Result<(), CommandError> {
    dais::ops::logs::set_window_options(log_args().options())?;
    let video = extras.video.clone();
    let options = dais::gui::ViewOptions {
        video: extras.video,
        size: extras.size,
        play: view.play,
        speed: view.speed,
        start_at: screenshot_tick,
        screenshot: view.screenshot.clone().map(|path| (path, screenshot_tick)),
        quit_after: view.quit_after,
        log_level: log_args().log_level.clone(),
        ledger,
        telemetry,
        lesson: extras.lesson,
        large_text: view.large_text,
        high_contrast: view.high_contrast,
    };
    let stats = dais::gui::SharedFrameStats::default();
    let mut app =
        dais::gui::build_app(opening, options, stats.clone()).map_err(CommandError::View)?;
    let exit = app.run();
    // A film, like a screenshot, is a command-line job: its one line says what it saved.
    if video.is_none()
        && let Some(report) = stats.lock().ok().and_then(|s| s.report())
    {
        eprintln!("dais: {report}");
    }
    if let Some(path) = &view.screenshot {
        if !path.exists() {
            return Err(CommandError::View(format!(
                "the window closed before the screenshot {} was saved",
                path.display()
            )));
        }
        eprintln!("dais: saved {}", path.display());
    }
    if let Some(video) = &video
        && exit == bevy::app::AppExit::Success
    {
        if !video.path.exists() {
            return Err(CommandError::View(format!(
                "the window closed before the film {} was written",
                video.path.display()
            )));
        }
        eprintln!(
            "dais: saved {} (ticks {} to {}, {} frames at {} fps)",
            video.path.display(),
            video.from,
            video.to,
            video.to - video.from + 1,
            video.fps
        );
    }
    match exit {
        bevy::app::AppExit::Success => Ok(()),
        bevy::app::AppExit::Error(code) => Err(CommandError::View(format!(
            "the window exited with code {code}"
        ))),
    }
}

fn run(args: &RunArgs) -> Result<Finished, CommandError> {
    let screenshot = args.view.screenshot.is_some();
    // With --screenshot, --steps is the tick to photograph; the run keeps its configured length, so a scenario's
    // later campaigns stay valid.
    let mut config_args = args.config.clone();
    let screenshot_steps = if screenshot {
        config_args.steps.take()
    } else {
        None
    };
    let mut config = effective_config(&config_args)?;
    if let Some(tick) = screenshot_steps
        && tick > config.simulation.steps
    {
        return Err(CommandError::ScreenshotPastEnd {
            tick,
            last: config.simulation.steps,
        });
    }
    if let Some(dir) = &args.out {
        config.output.dir = Some(dir.display().to_string());
    }
    if let Some(dir) = &config.output.dir {
        prepare_out_dir(Path::new(dir), args.force)?;
    }
    let recording = (config.output.dir.is_some() || args.ledger.is_some())
        .then_some(dais::ledger::sqlite::QUEUE_LIMIT_BYTES);
    let planned = estimate(&config, recording);
    if !args.force
        && let Some(available) = dais::headless::memory::available_bytes()
        && let Some(line) = dais::headless::memory::refusal(&planned, available)
    {
        return Err(CommandError::TooBig(format!(
            "{line}; add --force to run anyway"
        )));
    }
    if window_wanted(args.no_render, screenshot)? {
        #[cfg(feature = "gui")]
        {
            let out = config.output.dir.as_ref().map(PathBuf::from);
            let ledger = ledger_path(args, out.as_deref())?;
            let tick = screenshot_steps.unwrap_or(config.simulation.steps);
            let telemetry = start_telemetry(&args.ops, &config)?.map(Arc::new);
            return open_window(
                dais::gui::Opening::Live(Box::new(config)),
                &args.view,
                tick,
                ledger,
                telemetry,
                WindowExtras::default(),
            )
            .map(|()| Finished::Done);
        }
    }
    let _ = screenshot_steps;
    start_logs()?;
    let threads = dais::headless::init_threads(dais::headless::default_threads(
        args.threads.map(usize::from),
        config.population(),
    ));
    let telemetry = start_telemetry(&args.ops, &config)?.map(Arc::new);
    let options = dais::headless::RunOptions {
        out: config.output.dir.as_ref().map(Into::into),
        quiet: args.quiet,
        single_threaded: false,
        telemetry,
        on_tick: None,
    };
    let ledger_path = ledger_path(args, options.out.as_deref())?;
    let sink: Box<dyn dais::ledger::LedgerSink> = match &ledger_path {
        Some(path) => Box::new(SqliteLedger::create(path)?),
        None => Box::new(dais::ledger::DiscardSink),
    };
    let stop = install_interrupt_handler("finishing the current tick and writing results");
    let outcome = dais::headless::run(config, sink, &options, stop)?;
    if !args.quiet {
        println!(
            "DAIS run summary ({})",
            dais::headless::export::thread_count(threads)
        );
        print!("{}", outcome.summary.table());
        if let Some(dir) = &options.out {
            println!("  wrote {}/metrics.csv and summary.json", dir.display());
        }
        if let Some(path) = &ledger_path {
            println!("  recorded the ledger to {}", path.display());
        }
        if let Some(peak) = dais::headless::memory::peak_rss_bytes() {
            println!(
                "  peak memory {} (planned {})",
                human_bytes(peak),
                human_bytes(planned.total())
            );
        }
    }
    Ok(if outcome.summary.interrupted {
        Finished::Interrupted
    } else {
        Finished::Done
    })
}

/// `--ledger PATH` wins; otherwise `--out DIR` records to DIR/ledger.db (which `prepare_out_dir` has cleared or
/// refused). An existing ledger file is never overwritten.
fn ledger_path(args: &RunArgs, out: Option<&Path>) -> Result<Option<PathBuf>, CommandError> {
    if let Some(path) = &args.ledger {
        return Ok(Some(path.clone()));
    }
    let Some(dir) = out else { return Ok(None) };
    std::fs::create_dir_all(dir).map_err(|source| CommandError::OutputDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    Ok(Some(dir.join("ledger.db")))
}

fn open_ledger(path: &Path) -> Result<rusqlite::Connection, CommandError> {
    Ok(dais::ledger::sqlite::open_existing(path)?)
}

/// The note a schema-1 ledger gets wherever it is opened: it is read, but its chain proves less.
fn old_schema_note(conn: &rusqlite::Connection, path: &Path) {
    // Schema 2 and later chain every row; only schema 1 proves less.
    if dais::ledger::sqlite::schema_version(conn).unwrap_or(0) < 2 {
        eprintln!(
            "note: {} is a schema-1 ledger from an earlier dais, opened read-only; its chain covers signatures, \
             ballots and decisions only, not the run, agents, ticks or frames",
            path.display()
        );
    }
}

fn ledger_command(command: &LedgerCommand) -> Result<Finished, CommandError> {
    use dais::ledger::{inspect, verify};
    match command {
        LedgerCommand::Verify { path, expect_head } => {
            let conn = open_ledger(path)?;
            old_schema_note(&conn, path);
            let report = verify::verify(&conn).map_err(|problem| CommandError::Verify {
                path: path.clone(),
                problem,
            })?;
            if let Some(expected) = expect_head
                && !expected.eq_ignore_ascii_case(&report.head_hash)
            {
                return Err(CommandError::UnexpectedHead {
                    path: path.clone(),
                    found: report.head_hash,
                    expected: expected.clone(),
                });
            }
            println!("{}", report.line());
            if report.schema >= 2 && !report.closed {
                return Ok(Finished::Incomplete);
            }
        }
        LedgerCommand::Export {
            path,
            table,
            format,
            output,
        } => {
            let conn = open_ledger(path)?;
            let rows = match output {
                Some(file) => {
                    let cannot_write = |source| CommandError::Write {
                        path: file.clone(),
                        source,
                    };
                    let f = std::fs::File::create(file).map_err(cannot_write)?;
                    let mut w = std::io::BufWriter::new(f);
                    let rows = inspect::export(&conn, table, *format, &mut w)?;
                    w.flush().map_err(cannot_write)?;
                    rows
                }
                // A closed pipe (`| head`) is the reader saying it has seen enough, not an error.
                None => {
                    match inspect::export(&conn, table, *format, &mut std::io::stdout().lock()) {
                        Err(e) if e.is_broken_pipe() => return Ok(Finished::Done),
                        other => other?,
                    }
                }
            };
            if let Some(file) = output {
                eprintln!("exported {rows} rows of {table} to {}", file.display());
            }
        }
        LedgerCommand::Backup { path, dest } => {
            let conn = open_ledger(path)?;
            inspect::backup(&conn, dest)?;
            println!("backed up {} to {}", path.display(), dest.display());
        }
        LedgerCommand::Stats { path } => {
            let conn = open_ledger(path)?;
            let stats = inspect::stats(&conn).map_err(|source| CommandError::Stats {
                path: path.clone(),
                source,
            })?;
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            println!("ledger {} (schema {})", path.display(), stats.schema);
            for (table, rows) in &stats.rows {
                println!("  {table:<11} {rows} rows");
            }
            println!("  last tick   {}", stats.ticks);
            println!(
                "  file size   {size} bytes ({:.1} MiB)",
                size as f64 / 1_048_576.0
            );
            println!("  head hash   {}", stats.head_hash);
        }
    }
    Ok(Finished::Done)
}

fn detect(args: &DetectArgs) -> Result<Finished, CommandError> {
    use dais::headless::detect;
    let options = detect::DetectOptions {
        train: args.train.clone(),
        score: args.score.clone(),
        params: dais::ml::ForestParams {
            trees: args.trees as usize,
            subsample: args.subsample as usize,
            contamination: args.contamination,
        },
        seed: args.seed,
        label_column: args.label_column.clone(),
    };
    let outcome = detect::detect(&options)?;
    let written = match &args.output {
        Some(path) => std::fs::File::create(path)
            .map(std::io::BufWriter::new)
            .and_then(|mut w| detect::write_scores(&outcome, &mut w).and_then(|()| w.flush()))
            .map_err(|source| CommandError::Write {
                path: path.clone(),
                source,
            }),
        None => match detect::write_scores(&outcome, &mut std::io::stdout().lock()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map_err(|source| CommandError::Write {
                path: PathBuf::from("standard output"),
                source,
            }),
        },
    };
    written?;
    let flagged = outcome.anomalies.iter().filter(|&&a| a).count();
    // The report goes to stderr when the scores go to stdout, so the CSV stays clean.
    let mut report = String::new();
    report += &format!(
        "scored {} rows on {} features ({}): {flagged} anomalies\n",
        outcome.scores.len(),
        outcome.features.len(),
        outcome.features.join(", ")
    );
    if let Some((auc, ap)) = outcome.quality {
        let show =
            |v: Option<f64>| v.map_or("n/a (one class only)".to_string(), |x| format!("{x:.4}"));
        report += &format!("ROC AUC {}\naverage precision {}\n", show(auc), show(ap));
    }
    if args.output.is_some() {
        print!("{report}");
    } else {
        eprint!("{report}");
    }
    Ok(Finished::Done)
}

fn replay(args: &ReplayArgs) -> Result<Finished, CommandError> {
    let source = dais::replay::ReplaySource::open(&args.path)?;
    old_schema_note(source.connection(), &args.path);
    if let Some(at) = args.at
        && (at == 0 || at > source.ticks())
    {
        return Err(CommandError::NoSuchTick {
            at,
            last: source.ticks(),
        });
    }
    if args.ops.metrics_addr.is_some() && !args.verify {
        return Err(CommandError::ReplayMetrics);
    }
    let filming = args.video.is_some();
    if !args.verify && window_wanted(args.no_render, args.view.screenshot.is_some() || filming)? {
        #[cfg(feature = "gui")]
        {
            // A screenshot defaults to the end of the recording; a window opens at the start.
            let default_tick = if args.view.screenshot.is_some() {
                source.ticks()
            } else {
                1
            };
            let tick = args.at.unwrap_or(default_tick).min(source.ticks());
            let mut extras = WindowExtras {
                size: args.size,
                ..WindowExtras::default()
            };
            if let Some(path) = &args.video {
                let last = source.ticks();
                let (from, to) = (args.from.unwrap_or(1), args.to.unwrap_or(last));
                if from < 1 || to > last || from > to {
                    return Err(CommandError::View(format!(
                        "--from {from} --to {to}: the recording holds ticks 1 to {last}"
                    )));
                }
                extras.video = Some(dais::gui::video::VideoPlan {
                    path: path.clone(),
                    from,
                    to,
                    fps: args.fps,
                });
            }
            let opening = dais::gui::Opening::Replay(Box::new(source));
            return open_window(opening, &args.view, tick, None, None, extras)
                .map(|()| Finished::Done);
        }
    }
    start_logs()?;
    if args.verify {
        // A re-simulation proves the recorded state hashes; the chain proves every other byte of the file (seed,
        // roles, metrics, frames), so both must hold.
        let report = dais::ledger::verify::verify(source.connection()).map_err(|problem| {
            CommandError::Verify {
                path: args.path.clone(),
                problem,
            }
        })?;
        dais::headless::init_threads(None);
        let telemetry = start_telemetry(&args.ops, source.config())?;
        if let Some(telemetry) = &telemetry {
            telemetry.health.set_ready();
        }
        let bar = dais::headless::run::progress_bar(source.ticks(), args.quiet);
        let mut last_tick = std::time::Instant::now();
        let verified = dais::replay::verify_by_resimulation(&source, |simulation| {
            bar.inc(1);
            if let (Some(telemetry), Some(metrics)) = (&telemetry, simulation.latest_metrics()) {
                telemetry.ticked(
                    metrics,
                    last_tick.elapsed().as_secs_f64(),
                    Default::default(),
                    false,
                );
            }
            last_tick = std::time::Instant::now();
        })?;
        bar.finish_and_clear();
        println!(
            "replay verified: {verified} ticks re-simulated with the recorded state hashes; ledger chain ok, head hash {}{}",
            report.head_hash,
            if report.schema >= 2 && !report.closed {
                " (incomplete: no closing row)"
            } else {
                ""
            }
        );
    } else {
        let config = source.config();
        println!(
            "recording {}: {} ticks of {} agents, seed {}",
            args.path.display(),
            source.ticks(),
            config.simulation.agents,
            config.simulation.seed
        );
        if let Some(tick) = args.at {
            println!("{}", describe_frame(&source, tick)?);
        }
    }
    Ok(Finished::Done)
}

/// One recorded tick in a line: how many agents are in each state and how many messages of each kind are on the
/// wire, and how long reading the frame took (the read a view's seek does).
fn describe_frame(source: &dais::replay::ReplaySource, tick: u32) -> Result<String, CommandError> {
    use dais::model::{AgentState, MessageKind};
    let started = std::time::Instant::now();
    let frame = source.frame(tick)?;
    let read = started.elapsed();
    let states: Vec<String> = AgentState::ALL
        .iter()
        .filter_map(|&state| {
            let n = frame.agents.iter().filter(|&&a| a == state).count();
            (n > 0).then(|| format!("{state:?} {n}"))
        })
        .collect();
    let kinds: Vec<String> = MessageKind::ALL
        .iter()
        .map(|&kind| {
            let n = frame.messages.iter().filter(|m| m.kind == kind).count();
            format!("{kind:?} {n}")
        })
        .collect();
    Ok(format!(
        "tick {tick}: agents {}; {} messages on the wire ({}); frame read in {:.1} ms",
        states.join(", "),
        frame.messages.len(),
        kinds.join(", "),
        read.as_secs_f64() * 1000.0
    ))
}

fn config_command(command: &ConfigCommand) -> Result<Finished, CommandError> {
    match command {
        ConfigCommand::Show(args) => {
            let config = effective_config(&args.config)?;
            if args.estimate {
                let planned = estimate(&config, Some(dais::ledger::sqlite::QUEUE_LIMIT_BYTES));
                print!("{}", planned.table());
                if let Some(available) = dais::headless::memory::available_bytes() {
                    println!("available now: {}", human_bytes(available));
                }
            } else {
                println!("{}", config.to_ron());
            }
        }
        ConfigCommand::Check { file } => {
            let config = load::read_config_file(file)?;
            config
                .validate()
                .map_err(|source| CommandError::InvalidFile {
                    file: file.clone(),
                    source,
                })?;
            println!(
                "{}: ok ({} agents, {} steps)",
                file.display(),
                config.simulation.agents,
                config.simulation.steps
            );
        }
    }
    Ok(Finished::Done)
}

/// `dais lesson [NAME]`: the list of shipped lessons, the lesson in the window, or (no display, or --no-render) a
/// play-through that prints each caption with its tick.
fn lesson(args: &crate::cli::LessonArgs) -> Result<Finished, CommandError> {
    use dais::lesson::Lesson;
    let Some(name) = &args.lesson else {
        for (name, _) in dais::lesson::BUILTIN {
            let title = Lesson::open(name).map(|l| l.title).unwrap_or_default();
            println!("{name:<26} {title}");
        }
        return Ok(Finished::Done);
    };
    let lesson = Lesson::open(name).map_err(|e| CommandError::Lesson(e.to_string()))?;
    let screenshot = args.view.screenshot.is_some();
    let config = lesson
        .config()
        .map_err(|(field, e)| CommandError::Lesson(format!("lesson {name}: {field}: {e}")))?;
    if let Some(tick) = args.at
        && tick > config.simulation.steps
    {
        return Err(CommandError::ScreenshotPastEnd {
            tick,
            last: config.simulation.steps,
        });
    }
    if window_wanted(args.no_render, screenshot)? {
        #[cfg(feature = "gui")]
        {
            // A lesson plays at once: its first step pauses the run where it has something to say.
            let view = crate::cli::ViewArgs {
                play: true,
                ..args.view.clone()
            };
            return open_window(
                dais::gui::Opening::Live(Box::new(config)),
                &view,
                args.at.unwrap_or(1),
                None,
                None,
                WindowExtras {
                    lesson: Some(lesson),
                    ..WindowExtras::default()
                },
            )
            .map(|()| Finished::Done);
        }
    }
    start_logs()?;
    println!("{}", lesson.title);
    let transcript = dais::lesson::play::play(
        &lesson,
        |question| question.answer,
        |tick, text| println!("tick {tick:>4}  {text}"),
    )
    .map_err(|e| CommandError::Lesson(format!("lesson {name}: {e}")))?;
    println!(
        "lesson complete: {} steps, {} questions",
        transcript.fired_at.len(),
        transcript.right_answers.1
    );
    Ok(Finished::Done)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = LOG_ARGS.set(cli.logs());
    // Commands that never open a window log through our subscriber from the start.
    let windowed = matches!(
        &cli.command,
        None | Some(Command::Run(_)) | Some(Command::Replay(_)) | Some(Command::Lesson(_))
    );
    if !windowed && let Err(message) = start_logs() {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    #[cfg(all(feature = "gui", unix))]
    dais::gui::prepare_environment();
    let result = match &cli.command {
        None => run(&cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Config(command)) => config_command(command),
        Some(Command::Ledger(command)) => ledger_command(command),
        Some(Command::Replay(args)) => replay(args),
        Some(Command::Lesson(args)) => lesson(args),
        Some(Command::Detect(args)) => detect(args),
        Some(Command::Sweep(command)) => sweep::sweep(command),
    };
    match result {
        Ok(finished) => finished.exit_code(),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
