//! The real-Prometheus test: Debian's `prometheus` scrapes a running `dais run --metrics-addr` with the committed
//! scrape config and alert rules (deploy/prometheus/), sees `dais_ticks_total` rise between two scrapes, and fires
//! DaisForgedSignatureAccepted on a run built to accept forgeries (majority rule, half the agents colluding).
//! `promtool check metrics` accepts the endpoint's output. `.ci/run` installs prometheus and sets
//! CI_REQUIRE_PROMETHEUS=1, so there a missing server fails the test; elsewhere it says it is skipped.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http_get;

/// Kills its process when dropped, so no path out of the test leaves one running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls the Prometheus HTTP API at `path` until `check` returns a value, for at most a minute.
fn until<T>(
    prometheus: &str,
    path: &str,
    mut check: impl FnMut(&serde_json::Value) -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Ok((200, body)) = http_get(prometheus, path)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&body)
            && let Some(value) = check(&json)
        {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{path}: nothing after a minute"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_a_run_and_fires_the_forgery_alert() {
    if !found("prometheus") || !found("promtool") {
        assert!(
            std::env::var_os("CI_REQUIRE_PROMETHEUS").is_none(),
            "CI_REQUIRE_PROMETHEUS is set but prometheus or promtool is missing"
        );
        eprintln!("skipped: no prometheus and promtool (apt install prometheus)");
        return;
    }
    // A run that accepts forgeries: majority rule with half the agents colluding.
    let (run, dais_addr) = common::spawn_serving(&[
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "40",
        "--steps",
        "200000",
        "--set",
        "consensus.rule=majority",
        "--set",
        "faults.byzantine_fraction=0.5",
        "--set",
        "faults.byzantine_strategy=collude",
    ]);
    let _run = Killed(run);

    // The committed config and rules, pointed at this run and scraping every second.
    let dir = tempfile::tempdir().unwrap();
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    let config = std::fs::read_to_string(deploy.join("prometheus.yml"))
        .unwrap()
        .replace("127.0.0.1:9184", &dais_addr)
        .replace("5s", "1s");
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    std::fs::copy(
        deploy.join("dais-alerts.yml"),
        dir.path().join("dais-alerts.yml"),
    )
    .unwrap();
    let prometheus_addr = format!("127.0.0.1:{}", free_port());
    let prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prometheus_addr}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let _prometheus = Killed(prometheus);

    // Two scrapes with more ticks in the second.
    let ticks = |json: &serde_json::Value| -> Option<f64> {
        json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    let first = until(
        &prometheus_addr,
        "/api/v1/query?query=dais_ticks_total",
        ticks,
    );
    let second = until(
        &prometheus_addr,
        "/api/v1/query?query=dais_ticks_total",
        |json| ticks(json).filter(|&t| t > first),
    );
    assert!(second > first);

    let alert = until(&prometheus_addr, "/api/v1/alerts", |json| {
        json["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|a| {
                a["labels"]["alertname"] == "DaisForgedSignatureAccepted" && a["state"] == "firing"
            })
            .cloned()
    });
    assert_eq!(alert["labels"]["severity"], "critical");

    // promtool reads the endpoint's own output as valid exposition.
    let (_, exposition) = http_get(&dais_addr, "/metrics").unwrap();
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
