//! Logs: JSON lines that parse one by one and carry the run's start, end and decisions; rotation by size that
//! keeps the configured number of files; bad log flags in one line.

mod common;

use common::dais;

/// Colluders forge signatures, so a run with them has many decisions to log; JSON at debug level logs each one.
const COLLUDERS_LOGGED_AS_JSON: [&str; 8] = [
    "--set",
    "faults.byzantine_fraction=0.3",
    "--set",
    "faults.byzantine_strategy=collude",
    "--log-format",
    "json",
    "--log-level",
    "debug",
];

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_logs_parse_line_by_line_and_carry_the_run() {
    let output = dais(&[
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "30",
        "--steps",
        "120",
        "--log-format",
        "json",
        "--log-level",
        "debug",
    ]);
    assert!(output.status.success(), "{output:?}");
    let lines = json_lines(&String::from_utf8_lossy(&output.stderr));
    let find = |message: &str| {
        lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line"))
    };
    let started = find("run started");
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["target"], "dais::run");
    assert!(started["timestamp"].is_string());
    assert_eq!(started["seed"], 42);
    assert_eq!(started["config_hash"].as_str().unwrap().len(), 64);
    let finished = find("run finished");
    assert_eq!(finished["tick"], 120);
    assert!(finished["final_state_hash"].is_string());
    let decision = find("decision");
    assert_eq!(decision["level"], "DEBUG");
    assert!(decision["tick"].as_u64().unwrap() > 0);
    assert!(decision["outcome"].is_string());
}

#[test]
fn a_log_file_rotates_by_size_and_keeps_the_configured_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("dais.log");
    // Far more decisions than three files' worth.
    let run = [
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "40",
        "--steps",
        "300",
    ];
    let file = [
        "--log-file",
        log.to_str().unwrap(),
        "--log-max-bytes",
        "1024",
        "--log-keep",
        "2",
    ];
    let output = dais(&[&run[..], &COLLUDERS_LOGGED_AS_JSON, &file].concat());
    assert!(output.status.success(), "{output:?}");
    assert!(
        output.stderr.is_empty(),
        "the log went to the file: {output:?}"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["dais.log", "dais.log.1", "dais.log.2"]);
    for name in &names {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let lines = json_lines(&text);
        assert!(!lines.is_empty(), "{name} is empty");
    }
    // The newest lines are in the live file: the run's last line is there.
    let live = std::fs::read_to_string(&log).unwrap();
    assert!(live.contains("\"run finished\""), "{live}");
}

#[test]
fn bad_log_flags_get_one_line() {
    let format = dais(&["run", "--no-render", "--log-format", "xml"]);
    assert_eq!(format.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&format.stderr).contains("--log-format"));
    let file = dais(&[
        "run",
        "--no-render",
        "--log-file",
        "/nonexistent/folder/dais.log",
    ]);
    common::assert_one_line_error(&file, "--log-file /nonexistent/folder/dais.log");
    let filter = common::dais_env(&["config", "show"], &[("RUST_LOG", "dais=loud")]);
    common::assert_one_line_error(&filter, "RUST_LOG=\"dais=loud\"");
}

/// The window logs through Bevy's LogPlugin with our formatter: JSON lines in a file, as headless runs write.
#[cfg(feature = "gui")]
#[test]
fn the_window_writes_json_logs_to_a_file() {
    common::require_display();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("view.log");
    let picture = dir.path().join("view.png");
    let output = dais(&[
        "run",
        "--agents",
        "20",
        "--steps",
        "5",
        "--screenshot",
        picture.to_str().unwrap(),
        "--log-format",
        "json",
        "--log-level",
        "info",
        "--log-file",
        log.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    let lines = json_lines(&std::fs::read_to_string(&log).unwrap());
    assert!(!lines.is_empty(), "the window logged nothing at info");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["target"].is_string())
    );
}

/// Removes ANSI escape sequences (`ESC [ … letter`), as a terminal would act on them rather than show them.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// On a terminal the progress bar is drawn, and every log line still comes out whole: the bar is cleared before
/// each line and redrawn after it. `script` (util-linux) gives the run a pseudo-terminal.
#[cfg(unix)]
#[test]
fn log_lines_and_the_progress_bar_never_interleave_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("the terminal test needs `script` (util-linux, part of every Debian)");
    }
    let run = ["run", "--no-render", "--agents", "40", "--steps", "400"];
    let args = [&run[..], &COLLUDERS_LOGGED_AS_JSON].concat();
    let command = format!("{} {}", env!("CARGO_BIN_EXE_dais"), args.join(" "));
    let on_a_terminal = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    assert!(on_a_terminal.status.success(), "{on_a_terminal:?}");
    let screen = String::from_utf8_lossy(&on_a_terminal.stdout);
    assert!(screen.contains("ticks/s"), "the bar was drawn: {screen}");
    let mut whole = 0;
    for line in screen.split('\n') {
        let line = line.trim_end_matches('\r');
        if !line.contains("\"timestamp\"") {
            continue;
        }
        // What stays on the line once the terminal has carried out the bar's carriage returns and clears.
        let shown = strip_ansi(line.rsplit('\r').next().unwrap_or(""));
        serde_json::from_str::<serde_json::Value>(shown.trim())
            .unwrap_or_else(|e| panic!("a log line mixed with the bar ({e}): {line:?}"));
        whole += 1;
    }
    // Every line a pipe gets, the terminal gets whole.
    let piped = dais(&args);
    let expected = json_lines(&String::from_utf8_lossy(&piped.stderr)).len();
    assert!(expected > 20, "{expected} lines");
    assert_eq!(whole, expected);
}
