//! The memory estimate (`dais config show --estimate`, and the refusal before a run) against the peak memory the
//! run really reaches: the default scenario at three sizes within 30%, and the stress scenario, whose burst of
//! signatures dominates and varies from seed to seed by a third, within 50%.

use std::process::Command;

use dais::config::SimConfig;
use dais::config::load::{ConfigSource, FlagOverrides, load_config};
use dais::config::set::Setting;
use dais::sim::estimate::estimate;

/// `scenario` at `agents` for `steps` (just past the burst of signatures), with `settings`: the config the
/// estimate reads, and the command line that runs it.
fn scenario_at(
    scenario: &str,
    agents: usize,
    steps: u32,
    settings: &[String],
) -> (SimConfig, Vec<String>) {
    let flags = FlagOverrides {
        settings: settings
            .iter()
            .map(|s| s.parse::<Setting>().expect("a setting"))
            .collect(),
        agents: Some(agents),
        steps: Some(steps),
        seed: None,
    };
    let config = load_config(&ConfigSource::Scenario(scenario.into()), &[], &flags)
        .expect("the scenario loads");
    let mut args: Vec<String> = [
        "run",
        "--no-render",
        "--quiet",
        "--scenario",
        scenario,
        "--agents",
        &agents.to_string(),
        "--steps",
        &steps.to_string(),
    ]
    .map(String::from)
    .to_vec();
    for setting in settings {
        args.extend(["--set".to_string(), setting.clone()]);
    }
    (config, args)
}

/// Runs `args`, and gives the estimate over the measured peak.
fn planned_over_peak(config: &SimConfig, args: &[String], last_peak: &mut u64) -> f64 {
    let planned = estimate(config, None).total();
    let status = Command::new(env!("CARGO_BIN_EXE_dais"))
        .args(args)
        .status()
        .expect("dais runs");
    assert!(status.success(), "{args:?} failed");
    let peak = children_peak_rss();
    assert!(
        peak > *last_peak,
        "{args:?} peaked no higher than a smaller run"
    );
    *last_peak = peak;
    let ratio = planned as f64 / peak as f64;
    eprintln!("{args:?}: planned {planned} bytes, peak {peak} bytes, ratio {ratio:.2}");
    ratio
}

/// The largest peak resident memory of any child this process has waited for, in bytes.
fn children_peak_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given and reads nothing else.
    let status = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(status, 0, "getrusage failed");
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    usage.ru_maxrss as u64 * 1024 // kilobytes on Linux
}

#[test]
fn the_estimate_is_within_30_percent_of_the_measured_peak_at_three_sizes() {
    let mut last_peak = 0;
    // Ascending, so that the largest child so far is the one just run.
    for agents in [2_000, 5_000, 10_000] {
        let (config, args) = scenario_at("default", agents, 90, &[]);
        let ratio = planned_over_peak(&config, &args, &mut last_peak);
        assert!(
            (0.7..=1.3).contains(&ratio),
            "{agents} agents of the default scenario: planned/peak {ratio:.2}"
        );
    }
    // Bigger than any run above, so its peak is the largest.
    let agents = 8_000;
    let origins = format!(
        "traffic.campaigns[0].origins=[0,{},{},{}]",
        agents / 4,
        agents / 2,
        3 * agents / 4
    );
    let (config, args) = scenario_at("stress", agents, 75, &[origins]);
    let ratio = planned_over_peak(&config, &args, &mut last_peak);
    assert!(
        (0.5..=1.5).contains(&ratio),
        "{agents} agents of the stress scenario: planned/peak {ratio:.2}"
    );
}
