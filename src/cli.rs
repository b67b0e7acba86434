//! Command-line flags. Parsing only: `main.rs` turns these into a mode.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use dais::config::load::{ConfigSource, FlagOverrides};
use dais::config::set::Setting;
use dais::experiment::shard::ShardFlag;

#[derive(Parser, Debug)]
#[command(
    name = "dais",
    version,
    about = "DAIS - Decentralized AI Simulation: security agents that detect threats and agree on signatures without a central authority",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand, `dais` runs a simulation (as `dais run`).
    #[command(flatten)]
    pub run: RunArgs,
}

impl Cli {
    /// The log flags of the command given (the commands that take none log at the defaults).
    pub fn logs(&self) -> LogArgs {
        match &self.command {
            None => self.run.logs.clone(),
            Some(Command::Run(args)) => args.logs.clone(),
            Some(Command::Replay(args)) => args.logs.clone(),
            Some(Command::Sweep(command)) => command.run.logs.clone(),
            Some(_) => LogArgs::default(),
        }
    }
}

/// Logging: on `run`, `replay` and `sweep` (after the command's name, as every flag is).
#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// How log lines look: text, or one JSON object per line (timestamp, level, target, message, fields).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: dais::ops::logs::LogFormat,
    /// How much DAIS logs: error, warn, info, debug or trace (default: warn; in a window: info, with the
    /// renderer's chatter filtered, and errors only for a screenshot). RUST_LOG, when set, replaces the filter.
    #[arg(long, value_name = "LEVEL", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: Option<String>,
    /// Write the log here instead of stderr, rotating by size (FILE.1 is the newest rotated file).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Rotate --log-file after it passes this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..))]
    pub log_max_bytes: u64,
    /// Rotated files of --log-file to keep.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub log_keep: u64,
}

impl Default for LogArgs {
    fn default() -> Self {
        LogArgs {
            log_format: dais::ops::logs::LogFormat::Text,
            log_level: None,
            log_file: None,
            log_max_bytes: 10 * 1024 * 1024,
            log_keep: 5,
        }
    }
}

impl LogArgs {
    pub fn options(&self) -> dais::ops::logs::LogOptions {
        dais::ops::logs::LogOptions {
            format: self.log_format,
            level: self.log_level.clone().unwrap_or_else(|| "warn".into()),
            file: self.log_file.clone(),
            max_bytes: self.log_max_bytes,
            keep: self.log_keep as usize,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a simulation (the default command).
    Run(RunArgs),
    /// Show or check configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check, inspect, export or back up a recorded ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Open a recording; with --verify, re-simulate it and compare every tick.
    Replay(ReplayArgs),
    /// Teach a guided lesson: a shipped one (worm, single-point-of-failure, liars) or a lesson file, in the window.
    /// With no display it plays through headless, answering every question right, and prints the captions.
    Lesson(LessonArgs),
    /// Fit an Isolation Forest on a CSV and score another: writes score,is_anomaly per row.
    Detect(DetectArgs),
    /// Run every run of a sweep file (parameters x seeds) into DIR/runs.csv, --jobs at a time; or report on,
    /// merge, or write a Slurm job for one. Rerun the same command to resume.
    Sweep(SweepCommand),
}

/// `dais sweep FILE --out DIR`, or one of its actions.
#[derive(Args, Debug, Clone)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Exit status of a sweep: 0 if every run succeeded, 100 + the number of failed runs (at most 125), \
                  130 after Ctrl-C."
)]
pub struct SweepCommand {
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    #[command(flatten)]
    pub run: SweepArgs,
}

#[derive(Subcommand, Debug, Clone)]
pub enum SweepAction {
    /// Aggregate runs.csv over seeds (n, mean, sd, 95% CI, median, min, max) into report.csv and a table, compare
    /// the levels of each factor (Mann-Whitney U with Holm correction, Welch's t, Cliff's delta) into compare.csv,
    /// and plot each metric as SVG and PNG into DIR/plots/.
    Report(ReportArgs),
    /// Join the shards' runs-shard-I.csv into runs.csv, in expansion order. Refuses if a run has no row, unless
    /// --partial.
    Merge {
        /// The sweep's --out folder.
        dir: PathBuf,
        /// Merge what is there even if some runs have no row.
        #[arg(long)]
        partial: bool,
    },
    /// Write DIR/sweep.sbatch: a Slurm job array over the shards, then a merge-and-report job that runs after it
    /// (afterok). With --submit, submit both with sbatch and print their job ids.
    Slurm(SlurmArgs),
}

