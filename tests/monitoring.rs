//! `--metrics-addr`: the Prometheus endpoint of a run and a sweep, `/healthz` and `/readyz`, and bad flags.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{http_get, sample};
use dais::config::SimConfig;
use dais::ledger::{LedgerError, LedgerSink, RunInfo, TickRecord};

#[test]
fn a_runs_counters_rise_between_two_scrapes_and_it_is_healthy() {
    let (mut child, addr) = common::spawn_serving(&[
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "40",
        "--steps",
        "100000",
    ]);
    let started = Instant::now();
    let scrape = || http_get(&addr, "/metrics").unwrap();
    let (code, first) = scrape();
    assert_eq!(code, 200);
    let first_ticks = sample(&first, "dais_ticks_total").unwrap();
    let mut second = first.clone();
    while sample(&second, "dais_ticks_total").unwrap() <= first_ticks {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ticks never rose"
        );
        std::thread::sleep(Duration::from_millis(50));
        second = scrape().1;
    }
    for name in [
        "dais_samples_total{outcome=\"tn\"}",
        "dais_messages_total{kind=\"announce\"}",
        "dais_ballots_total",
    ] {
        let (a, b) = (
            sample(&first, name).unwrap(),
            sample(&second, name).unwrap(),
        );
        assert!(b >= a, "{name}: {a} then {b}");
    }
    assert!(second.contains("dais_run_info{seed=\""), "{second}");
    assert!(second.contains("dais_immune_fraction{campaign=\"port_scan\"}"));
    assert!(sample(&second, "dais_process_resident_memory_bytes").unwrap() > 1e6);
    assert!(
        second.contains("# TYPE dais_ticks_total counter"),
        "the classic text format"
    );

    let (code, health) = http_get(&addr, "/healthz").unwrap();
    assert_eq!(code, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["ledger"], "ok");
    assert!(health["tick"].as_u64().unwrap() > 0);
    assert!(health["seconds_since_last_tick"].as_f64().unwrap() < 10.0);
    assert_eq!(http_get(&addr, "/readyz").unwrap().0, 200);
    assert_eq!(http_get(&addr, "/nothing").unwrap().0, 404);
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn a_sweep_reports_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = common::write_file(
        dir.path(),
        "sweep.ron",
        r#"(
            base: Scenario("default"),
            set: [("simulation.agents", "20"), ("simulation.steps", "50")],
            vary: [(key: "consensus.rule", values: List(["majority", "bft"]))],
            seeds: Count(50),
        )"#,
    );
    let out = dir.path().join("out");
    let sweep = [
        "sweep",
        &file,
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "1",
        "--quiet",
    ];
    let (mut child, addr) = common::spawn_serving(&sweep);
    let started = Instant::now();
    let done = |text: &str| sample(text, "dais_sweep_runs_total{outcome=\"done\"}").unwrap_or(0.0);
    let (_, first) = http_get(&addr, "/metrics").unwrap();
    let mut later = first.clone();
    while done(&later) <= done(&first) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no run finished: {later}"
        );
        std::thread::sleep(Duration::from_millis(50));
        later = http_get(&addr, "/metrics").unwrap().1;
    }
    assert_eq!(sample(&later, "dais_sweep_runs_planned"), Some(100.0));
    assert!(
        later.contains("dais_sweep_current_run_ticks{job=\"0\"}"),
        "{later}"
    );
    assert_eq!(http_get(&addr, "/healthz").unwrap().0, 200);
    child.kill().unwrap();
    let _ = child.wait();

    // Resumed, the runs already in runs.csv count as skipped from the first scrape.
    // Whole lines only: a row cut by the kill is redone, not skipped.
    let rows = std::fs::read_to_string(out.join("runs.csv"))
        .unwrap()
        .matches('\n')
        .count()
        - 1;
    assert!(rows >= 1);
    let (mut child, addr) = common::spawn_serving(&sweep);
    // The endpoint is up before the sweep file is read: wait for the plan.
    let mut resumed = String::new();
    while sample(&resumed, "dais_sweep_runs_planned").unwrap_or(0.0) == 0.0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no plan: {resumed}"
        );
        std::thread::sleep(Duration::from_millis(20));
        resumed = http_get(&addr, "/metrics").unwrap().1;
    }
    assert_eq!(
        sample(&resumed, "dais_sweep_runs_total{outcome=\"skipped\"}"),
        Some(rows as f64),
        "{resumed}"
    );
    assert_eq!(sample(&resumed, "dais_sweep_runs_planned"), Some(100.0));
    child.kill().unwrap();
    let _ = child.wait();
}

