//! `dais sweep`: run a sweep (all of it, or one shard), merge shards, report, or write and submit Slurm jobs.

use dais::headless::sweep::merge::merge;
use dais::headless::sweep::report::{ReportOptions, print, report};
use dais::headless::sweep::slurm::{SlurmOptions, submit, write_scripts};
use dais::headless::sweep::{SweepOptions, run_sweep};

use super::install_interrupt_handler;
use crate::cli::{ReportArgs, SlurmArgs, SweepAction, SweepArgs, SweepCommand};
use crate::error::CommandError;
use crate::exit::Finished;

pub fn sweep(command: &SweepCommand) -> Result<Finished, CommandError> {
    match &command.action {
        None => run(&command.run),
        Some(SweepAction::Report(args)) => report_command(args),
        Some(SweepAction::Merge { dir, partial }) => {
            let outcome = merge(dir, *partial)?;
            println!(
                "merged {} shards into {}: {} of {} runs ({} failed, {} missing)",
                outcome.shards,
                dir.join("runs.csv").display(),
                outcome.merged,
                outcome.total,
                outcome.failed,
                outcome.missing
            );
            Ok(Finished::Done)
        }
        Some(SweepAction::Slurm(args)) => slurm(args),
    }
}

fn run(args: &SweepArgs) -> Result<Finished, CommandError> {
    let (Some(file), Some(out)) = (&args.file, &args.out) else {
        unreachable!("clap requires FILE and --out without an action")
    };
    let shard = args
        .shard
        .map(|flag| {
            flag.resolve(args.shard_count.map(|n| n as usize), |name| {
                std::env::var(name).ok()
            })
        })
        .transpose()?;
    let jobs = args
        .jobs
        .map_or_else(bevy::tasks::available_parallelism, usize::from);
    let telemetry = match &args.ops.metrics_addr {
        Some(addr) => Some(std::sync::Arc::new(dais::ops::SweepTelemetry::start(
            addr,
            std::time::Duration::from_secs_f64(args.ops.stall_after),
        )?)),
        None => None,
    };
    if let Some(telemetry) = &telemetry {
        super::announce(telemetry.local_addr());
    }
    let stop = install_interrupt_handler("finishing the runs in progress and keeping their rows");
    let options = SweepOptions {
        out: out.clone(),
        jobs,
        threads: args.threads.map(usize::from),
        quiet: args.quiet,
        settings: args.set.clone(),
        shard,
        telemetry,
    };
    let outcome = run_sweep(file, &options, stop)?;
    if args.report && !outcome.interrupted {
        let options = ReportOptions {
            plots: true,
            ..Default::default()
        };
        print(&report(out, &options)?);
    }
    Ok(if outcome.interrupted {
        Finished::Interrupted
    } else if outcome.failed > 0 {
        Finished::RunsFailed(outcome.failed)
    } else {
        Finished::Done
    })
}

fn report_command(args: &ReportArgs) -> Result<Finished, CommandError> {
    let options = ReportOptions {
        by: args.by.clone(),
        metrics: args.metrics.clone(),
        plots: !args.no_plots,
    };
    print(&report(&args.dir, &options)?);
    Ok(Finished::Done)
}

fn slurm(args: &SlurmArgs) -> Result<Finished, CommandError> {
    let binary = std::env::current_exe().map_err(|source| CommandError::CurrentExe { source })?;
    let options = SlurmOptions {
        out: args.out.clone(),
        settings: args.set.clone(),
        shards: args.shards.map(|n| n as usize),
        partition: args.partition.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task,
        max_parallel: args.max_parallel,
        binary,
    };
    let plan = write_scripts(&args.file, &options)?;
    println!(
        "wrote {} ({} runs in {} array tasks), {} and {}",
        plan.array_script.display(),
        plan.runs,
        plan.shards,
        plan.report_script.display(),
        plan.submit_script.display()
    );
    if args.submit {
        let jobs = submit(&plan)?;
        println!(
            "submitted array job {} and report job {} (after it); watch with: squeue",
            jobs.array_job, jobs.report_job
        );
        // The ids alone on the last line, for scripts: `ids=$(dais sweep slurm ... --submit | tail -1)`.
        println!("{} {}", jobs.array_job, jobs.report_job);
    } else {
        println!("submit with: {}", plan.submit_script.display());
    }
    Ok(Finished::Done)
}