#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// The sweep file (RON); see config/sweeps/ for commented examples.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// Set a config key for every run, after the file's own `set` list (KEY=VALUE as on `run`). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<Setting>,
    /// Where runs.csv, manifest.json and each run's kept files go.
    #[arg(long, value_name = "DIR", required = true)]
    pub out: Option<PathBuf>,
    /// Simulations at once (default: the number of cores). Results are identical for any value.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Worker threads shared by the simulations' parallel stages (default: one with --jobs above 1, where each
    /// simulation runs on its own thread, or where every run has fewer than 50 agents; else all cores). Results are
    /// identical for any value.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Do only runs I, I+N, I+2N, ... (I from 0) into runs-shard-I.csv; `auto` takes I and N from a Slurm job
    /// array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with
    /// --shard-count). Join the shards with `dais sweep merge DIR`.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<ShardFlag>,
    /// When every run is done, also write the report (as `dais sweep report DIR` does with its defaults).
    #[arg(long, conflicts_with = "shard")]
    pub report: bool,
    /// The number of shards, for --shard auto in a Kubernetes Indexed Job (its `completions`).
    #[arg(long, value_name = "N", requires = "shard", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub shard_count: Option<u32>,
    /// No progress bar and no closing line.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub ops: OpsArgs,
    #[command(flatten)]
    pub logs: LogArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The sweep's --out folder (with manifest.json and runs.csv).
    pub dir: PathBuf,
    /// Group by these keys (default: every varied key). The first is the x axis of the plots, the second draws one
    /// line (or bar) per level. Repeatable.
    #[arg(long = "by", value_name = "KEY")]
    pub by: Vec<String>,
    /// Report these runs.csv columns (default: the headline figures). Repeatable.
    #[arg(long = "metric", value_name = "NAME")]
    pub metrics: Vec<String>,
    /// Write report.csv and compare.csv but no plots.
    #[arg(long)]
    pub no_plots: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SlurmArgs {
    /// The sweep file (RON).
    pub file: PathBuf,
    /// The sweep's folder, on storage every node shares.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Set a config key for every run, as on `dais sweep`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<Setting>,
    /// Array tasks (shards). Default: one per 10 runs, at most 100.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub shards: Option<u32>,
    /// The partition (sbatch --partition); default: the cluster's.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// Time limit of each array task (sbatch --time), e.g. 01:00:00.
    #[arg(long, value_name = "T", default_value = "01:00:00")]
    pub time: String,
    /// CPUs per array task; each task runs that many simulations at once.
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub cpus_per_task: u32,
    /// At most this many array tasks at once (the array's %K).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_parallel: Option<u32>,
    /// Submit with sbatch and print the job ids (otherwise only write the script).
    #[arg(long)]
    pub submit: bool,
}

#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// Training data: a CSV with a header; its numeric columns are the features.
    #[arg(long, value_name = "TRAIN.csv")]
    pub train: PathBuf,
    /// Data to score: a CSV with the same feature columns.
    #[arg(long, value_name = "DATA.csv")]
    pub score: PathBuf,
    /// Number of trees.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub trees: u32,
    /// Rows sampled per tree (psi); capped at the training rows.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    pub subsample: u32,
    /// "auto" (score > 0.5 is anomalous) or the expected anomalous fraction in (0, 0.5].
    #[arg(long, default_value = "auto", value_parser = dais::headless::detect::contamination_from_flag)]
    pub contamination: dais::ml::Contamination,
    /// Seed of the fit.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A 0/1 column of DATA.csv to evaluate against (prints ROC AUC and average precision); never a feature.
    #[arg(long, value_name = "NAME")]
    pub label_column: Option<String>,
    /// Write the scores here instead of standard output.
    #[arg(long, value_name = "OUT.csv")]
    pub output: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Check the hash chain over every row, the append-only triggers, and that every count follows from the rows;
    /// prints the head hash. Exit status: 0 ok, 1 broken or unreadable, 3 incomplete (no closing row: the run was
    /// stopped, or the file cut).
    Verify {
        /// The ledger file.
        path: PathBuf,
        /// Also require this head hash (from the run's summary.json), so a copy proves it is that run.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
    /// Write one table as CSV or JSON.
    Export {
        /// The ledger file.
        path: PathBuf,
        /// run, agents, signatures, ballots, decisions, outcomes, ticks, frames or closing.
        #[arg(long)]
        table: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: dais::ledger::inspect::ExportFormat,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Make a consistent copy with SQLite's online backup, even while a run is writing.
    Backup {
        /// The ledger file.
        path: PathBuf,
        /// Where the copy goes (must not exist).
        dest: PathBuf,
    },
    /// Row counts, ticks, file size and head hash.
    Stats {
        /// The ledger file.
        path: PathBuf,
    },
}

/// A build without the `gui` feature has no window: its `--help` leaves out the flags that only steer one (they are
/// still accepted, and `--screenshot` says in one line that it needs a window).
const NO_VIEW: bool = cfg!(not(feature = "gui"));

/// How the window behaves (ignored with --no-render).
#[derive(Args, Debug, Clone, Default)]
pub struct ViewArgs {
    /// Save a PNG of the whole window (panels included) and exit: `run` takes it after --steps ticks (which then
    /// sets the picture's tick, not the run's length), `replay` at --at.
    #[arg(long, hide = NO_VIEW, value_name = "FILE.png", value_parser = screenshot_from_flag)]
    pub screenshot: Option<PathBuf>,
    /// Start playing at once instead of paused.
    #[arg(long, hide = NO_VIEW)]
    pub play: bool,
    /// Playback speed in ticks per second (0.5 to 240).
    #[arg(long, hide = NO_VIEW, value_name = "TICKS_PER_S", value_parser = speed_from_flag)]
    pub speed: Option<f32>,
    /// Close the window after this many seconds and print the mean frame time (for benchmarks and kiosks).
    #[arg(long, hide = NO_VIEW, value_name = "SECONDS", value_parser = seconds_from_flag)]
    pub quit_after: Option<f32>,
    /// Start with the panels' text half as large again (the "A+" toggle), for the back of the room.
    #[arg(long, hide = NO_VIEW)]
    pub large_text: bool,
    /// Start with the high-contrast palette (the "HC" toggle): colour-blind-safe colours on black.
    #[arg(long, hide = NO_VIEW)]
    pub high_contrast: bool,
}

/// `path` when its folder exists (a file about to be written there); otherwise the one line that says so.
fn in_existing_folder(text: &str, path: PathBuf) -> Result<PathBuf, String> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !folder.is_dir() {
        return Err(format!(
            "{text:?}: the folder {} does not exist",
            folder.display()
        ));
    }
    Ok(path)
}

