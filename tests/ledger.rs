//! The ledger file and recorded replays, black-box through the binary.

mod common;

use common::{assert_one_line_error, dais};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Records a short run and returns the ledger path.
fn record(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let out = dais(&[
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "60",
        "--steps",
        "120",
        "--ledger",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    path
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_recorded_run_verifies_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = record(dir.path(), "run.db");
    let out = dais(&["ledger", "verify", p(&ledger)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("ledger ok: 120 ticks") && stdout.contains("head hash "),
        "{stdout}"
    );

    let out = dais(&["replay", p(&ledger), "--no-render", "--verify", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(
            "replay verified: 120 ticks re-simulated with the recorded state hashes; ledger chain ok"
        ),
        "{}",
        text(&out.stdout)
    );

    let stats = text(&dais(&["ledger", "stats", p(&ledger)]).stdout);
    assert!(
        stats.contains("frames      120 rows") && stats.contains("agents      60 rows"),
        "{stats}"
    );
}

#[test]
fn an_altered_row_is_named_and_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = record(dir.path(), "run.db");
    {
        let conn = rusqlite::Connection::open(&ledger).unwrap();
        let seq: i64 = conn
            .query_row(
                "SELECT seq FROM ballots ORDER BY seq LIMIT 1 OFFSET 10",
                [],
                |r| r.get(0),
            )
            .unwrap();
        // With the triggers in place the update is refused outright.
        assert!(
            conn.execute("UPDATE ballots SET yes = 1 - yes WHERE seq = ?1", [seq])
                .is_err()
        );
        conn.execute_batch("DROP TRIGGER ballots_no_update;")
            .unwrap();
        conn.execute("UPDATE ballots SET yes = 1 - yes WHERE seq = ?1", [seq])
            .unwrap();
        let out = dais(&["ledger", "verify", p(&ledger)]);
        assert_eq!(out.status.code(), Some(1));
        assert_one_line_error(&out, &format!("first broken row: ballots seq {seq}"));
    }
}

#[test]
fn a_dropped_trigger_alone_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = record(dir.path(), "run.db");
    rusqlite::Connection::open(&ledger)
        .unwrap()
        .execute_batch("DROP TRIGGER decisions_no_delete;")
        .unwrap();
    assert_one_line_error(
        &dais(&["ledger", "verify", p(&ledger)]),
        "append-only trigger decisions_no_delete is missing",
    );
}

#[test]
fn replay_verify_checks_the_chain_before_re_simulating() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = record(dir.path(), "run.db");
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    conn.execute_batch(
        "DROP TRIGGER ticks_no_update; UPDATE ticks SET state_hash = 'x' WHERE tick = 77;",
    )
    .unwrap();
    assert_one_line_error(
        &dais(&["replay", p(&ledger), "--no-render", "--verify", "--quiet"]),
        "first broken row: ticks seq",
    );
}

#[test]
fn bad_ledger_files_get_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let text_file = dir.path().join("notes.db");
    std::fs::write(
        &text_file,
        "just some text, not a database at all, long enough to have a header",
    )
    .unwrap();
    let ledger = record(dir.path(), "run.db");
    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &std::fs::read(&ledger).unwrap()[..1500]).unwrap();
    let newer = dir.path().join("newer.db");
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99; CREATE TABLE t (x);")
        .unwrap();
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("PRAGMA user_version = 1; CREATE TABLE t (x);")
        .unwrap();
    for command in ["verify", "stats"] {
        assert_one_line_error(
            &dais(&["ledger", command, p(&missing)]),
            "no such ledger file",
        );
        assert_one_line_error(
            &dais(&["ledger", command, p(&text_file)]),
            "is not a DAIS ledger",
        );
        assert_one_line_error(&dais(&["ledger", command, p(&truncated)]), "truncated.db");
        assert_one_line_error(&dais(&["ledger", command, p(&newer)]), "schema version 99");
        assert_one_line_error(
            &dais(&["ledger", command, p(&foreign)]),
            "lacks the ledger tables",
        );
    }
    assert_one_line_error(
        &dais(&["replay", p(&missing), "--no-render", "--verify"]),
        "no such ledger file",
    );
    assert_one_line_error(
        &dais(&["ledger", "export", p(&ledger), "--table", "sqlite_master"]),
        "unknown table",
    );
    // An explicit --ledger path is never overwritten.
    let out = dais(&[
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "10",
        "--steps",
        "50",
        "--ledger",
        p(&ledger),
    ]);
    assert_one_line_error(&out, "already exists");
}

