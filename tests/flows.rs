//! Flow records in: a CICFlowMeter-shaped file from tools/cicflow_sample.py (a port scan and a DDoS among benign
//! flows) read as the agents' traffic. Ground truth is the file's own Label column, counted here with a plain CSV
//! read, independently of DAIS's reader.

mod common;

use std::path::{Path, PathBuf};

use dais::config::{BadCells, FlowAssign, FlowSource, SimConfig, TrafficSource};

const ROWS: usize = 48_000;

/// The sample file, written by the tool under tools/ into cargo's scratch folder for tests, once: later runs (and
/// the other tests of this one) reuse it.
fn sample() -> PathBuf {
    static FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cicflow-sample-{ROWS}.csv"));
        if path.exists() {
            return path;
        }
        let partial = path.with_extension(format!("{}.partial", std::process::id()));
        let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cicflow_sample.py");
        let status = std::process::Command::new("python3")
            .arg(tool)
            .args(["--rows", &ROWS.to_string(), "--out"])
            .arg(&partial)
            .status()
            .expect("python3 runs tools/cicflow_sample.py");
        assert!(status.success());
        // Renamed into place whole, so a test process never reads a file another is still writing.
        std::fs::rename(&partial, &path).unwrap();
        path
    })
    .clone()
}

/// What the file holds, read with the csv crate directly: rows per label, and Infinity / NaN cells.
fn truth(
    path: &Path,
) -> (
    std::collections::BTreeMap<String, usize>,
    usize,
    usize,
    usize,
) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let (mut labels, mut infinite, mut nan, mut bad_attack_rows) =
        (std::collections::BTreeMap::new(), 0, 0, 0);
    for record in reader.records() {
        let record = record.unwrap();
        let label = record[record.len() - 1].trim().to_string();
        let inf = record.iter().filter(|c| c.contains("Infinity")).count();
        let n = record.iter().filter(|c| *c == "NaN").count();
        infinite += inf;
        nan += n;
        if label != "BENIGN" && inf + n > 0 {
            bad_attack_rows += 1;
        }
        *labels.entry(label).or_insert(0) += 1;
    }
    (labels, infinite, nan, bad_attack_rows)
}

fn flows_config(assign: FlowAssign, bad_cells: BadCells) -> SimConfig {
    let mut config = SimConfig::default();
    config.simulation.agents = 100;
    config.simulation.steps = 60; // 100 agents × 8 rows × 60 ticks: the whole file
    config.traffic.source = TrafficSource::Flows(Box::new(FlowSource {
        path: sample().display().to_string(),
        assign,
        bad_cells,
        ..FlowSource::default()
    }));
    config
}

fn resolved(mut config: SimConfig) -> (SimConfig, dais::flows::FlowReport) {
    let report = dais::flows::resolve(&mut config).unwrap().unwrap();
    config.validate().unwrap();
    (config, report)
}

#[test]
fn labels_become_campaigns_and_bad_cells_are_counted() {
    let (labels, infinite, nan, _) = truth(&sample());
    let (config, report) = resolved(flows_config(FlowAssign::RoundRobin, BadCells::Drop));
    let names: Vec<&str> = config
        .traffic
        .campaigns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["portscan", "ddos"], "in order of first appearance");
    assert_eq!(report.rows, ROWS as u64);
    assert_eq!(
        report.labels[0],
        ("BENIGN".to_string(), labels["BENIGN"] as u64)
    );
    assert_eq!(
        report.labels[1],
        ("PortScan".to_string(), labels["PortScan"] as u64)
    );
    assert_eq!(
        report.labels[2],
        ("DDoS".to_string(), labels["DDoS"] as u64)
    );
    assert_eq!(
        (report.infinite_cells, report.nan_cells),
        (infinite as u64, nan as u64)
    );
    assert!(report.infinite_cells > 0 && report.nan_cells > 0);
    // The header's 85 columns: the label and four text columns (flow id, the two IPs, timestamp) are not features.
    assert_eq!(report.columns, 80);
    // The scan starts 40% into the file: tick 25 of 60.
    assert_eq!(config.traffic.campaigns[0].start_tick, 25);
    let TrafficSource::Flows(source) = &config.traffic.source else {
        unreachable!()
    };
    let stats = source.resolved.as_ref().unwrap();
    assert_eq!(stats.sha256.len(), 64);
    assert!(!stats.columns.contains(&"Source IP".to_string()));
    assert!(
        stats.columns.contains(&"Destination Port".to_string()),
        "trimmed"
    );
}