/// A screenshot path is checked before any window opens: only PNG is written, and into a folder that exists.
fn screenshot_from_flag(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    let is_png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        return Err(format!(
            "{text:?}: screenshots are saved as PNG only; name the file FILE.png"
        ));
    }
    in_existing_folder(text, path)
}

/// A film's path is checked before any window opens: GIF or MP4, into a folder that exists, and MP4 only where
/// ffmpeg runs.
fn video_from_flag(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("gif") => {}
        #[cfg(feature = "gui")]
        Some("mp4") if !dais::gui::video::ffmpeg_available() => {
            return Err(format!(
                "{text:?}: MP4 is written by ffmpeg, which is not on PATH; install it (apt install ffmpeg) or name the file .gif"
            ));
        }
        Some("mp4") => {}
        _ => return Err(format!("{text:?}: a film is a .gif or an .mp4")),
    }
    in_existing_folder(text, path)
}

fn fps_from_flag(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(f) if (0.5..=60.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "{text:?}: frames per second must be between 0.5 and 60"
        )),
    }
}

/// `WIDTHxHEIGHT`, big enough for the panels and a scene.
fn size_from_flag(text: &str) -> Result<(u32, u32), String> {
    let parsed = text
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if (800..=3840).contains(&w) && (500..=2160).contains(&h) => Ok((w, h)),
        Some(_) => Err(format!(
            "{text:?}: the window must be 800x500 to 3840x2160 (the panels need room beside the scene)"
        )),
        None => Err(format!(
            "{text:?}: give the size as WIDTHxHEIGHT, e.g. 1280x720"
        )),
    }
}

fn speed_from_flag(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if (0.5..=240.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a speed from 0.5 to 240 ticks per second"
        )),
    }
}