#[test]
fn export_writes_csv_and_json_that_match_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = record(dir.path(), "run.db");
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let ballots = conn
        .query_row("SELECT count(*) FROM ballots", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize;
    let csv_path = dir.path().join("ballots.csv");
    let out = dais(&[
        "ledger",
        "export",
        p(&ledger),
        "--table",
        "ballots",
        "--format",
        "csv",
        "--output",
        p(&csv_path),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "seq,tick,sig,voter,yes,prev_hash,hash"
    );
    assert_eq!(csv.lines().count(), ballots + 1);
    let out = dais(&[
        "ledger",
        "export",
        p(&ledger),
        "--table",
        "ticks",
        "--format",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 120);
    assert_eq!(rows[0]["tick"], 1);
}

fn wait_for_ticks(ledger: &Path, at_least: i64) {
    for _ in 0..600 {
        if let Ok(conn) = rusqlite::Connection::open_with_flags(
            ledger,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) && let Ok(n) = conn.query_row("SELECT count(*) FROM ticks", [], |r| r.get::<_, i64>(0))
            && n >= at_least
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the run never wrote {at_least} ticks");
}

#[cfg(unix)]
#[test]
fn sigkill_mid_run_leaves_a_valid_ledger_of_whole_ticks_and_backup_works_while_writing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("killed.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dais"))
        .args([
            "run",
            "--no-render",
            "--quiet",
            "--agents",
            "300",
            "--steps",
            "1000000",
            "--ledger",
            p(&ledger),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_ticks(&ledger, 60);
    // An online backup taken while the run is still writing is itself a valid ledger.
    let copy = dir.path().join("copy.db");
    let out = dais(&["ledger", "backup", p(&ledger), p(&copy)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for path in [&ledger, &copy] {
        // Whole ticks, soundly chained, but no closing row: verify says so with its own status.
        let out = dais(&["ledger", "verify", p(path)]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with("ledger incomplete: ") && stdout.contains(" of 1000000 ticks"),
            "{stdout}"
        );
        let out = dais(&["replay", p(path), "--no-render", "--verify", "--quiet"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("(incomplete: no closing row)"));
    }
}

#[test]
fn replay_source_serves_any_tick() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = record(dir.path(), "run.db");
    let source = dais::replay::ReplaySource::open(&ledger).unwrap();
    assert_eq!(source.ticks(), 120);
    for tick in [120, 1, 60, 61, 5] {
        let frame = source.frame(tick).unwrap();
        assert_eq!(frame.agents.len(), 60);
        assert_eq!(source.metrics(tick).unwrap()["tick"], tick);
    }
    assert!(source.frame(0).is_err() && source.frame(121).is_err());
    // Once the campaign has run, the frames show it.
    let late = source.frame(120).unwrap();
    assert!(late.agents.contains(&dais::ledger::AgentState::Immune));

    // Without a window, `--at` describes that tick's frame: the same counts the frame holds.
    let out = dais(&["replay", p(&ledger), "--no-render", "--at", "120"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout.lines().nth(1).unwrap_or_default();
    let immune = late
        .agents
        .iter()
        .filter(|&&a| a == dais::ledger::AgentState::Immune)
        .count();
    assert!(
        line.starts_with("tick 120: agents ")
            && line.contains(&format!("Immune {immune}"))
            && line.contains(&format!("; {} messages on the wire (", late.messages.len()))
            && line.contains("frame read in "),
        "{stdout}"
    );
}
