//! The binary, black-box: every bad flag, path or value gets one clear line and a non-zero exit code, never a panic.

mod common;

use common::{assert_one_line_error, dais, dais_env, dais_without_display, write_file};

use std::process::{Command, Output};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["config", "--help"],
        vec!["config", "show", "--help"],
        vec!["config", "check", "--help"],
        vec!["sweep", "--help"],
        vec!["ledger", "--help"],
        vec!["replay", "--help"],
        vec!["detect", "--help"],
    ] {
        let out = dais(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn a_build_without_a_view_does_not_offer_window_flags_in_its_help() {
    let help = String::from_utf8_lossy(&dais(&["run", "--help"]).stdout).into_owned();
    for flag in ["--screenshot", "--play", "--speed", "--quit-after"] {
        assert_eq!(
            help.contains(flag),
            cfg!(feature = "gui"),
            "{flag} in:\n{help}"
        );
    }
    assert!(help.contains("--no-render") && help.contains("--out"));
    // The log flags are every build's, and every command's.
    assert!(help.contains("--log-level") && help.contains("--log-format"));
}

#[test]
fn the_default_command_runs_headless_and_prints_a_summary() {
    let out = dais(&["--no-render", "--agents", "20", "--steps", "50"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("detection recall") && stdout.contains("final state hash"),
        "{stdout}"
    );
    // Not a terminal: no progress bar escape codes on stderr.
    assert!(!stderr(&out).contains("ticks/s") && !stderr(&out).contains('\u{1b}'));
}

#[test]
fn a_run_too_big_for_the_machine_is_refused_up_front_with_its_largest_parts() {
    // 1,000 trees for each of 100,000 agents plan over 70 GiB of forests: refused on any machine smaller.
    let args = [
        "run",
        "--no-render",
        "--agents",
        "100000",
        "--set",
        "detector.trees=1000",
    ];
    let out = dais(&args);
    assert_one_line_error(&out, "this run would need about");
    let line = stderr(&out);
    assert!(
        line.contains("forests") && line.contains("shrink with detector.trees"),
        "{line}"
    );
    assert!(line.contains("--force"), "{line}");
    // The breakdown it points to lists every part, largest first, with the total and its assumption.
    let show = dais(&[
        "config",
        "show",
        "--estimate",
        "--agents",
        "100000",
        "--set",
        "detector.trees=1000",
    ]);
    assert!(show.status.success(), "{}", stderr(&show));
    let table = String::from_utf8_lossy(&show.stdout);
    let first = table.lines().next().unwrap_or_default();
    assert!(first.starts_with("forests"), "{table}");
    for part in [
        "training windows",
        "agent state",
        "live signatures",
        "messages in flight",
        "ledger queue",
        "total (peak)",
        "assumes",
    ] {
        assert!(table.contains(part), "{part} missing from {table}");
    }
}

#[test]
fn a_run_reports_its_peak_memory_beside_the_plan() {
    let out = dais(&["--no-render", "--agents", "50", "--steps", "50"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("peak memory ") && l.contains("(planned ")),
        "{stdout}"
    );
}

#[test]
fn without_a_display_the_window_gives_way_to_a_headless_run_in_one_line() {
    let out = dais_without_display(&["run", "--agents", "10", "--steps", "50", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("running headless"), "{err}");
    // A display that is set but dead is no display either (the windowing library would panic on it).
    let out = dais_env(
        &["run", "--agents", "10", "--steps", "50", "--quiet"],
        &[("DISPLAY", ":4711")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    if cfg!(feature = "gui") {
        assert!(
            stderr(&out).contains("cannot reach the X display"),
            "{}",
            stderr(&out)
        );
    }
    // A screenshot cannot be taken headless: that is an error, not a silent success.
    assert_one_line_error(
        &dais_without_display(&["run", "--steps", "5", "--screenshot", "x.png"]),
        "--screenshot needs a window",
    );
    // A tick past the run's end is refused by name, not photographed as the last tick without a word.
    assert_one_line_error(
        &dais_without_display(&[
            "run",
            "--scenario",
            "classroom",
            "--steps",
            "500",
            "--screenshot",
            "x.png",
        ]),
        "--steps 500 with --screenshot names the tick to photograph, but this run ends at tick 400",
    );
}

#[test]
fn bad_flags_are_refused_by_name() {
    let out = dais(&["--bogus"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--bogus"));
    let out = dais(&["run", "--no-render", "--threads", "0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--threads"));
    let out = dais(&["run", "--no-render", "--agents", "lots"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--agents"));
}

#[test]
fn impossible_flag_values_name_the_field() {
    assert_one_line_error(
        &dais(&["--no-render", "--agents", "0"]),
        "simulation.agents = 0: must be between 1 and 1000000",
    );
    assert_one_line_error(
        &dais(&["--no-render", "--steps", "0"]),
        "simulation.steps = 0",
    );
    assert_one_line_error(
        &dais(&["--no-render", "--steps", "30"]),
        "traffic.campaigns[0].start_tick = 40: must be before the last step",
    );
}

#[test]
fn missing_and_malformed_files_and_unknown_scenarios() {
    assert_one_line_error(
        &dais(&["--no-render", "--config", "/no/such.ron"]),
        "cannot read config file /no/such.ron",
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = write_file(dir.path(), "bad.ron", "(simulation: (agents: ))");
    assert_one_line_error(
        &dais(&["--no-render", "--config", &bad]),
        "malformed config file",
    );
    assert_one_line_error(
        &dais(&["--no-render", "--scenario", "moon"]),
        "unknown scenario \"moon\"",
    );
    let out = dais(&[
        "--no-render",
        "--agents",
        "10",
        "--steps",
        "50",
        "--out",
        "/proc/version/x",
    ]);
    assert_one_line_error(&out, "cannot create output directory /proc/version/x");
}

#[test]
fn config_check_reports_each_kind_of_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "(faults: (byzantine_fraction: 1.5))",
            "faults.byzantine_fraction = 1.5: must be a fraction between 0 and 1",
        ),
        (
            "(consensus: (rule: quorum, quorum: 500))",
            "consensus.quorum = 500: must be between 1 and the electorate",
        ),
        ("(network: (topology: hypercube))", "hypercube"),
        (
            "(simulation: (steps: 30))",
            "traffic.campaigns[0].start_tick = 40",
        ),
        ("(simulation: (agents: 0))", "simulation.agents = 0"),
        ("(network: (loss: 2.0))", "network.loss = 2"),
        (
            "(detector: (contamination: 0.9))",
            "detector.contamination = 0.9",
        ),
        ("(colour: blue)", "colour"),
        ("", "malformed config file"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = write_file(dir.path(), &format!("case{i}.ron"), text);
        assert_one_line_error(&dais(&["config", "check", &path]), needle);
    }
    let out = dais(&["config", "check", "config/classroom.ron"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_one_line_error(
        &dais(&["config", "check", "/no/such.ron"]),
        "cannot read config file",
    );
}

#[test]
fn config_show_layers_file_env_and_flags() {
    let out = dais_env(
        &["config", "show", "--scenario", "classroom", "--seed", "99"],
        &[
            ("DAIS_SIMULATION__AGENTS", "77"),
            ("DAIS_NETWORK__TOPOLOGY", "ring"),
            ("DAIS_SIMULATION__SEED", "5"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("agents: 77,")
            && text.contains("topology: ring,")
            && text.contains("seed: 99,"),
        "{text}"
    );
    // What `config show` prints is itself a valid config.
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "shown.ron", &text);
    assert!(dais(&["config", "check", &path]).status.success());
    assert_one_line_error(
        &dais_env(
            &["config", "show"],
            &[("DAIS_NETWORK__TOPOLOGY", "hypercube")],
        ),
        "DAIS_NETWORK__TOPOLOGY",
    );
    assert_one_line_error(
        &dais_env(&["config", "show"], &[("DAIS_SIMULATION__AGENTS", "0")]),
        "simulation.agents = 0",
    );
}

#[test]
fn set_reaches_any_key_between_the_environment_and_the_flags() {
    let out = dais_env(
        &[
            "config",
            "show",
            "--set",
            "simulation.agents=40",
            "--set",
            "traffic.campaigns[0].intensity=0.6",
            "--set",
            "consensus.rule=bft",
            "--set",
            "simulation.seed=3",
            "--seed",
            "8",
        ],
        &[("DAIS_CONSENSUS__RULE", "majority")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // --set beats the environment (rule); --seed beats --set (seed).
    assert!(
        text.contains("agents: 40,")
            && text.contains("intensity: 0.6,")
            && text.contains("rule: bft,")
            && text.contains("seed: 8,"),
        "{text}"
    );
    assert_one_line_error(
        &dais(&["config", "show", "--set", "consensus.rul=bft"]),
        "--set consensus.rul: unknown key \"rul\" in consensus; valid keys: rule,",
    );
    let no_value = dais(&["config", "show", "--set", "consensus.rule"]);
    assert_eq!(
        no_value.status.code(),
        Some(2),
        "a malformed --set is a bad flag"
    );
    assert!(stderr(&no_value).contains("--set"));
    assert_one_line_error(
        &dais(&["run", "--no-render", "--set", "simulation.agents=0"]),
        "simulation.agents = 0",
    );
}

#[test]
fn out_dir_holds_metrics_summary_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out = dais(&[
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "30",
        "--steps",
        "60",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    for key in [
        "agents",
        "ticks",
        "seed",
        "config_hash",
        "final_state_hash",
        "detection_precision",
        "detection_recall",
        "signatures_accepted_true",
        "signatures_accepted_false",
        "signatures_rejected",
        "signatures_expired",
        "signatures_refused",
        "signatures_pending",
        "ballots",
        "decisions",
        "consensus_rule",
        "topology",
        "byzantine_fraction",
        "crash_fraction",
        "ledger_head_hash",
        "campaigns",
        "config",
        "time_to_immunity",
        "messages",
        "wall_seconds",
        "ticks_per_second",
    ] {
        assert!(summary.get(key).is_some(), "summary.json lacks {key}");
    }
    assert_eq!(summary["ticks"], 60);
    assert!(summary["time_to_immunity"].get("port_scan").is_some());
    assert_eq!(summary["campaigns"][0]["name"], "port_scan");
    assert_eq!(summary["consensus_rule"], "bft");
    assert_eq!(summary["config"]["simulation"]["agents"], 30);
    // The summary's head hash is the ledger's, so a copy of the ledger can be checked against it.
    let head = summary["ledger_head_hash"].as_str().unwrap();
    let ledger = out_dir.join("ledger.db");
    let verified = dais(&["ledger", "verify", ledger.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(String::from_utf8_lossy(&verified.stdout).contains(head));
    let checked = dais(&[
        "ledger",
        "verify",
        ledger.to_str().unwrap(),
        "--expect-head",
        head,
    ]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    let other = "0".repeat(64);
    assert_one_line_error(
        &dais(&[
            "ledger",
            "verify",
            ledger.to_str().unwrap(),
            "--expect-head",
            &other,
        ]),
        "is not the expected",
    );
    let csv = std::fs::read_to_string(out_dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 61);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("tick,attack_samples,")
    );
    assert!(out_dir.join("config.ron").exists());
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_keeps_what_was_computed() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("interrupted");
    let child = Command::new(env!("CARGO_BIN_EXE_dais"))
        .args([
            "run",
            "--no-render",
            "--quiet",
            "--agents",
            "200",
            "--steps",
            "1000000",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until some ticks have been written.
    let csv = out_dir.join("metrics.csv");
    for _ in 0..300 {
        if std::fs::metadata(&csv)
            .map(|m| m.len() > 20_000)
            .unwrap_or(false)
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    // 128 + SIGINT, as shells report a job stopped by Ctrl-C, after everything was written.
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["interrupted"], true);
    let ticks = summary["ticks"].as_u64().unwrap();
    assert!(ticks > 0 && ticks < 1_000_000);
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() as u64;
    assert_eq!(rows, ticks + 1, "every computed tick is in metrics.csv");
    // The ledger holds those ticks and says it is incomplete.
    let verified = dais(&[
        "ledger",
        "verify",
        out_dir.join("ledger.db").to_str().unwrap(),
    ]);
    assert_eq!(verified.status.code(), Some(3), "{}", stderr(&verified));
    assert!(
        String::from_utf8_lossy(&verified.stdout)
            .starts_with(&format!("ledger incomplete: {ticks} of 1000000 ticks"))
    );
}

#[test]
fn an_out_dir_with_an_earlier_run_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "run",
            "--no-render",
            "--quiet",
            "--agents",
            "20",
            "--steps",
            "50",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(out_dir.display().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        dais(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert!(run(&[]).status.success());
    let first = std::fs::read_to_string(out_dir.join("summary.json")).unwrap();
    let refused = run(&["--seed", "9"]);
    assert_one_line_error(&refused, "holds an earlier run (metrics.csv, summary.json");
    assert!(refused.stderr.windows(7).any(|w| w == b"--force"));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("summary.json")).unwrap(),
        first,
        "a refused run leaves the earlier one untouched"
    );
    let forced = run(&["--seed", "9", "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["seed"], 9);
    let verified = dais(&[
        "ledger",
        "verify",
        out_dir.join("ledger.db").to_str().unwrap(),
    ]);
    assert!(verified.status.success(), "{}", stderr(&verified));
}

#[test]
fn a_mistyped_dais_variable_is_named_with_the_closest_key() {
    let args = ["config", "show", "--scenario", "classroom"];
    let out = dais_env(&args, &[("DAIS_CONSENSUS_RULE", "majority")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("warning: environment variable DAIS_CONSENSUS_RULE names no config key (closest: DAIS_CONSENSUS__RULE)"),
        "{err}"
    );
    let mut strict = args.to_vec();
    strict.push("--strict-env");
    assert_one_line_error(
        &dais_env(&strict, &[("DAIS_CONSENSUS_RULE", "majority")]),
        "DAIS_CONSENSUS_RULE names no config key (closest: DAIS_CONSENSUS__RULE) (--strict-env)",
    );
    // Spelled right, it takes effect.
    let out = dais_env(&args, &[("DAIS_CONSENSUS__RULE", "majority")]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("rule: majority"));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn a_screenshot_that_cannot_be_written_is_refused_before_any_window() {
    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("x.jpg");
    let nested = dir.path().join("nodir").join("x.png");
    for (path, needle) in [(&jpg, "saved as PNG only"), (&nested, "does not exist")] {
        let out = dais(&["run", "--screenshot", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.lines().next().unwrap().contains("--screenshot"),
            "{err}"
        );
        assert!(err.contains(needle), "{err}");
        assert!(!path.exists());
    }
}