fn seconds_from_flag(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

#[derive(Args, Debug, Clone)]
pub struct LessonArgs {
    /// A shipped lesson's name, or a lesson file (RON, as in assets/lessons/). Without it, list the shipped ones.
    pub lesson: Option<String>,
    /// Play it through without a window and print the captions and answers.
    #[arg(long)]
    pub no_render: bool,
    /// With --screenshot: the tick to photograph (default: the first).
    #[arg(long, value_name = "TICK")]
    pub at: Option<u32>,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// The recording (a ledger written by `dais run --ledger` or `--out`).
    pub path: PathBuf,
    /// Without a window: describe the recording.
    #[arg(long)]
    pub no_render: bool,
    /// Open at this tick (default: the first; with --screenshot, the last).
    #[arg(long, value_name = "TICK")]
    pub at: Option<u32>,
    #[command(flatten)]
    pub view: ViewArgs,
    /// Film the replay into a GIF (written in Rust) or an MP4 (through ffmpeg, which must be on PATH), then exit.
    #[arg(long, value_name = "OUT.gif|OUT.mp4", value_parser = video_from_flag, conflicts_with_all = ["verify", "no_render"])]
    pub video: Option<PathBuf>,
    /// With --video: the first tick filmed (default: the first).
    #[arg(long, value_name = "TICK", requires = "video")]
    pub from: Option<u32>,
    /// With --video: the last tick filmed (default: the last).
    #[arg(long, value_name = "TICK", requires = "video")]
    pub to: Option<u32>,
    /// With --video: frames (ticks) per second of the film.
    #[arg(long, value_name = "F", default_value_t = 8.0, value_parser = fps_from_flag, requires = "video")]
    pub fps: f32,
    /// The window's size, WIDTHxHEIGHT pixels (default 1280x800): the size of the film's frames.
    #[arg(long, value_name = "WxH", value_parser = size_from_flag)]
    pub size: Option<(u32, u32)>,
    /// Re-simulate from the recorded config and seed and compare every tick's state hash.
    #[arg(long)]
    pub verify: bool,
    /// With --verify: serve the re-simulation's metrics and health, as `run --metrics-addr` does.
    #[command(flatten)]
    pub ops: OpsArgs,
    #[command(flatten)]
    pub logs: LogArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective config (defaults <- file or scenario <- DAIS_* env <- --set <- flags) as RON.
    Show(ShowArgs),
    /// Validate a config file; prints the first problem and exits non-zero if there is one.
    Check {
        /// The RON file to check.
        file: PathBuf,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct ShowArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the run's planned peak memory, part by part, instead of the config (as for a run recorded with --out).
    #[arg(long)]
    pub estimate: bool,
}

/// Where the config comes from, and the flag layer on top.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Config file (RON). Layered over the built-in defaults.
    #[arg(long, value_name = "FILE", conflicts_with = "scenario")]
    pub config: Option<PathBuf>,
    /// A shipped preset: default, classroom, research, stress, scale; a fault: partition, churn, hub-attack,
    /// uneven-links; a campaign that fights back: drift, low-and-slow, evasion; or an adversary: betrayal, on-off,
    /// sybil, selective-forwarding, whitewashing, poisoning.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Set any config key: its dotted path and a RON value, e.g. consensus.rule=bft or
    /// traffic.campaigns[0].intensity=0.6. Repeatable; a later one wins; --agents, --steps and --seed win over it.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<Setting>,
    /// Number of agents (overrides simulation.agents).
    #[arg(long)]
    pub agents: Option<usize>,
    /// Ticks to run (overrides simulation.steps).
    #[arg(long)]
    pub steps: Option<u32>,
    /// Run seed (overrides simulation.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Refuse a DAIS_* environment variable that names no config key, instead of warning about it.
    #[arg(long)]
    pub strict_env: bool,
}

impl ConfigArgs {
    pub fn source(&self) -> ConfigSource {
        match (&self.config, &self.scenario) {
            (Some(file), _) => ConfigSource::File(file.clone()),
            (None, Some(name)) => ConfigSource::Scenario(name.clone()),
            (None, None) => ConfigSource::Defaults,
        }
    }
    pub fn flags(&self) -> FlagOverrides {
        FlagOverrides {
            settings: self.set.clone(),
            agents: self.agents,
            steps: self.steps,
            seed: self.seed,
        }
    }
}

/// Monitoring: a Prometheus endpoint with health checks.
#[derive(Args, Debug, Clone, Default)]
pub struct OpsArgs {
    /// Serve Prometheus metrics on http://HOST:PORT/metrics, with /healthz and /readyz (off by default; keep it on
    /// loopback, e.g. 127.0.0.1:9184, unless a firewall guards the port).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<dais::ops::server::MetricsAddr>,
    /// /healthz answers 503 when no tick has completed for this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = stall_from_flag)]
    pub stall_after: f64,
}

fn stall_from_flag(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Run without a window, as fast as possible (the default where no display is available).
    #[arg(long)]
    pub no_render: bool,
    #[command(flatten)]
    pub view: ViewArgs,
    /// Worker threads for the simulation (default: all cores, or one below 50 agents, where threads cost more than
    /// they save). Results are identical for any value.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Write metrics.csv, summary.json, config.ron and ledger.db into this directory (in a window: ledger.db). A
    /// directory holding an earlier run is refused unless --force.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace an earlier run's files in --out DIR, and run even where the memory estimate exceeds the memory
    /// available.
    #[arg(long)]
    pub force: bool,
    /// Record the run to this SQLite ledger (must not exist yet).
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    /// No progress bar and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub ops: OpsArgs,
    #[command(flatten)]
    pub logs: LogArgs,
}