#[test]
fn every_attack_row_reaches_an_agent_and_the_network_becomes_immune() {
    let (labels, _, _, bad_attack_rows) = truth(&sample());
    let (config, _) = resolved(flows_config(FlowAssign::RoundRobin, BadCells::Drop));
    let (totals, _, _) = common::run_to_end(config);
    // No agent crashes: every attack row without a bad cell is one attack sample at an honest agent.
    let attack_rows = labels["PortScan"] + labels["DDoS"];
    assert_eq!(
        totals.attack_samples,
        (attack_rows - bad_attack_rows) as u64
    );
    assert!(totals.detection_recall().unwrap() > 0.3, "{totals:?}");
    assert!(totals.counts.signatures_accepted_true > 0, "{totals:?}");
    assert!(
        totals.time_to_immunity.iter().all(Option::is_some),
        "both recorded campaigns are beaten: {totals:?}"
    );
}

#[test]
fn dealing_by_destination_puts_a_targeted_attack_on_one_agent() {
    // Every scan and DDoS row goes to 192.168.10.50: one agent sees them all, so no other agent can back its
    // signatures, and no campaign reaches 90% immunity.
    let (config, _) = resolved(flows_config(
        FlowAssign::Hash("Destination IP".into()),
        BadCells::Clamp,
    ));
    let mut simulation = dais::sim::Simulation::new(config, Box::new(dais::ledger::DiscardSink));
    while !simulation.finished() {
        simulation.step();
    }
    let campaigns = simulation
        .world()
        .resource::<dais::sim::traffic::Campaigns>();
    for reached in &campaigns.reached {
        assert_eq!(reached.iter().flatten().count(), 1);
    }
    assert!(
        simulation
            .totals()
            .time_to_immunity
            .iter()
            .all(Option::is_none)
    );
}

#[test]
fn a_flow_run_is_recorded_and_replays_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "traffic.source=flows((path: {:?}))",
        sample().display().to_string()
    );
    let mut hashes = Vec::new();
    for (threads, out) in [("1", "one"), ("2", "two")] {
        let out = dir.path().join(out);
        let run = common::dais(&[
            "run",
            "--no-render",
            "--agents",
            "100",
            "--steps",
            "60",
            "--set",
            &source,
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains("flows: ") && stderr.contains("PortScan"),
            "{stderr}"
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        hashes.push(summary["final_state_hash"].as_str().unwrap().to_string());
        let header = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
        assert!(
            header
                .lines()
                .next()
                .unwrap()
                .contains("immune_fraction_portscan")
        );
    }
    assert_eq!(hashes[0], hashes[1]);
    let ledger = dir.path().join("one/ledger.db");
    let replay = common::dais(&["replay", ledger.to_str().unwrap(), "--verify"]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
}

#[test]
fn a_bad_flow_file_gets_one_line_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let run = |path: &str| {
        let out = common::dais(&[
            "config",
            "show",
            "--agents",
            "2",
            "--steps",
            "5",
            "--set",
            &format!("traffic.source=flows((path: {path:?}))"),
        ]);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).trim().to_string()
    };
    let cell = write(
        "cell.csv",
        " Flow Duration, Flow Bytes/s, Label\n10,2.5,BENIGN\n11,x7,BENIGN\n",
    );
    assert_eq!(
        run(&cell),
        format!("error: {cell}:3: column \"Flow Bytes/s\": \"x7\" is not a number")
    );
    let no_label = write("nolabel.csv", "a,b\n1,2\n");
    assert!(
        run(&no_label).contains(&format!("{no_label}: no label column \"Label\"")),
        "{}",
        run(&no_label)
    );
    let ragged = write("ragged.csv", "a,Label\n1,BENIGN\n1,2,BENIGN\n");
    assert_eq!(
        run(&ragged),
        format!("error: {ragged}:3: 3 fields, but the header has 2")
    );
    let missing = dir.path().join("absent.csv").display().to_string();
    assert!(run(&missing).starts_with(&format!("error: cannot read {missing}")));
}
