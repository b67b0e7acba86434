//! The `dais` binary: parse flags, pick a mode, report errors as one line with a non-zero exit code.

mod cli;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

use cli::{Cli, Command, ConfigArgs, ConfigCommand, RunArgs};
use dais::config::{SimConfig, load};

fn env_vars() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("DAIS_"))
        .collect()
}

fn effective_config(args: &ConfigArgs) -> Result<SimConfig, String> {
    load::load_config(&args.source(), &env_vars(), &args.flags()).map_err(|e| e.to_string())
}

/// Ctrl-C asks the run to stop after the current tick and write what it has; a second Ctrl-C exits at once.
fn install_interrupt_handler() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\ndais: interrupted; finishing the current tick and writing results (Ctrl-C again to abort)"
        );
    });
    stop
}

fn run(args: &RunArgs) -> Result<(), String> {
    let mut config = effective_config(&args.config)?;
    if let Some(dir) = &args.out {
        config.output.dir = Some(dir.display().to_string());
    }
    if !args.no_render {
        eprintln!(
            "dais: this build has no desktop view yet; running headless (pass --no-render to silence this note)"
        );
    }
    let threads = dais::headless::init_threads(args.threads.map(usize::from));
    let options = dais::headless::RunOptions {
        out: config.output.dir.as_ref().map(Into::into),
        quiet: args.quiet,
    };
    let stop = install_interrupt_handler();
    let outcome = dais::headless::run(config, Box::new(dais::ledger::DiscardSink), &options, stop)
        .map_err(|e| e.to_string())?;
    if !args.quiet {
        println!("DAIS run summary ({threads} threads)");
        print!("{}", outcome.summary.table());
        if let Some(dir) = &options.out {
            println!("  wrote {}/metrics.csv and summary.json", dir.display());
        }
    }
    Ok(())
}

fn config_command(command: &ConfigCommand) -> Result<(), String> {
    match command {
        ConfigCommand::Show(args) => {
            println!("{}", effective_config(args)?.to_ron());
        }
        ConfigCommand::Check { file } => {
            let config = load::read_config_file(file).map_err(|e| e.to_string())?;
            config
                .validate()
                .map_err(|e| format!("{}: {e}", file.display()))?;
            println!(
                "{}: ok ({} agents, {} steps)",
                file.display(),
                config.simulation.agents,
                config.simulation.steps
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        None => run(&cli.run),
        Some(Command::Run(args)) => run(args),
        Some(Command::Config(command)) => config_command(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
