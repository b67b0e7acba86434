//! Helpers shared by the integration tests.
#![allow(dead_code)]

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use dais::config::SimConfig;
use dais::ledger::memory::MemoryLedger;
use dais::sim::metrics::RunTotals;
use dais::sim::signature::SignatureRegistry;

/// A test app as the view will run it: MinimalPlugins, with time advancing exactly one fixed step per update, so
/// each `app.update()` runs exactly one tick of `FixedUpdate`.
pub fn app_with_ledger(config: SimConfig) -> (App, MemoryLedger) {
    let ledger = MemoryLedger::default();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    app.insert_resource(TimeUpdateStrategy::FixedTimesteps(1));
    app.add_plugins(dais::sim::SimPlugin::new(config, Box::new(ledger.clone())));
    (app, ledger)
}

/// Runs a config to its last step and returns the totals and the signature registry.
pub fn run_to_end(config: SimConfig) -> (RunTotals, SignatureRegistry, MemoryLedger) {
    let steps = config.simulation.steps;
    let (mut app, ledger) = app_with_ledger(config);
    // The first update only starts the clock (no time has passed yet); every later one runs exactly one tick.
    app.update();
    for _ in 0..steps {
        app.update();
    }
    let world = app.world();
    assert_eq!(
        world.resource::<dais::sim::clock::SimClock>().tick,
        steps,
        "every update should run one tick"
    );
    (
        world.resource::<RunTotals>().clone(),
        world.resource::<SignatureRegistry>().clone(),
        ledger,
    )
}

/// Forged signatures that ended accepted.
pub fn forged_accepted(registry: &SignatureRegistry) -> usize {
    registry
        .records
        .iter()
        .filter(|r| {
            r.forged
                && matches!(
                    r.outcome,
                    Some((dais::sim::consensus::Outcome::Accepted, _))
                )
        })
        .count()
}

/// Runs the `dais` binary with extra environment variables.
pub fn dais_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dais"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("dais starts")
}

/// Runs the `dais` binary as on a machine with no display (no X server to talk to).
pub fn dais_without_display(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dais"))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("dais starts")
}

/// Runs the `dais` binary.
pub fn dais(args: &[&str]) -> std::process::Output {
    dais_env(args, &[])
}

/// The run failed with exactly one `error: ` line that contains `needle`, and did not panic.
pub fn assert_one_line_error(output: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should fail: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "expected {needle:?} in {err}");
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A sweep's runs file (runs.csv, runs-shard-I.csv) without how its runs were run (wall time, its ratio, the thread
/// count), rows sorted: what must not depend on --jobs, shards or the machine. The state hashes are compared.
pub fn runs_without_timing(path: &std::path::Path) -> Vec<Vec<String>> {
    use dais::headless::sweep::table::{RunsTable, TIMING_COLUMNS};
    let table = RunsTable::read(path).unwrap();
    let timing: Vec<usize> = TIMING_COLUMNS
        .iter()
        .map(|c| table.column(c).unwrap())
        .collect();
    let mut rows: Vec<Vec<String>> = table
        .rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .enumerate()
                .filter(|(i, _)| !timing.contains(i))
                .map(|(_, c)| c)
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// A plain HTTP/1.0 GET on loopback, for the monitoring tests: the status code and the body.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The value of an unlabelled sample (`name value`) in a Prometheus text exposition.
pub fn sample(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name).then(|| value.trim().parse().ok()).flatten()
    })
}

/// Starts `dais ARGS --metrics-addr 127.0.0.1:0` and returns it with the address it announced on its first stderr
/// line (the rest of stderr is drained, so the child never blocks on a full pipe).
pub fn spawn_serving(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dais"))
        .args(args)
        .args(["--metrics-addr", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let line = lines.next().expect("an announcement").unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// Scrapes `addr` until `dais_ticks_total` is above zero (a minute at most) and returns it.
pub fn wait_for_ticks(addr: &str) -> f64 {
    let started = std::time::Instant::now();
    loop {
        if let Ok((200, text)) = http_get(addr, "/metrics")
            && let Some(ticks) = sample(&text, "dais_ticks_total").filter(|&t| t > 0.0)
        {
            return ticks;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{addr} served no ticks in a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The window tests open real windows: they need the X display scripts/test starts.
pub fn require_display() {
    assert!(
        std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()),
        "the window needs an X display: run scripts/test, which starts the tests under xvfb-run"
    );
}
