//! Command-line flags. Parsing only: `main.rs` turns these into a mode.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use dais::config::load::{ConfigSource, FlagOverrides};

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

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a simulation (the default command).
    Run(RunArgs),
    /// Show or check configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective config (defaults <- file or scenario <- DAIS_* env <- flags) as RON.
    Show(ConfigArgs),
    /// Validate a config file; prints the first problem and exits non-zero if there is one.
    Check {
        /// The RON file to check.
        file: PathBuf,
    },
}

/// Where the config comes from, and the flag layer on top.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Config file (RON). Layered over the built-in defaults.
    #[arg(long, value_name = "FILE", conflicts_with = "scenario")]
    pub config: Option<PathBuf>,
    /// A shipped preset: default, classroom, research or stress.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Number of agents (overrides simulation.agents).
    #[arg(long)]
    pub agents: Option<usize>,
    /// Ticks to run (overrides simulation.steps).
    #[arg(long)]
    pub steps: Option<u32>,
    /// Run seed (overrides simulation.seed).
    #[arg(long)]
    pub seed: Option<u64>,
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
            agents: self.agents,
            steps: self.steps,
            seed: self.seed,
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Run without a window, as fast as possible.
    #[arg(long)]
    pub no_render: bool,
    /// Worker threads for the simulation (default: all cores). Results are identical for any value.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Write metrics.csv, summary.json and config.ron into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress bar and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
}