/// A ledger that fails at its third tick, as a full disk would.
struct FailingLedger {
    ticks: u32,
}

impl LedgerSink for FailingLedger {
    fn begin(&mut self, _: &RunInfo) -> Result<(), LedgerError> {
        Ok(())
    }
    fn append(&mut self, _: TickRecord) -> Result<(), LedgerError> {
        self.ticks += 1;
        if self.ticks >= 3 {
            return Err(LedgerError::Write {
                path: "full-disk.db".into(),
                message: "database or disk is full".into(),
            });
        }
        Ok(())
    }
}

#[test]
fn health_turns_503_when_the_ledger_fails() {
    let mut config = SimConfig::default();
    config.simulation.agents = 20;
    config.simulation.steps = 60;
    let addr: dais::ops::server::MetricsAddr = "127.0.0.1:0".parse().unwrap();
    let telemetry =
        Arc::new(dais::ops::RunTelemetry::start(&addr, &config, Duration::from_secs(60)).unwrap());
    let addr = telemetry.local_addr().to_string();
    let options = dais::headless::RunOptions {
        quiet: true,
        telemetry: Some(telemetry.clone()),
        ..Default::default()
    };
    let result = dais::headless::run(
        config,
        Box::new(FailingLedger { ticks: 0 }),
        &options,
        Default::default(),
    );
    assert!(result.is_err(), "the run stops on a ledger failure");
    let (code, body) = http_get(&addr, "/healthz").unwrap();
    assert_eq!(code, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["ledger"], "failing");
    assert_eq!(health["status"], "ledger failing");
    let (_, metrics) = http_get(&addr, "/metrics").unwrap();
    assert_eq!(
        sample(&metrics, "dais_ledger_write_failures_total"),
        Some(1.0)
    );
}

#[test]
fn bad_metrics_addresses_get_one_line_before_any_run() {
    let unparsable = common::dais(&["run", "--no-render", "--metrics-addr", "nowhere"]);
    assert_eq!(unparsable.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unparsable.stderr);
    assert!(
        err.contains("--metrics-addr \"nowhere\": expected HOST:PORT"),
        "{err}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let in_use = common::dais(&[
        "run",
        "--no-render",
        "--steps",
        "100000",
        "--metrics-addr",
        &addr,
    ]);
    common::assert_one_line_error(
        &in_use,
        &format!("--metrics-addr {addr}: cannot listen there"),
    );
}

#[test]
fn replay_verify_serves_the_resimulations_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("run.db");
    let recorded = common::dais(&[
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "40",
        "--steps",
        "1500",
        "--ledger",
        ledger.to_str().unwrap(),
    ]);
    assert!(recorded.status.success(), "{recorded:?}");
    let (mut child, addr) =
        common::spawn_serving(&["replay", ledger.to_str().unwrap(), "--verify", "--quiet"]);
    let ticks = common::wait_for_ticks(&addr);
    assert!(ticks <= 1500.0);
    assert!(child.wait().unwrap().success(), "the replay verified");

    let without_verify = common::dais(&[
        "replay",
        ledger.to_str().unwrap(),
        "--no-render",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    common::assert_one_line_error(&without_verify, "add --verify");
}

/// The desktop app reports to the endpoint too: a real window (under xvfb-run in scripts/test), playing.
#[cfg(feature = "gui")]
#[test]
fn the_desktop_app_serves_its_live_runs_metrics() {
    common::require_display();
    let (child, addr) = common::spawn_serving(&[
        "run",
        "--agents",
        "30",
        "--play",
        "--speed",
        "240",
        "--quit-after",
        "60",
    ]);
    let mut child = child;
    let ticks = common::wait_for_ticks(&addr);
    assert!(ticks > 0.0);
    assert_eq!(http_get(&addr, "/readyz").unwrap().0, 200);
    child.kill().unwrap();
    let _ = child.wait();
}
