//! The chain covers everything that defines a run: every tampering a reviewer tried (drop the triggers, edit,
//! recreate the triggers) breaks `dais ledger verify` at the first altered row, naming its table and seq; a cut
//! ledger is reported incomplete; a forger who recomputes the whole chain is caught by `--expect-head` and by
//! re-simulation; and a schema-1 file from the first release still verifies, with a note.

mod common;

use common::{assert_one_line_error, dais};

use std::path::{Path, PathBuf};

use dais::ledger::schema::{self, TABLES};
use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Records a short run (60 agents, 120 ticks, 20% colluders and one scripted crash, so every kind of row appears)
/// and returns its path.
fn record(dir: &Path) -> PathBuf {
    record_into(
        &dir.join("run"),
        &["--set", "interventions=[(30, crash(3))]"],
    )
}

/// Records that run into `out_dir`, with `extra` flags (such as `--set`), and returns the ledger's path.
fn record_into(out_dir: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec![
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "60",
        "--steps",
        "120",
        "--out",
        p(out_dir),
    ];
    args.extend_from_slice(extra);
    let out = common::dais_env(&args, &[("DAIS_FAULTS__BYZANTINE_FRACTION", "0.2")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    out_dir.join("ledger.db")
}

/// Edits the ledger as a careful tamperer would: drop the append-only triggers, run `sql`, put them back.
fn tamper(ledger: &Path, sql: &str) {
    let conn = Connection::open(ledger).unwrap();
    for trigger in schema::trigger_names(schema::SCHEMA_VERSION) {
        conn.execute_batch(&format!("DROP TRIGGER {trigger};"))
            .unwrap();
    }
    conn.execute_batch(sql).unwrap();
    for t in TABLES {
        conn.execute_batch(&format!(
            "CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
             CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;",
            t = t.name
        ))
        .unwrap();
    }
}

fn seq_of(ledger: &Path, sql: &str) -> i64 {
    Connection::open(ledger)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Recomputes every row's prev_hash and hash in chain order, as a forger who knows the format would.
fn rechain(ledger: &Path) {
    let conn = Connection::open(ledger).unwrap();
    let mut rows: Vec<(i64, &str, Vec<Value>)> = Vec::new();
    for t in TABLES {
        let mut stmt = conn.prepare(&schema::select_sql(t)).unwrap();
        let width = t.columns.len();
        let seq_at = t.column_names().position(|c| c == "seq").unwrap();
        let mut q = stmt.query([]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let values: Vec<Value> = (0..width).map(|i| r.get(i).unwrap()).collect();
            let Value::Integer(seq) = values[seq_at] else {
                panic!()
            };
            rows.push((seq, t.name, values));
        }
    }
    rows.sort_by_key(|r| r.0);
    let mut head = [0u8; 32];
    let mut sql = String::new();
    for (seq, table, values) in &rows {
        let prev = head;
        head = schema::chain_hash(
            &prev,
            &schema::canonical(table, values.iter().map(ValueRef::from)),
        );
        sql += &format!(
            "UPDATE {table} SET prev_hash = x'{}', hash = x'{}' WHERE seq = {seq};\n",
            hex::encode(prev),
            hex::encode(head)
        );
    }
    drop(conn);
    tamper(ledger, &sql);
}

fn verify(ledger: &Path) -> std::process::Output {
    dais(&["ledger", "verify", p(ledger)])
}

#[test]
fn every_edit_to_any_table_breaks_the_chain_at_that_row() {
    let dir = tempfile::tempdir().unwrap();
    let original = record(dir.path());
    assert!(verify(&original).status.success());
    // (what a reviewer changed, the SQL, the table and the query for the seq that must be named)
    let edits: &[(&str, &str, &str, &str)] = &[
        (
            "the seed",
            "UPDATE run SET seed = seed + 1",
            "run",
            "SELECT seq FROM run",
        ),
        (
            "the consensus rule in the config",
            "UPDATE run SET config_ron = replace(config_ron, 'rule: bft', 'rule: majority')",
            "run",
            "SELECT seq FROM run",
        ),
        (
            "an agent's role",
            "UPDATE agents SET role = 'byzantine:collude' WHERE idx = 7",
            "agents",
            "SELECT seq FROM agents WHERE idx = 7",
        ),
        (
            "a tick's metrics",
            "UPDATE ticks SET metrics = json_set(metrics, '$.false_positive', 0) WHERE tick = 50",
            "ticks",
            "SELECT seq FROM ticks WHERE tick = 50",
        ),
        (
            "a frame",
            "UPDATE frames SET data = CAST(substr(data, 1, 10) || x'03' || substr(data, 12) AS BLOB) WHERE tick = 40",
            "frames",
            "SELECT seq FROM frames WHERE tick = 40",
        ),
        (
            "a ballot",
            "UPDATE ballots SET yes = 1 - yes WHERE seq = (SELECT seq FROM ballots LIMIT 1 OFFSET 30)",
            "ballots",
            "SELECT seq FROM ballots LIMIT 1 OFFSET 30",
        ),
        (
            "a signature's ground truth",
            "UPDATE signatures SET truth = 1 - truth WHERE seq = (SELECT min(seq) FROM signatures)",
            "signatures",
            "SELECT min(seq) FROM signatures",
        ),
        (
            "a decision",
            "UPDATE decisions SET yes = yes + 1 WHERE seq = (SELECT min(seq) FROM decisions)",
            "decisions",
            "SELECT min(seq) FROM decisions",
        ),
        (
            "an outcome",
            "UPDATE outcomes SET outcome = 'accepted' WHERE seq = (SELECT min(seq) FROM outcomes WHERE outcome <> 'accepted')",
            "outcomes",
            "SELECT min(seq) FROM outcomes WHERE outcome <> 'accepted'",
        ),
        (
            "an intervention",
            "UPDATE interventions SET action = 'revive(3)'",
            "interventions",
            "SELECT seq FROM interventions",
        ),
        (
            "the closing totals",
            "UPDATE closing SET totals = json_set(totals, '$.ballots', json_extract(totals, '$.ballots') + 1)",
            "closing",
            "SELECT seq FROM closing",
        ),
    ];
    for (i, (what, sql, table, seq_sql)) in edits.iter().enumerate() {
        let copy = dir.path().join(format!("tampered-{i}.db"));
        std::fs::copy(&original, &copy).unwrap();
        let seq = seq_of(&copy, seq_sql);
        tamper(&copy, sql);
        let out = verify(&copy);
        assert_eq!(out.status.code(), Some(1), "editing {what} passed verify");
        assert_one_line_error(&out, &format!("first broken row: {table} seq {seq}"));
    }
}

#[test]
fn a_deleted_row_or_a_cut_ledger_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let original = record(dir.path());
    let deleted = dir.path().join("deleted.db");
    std::fs::copy(&original, &deleted).unwrap();
    let seq = seq_of(&deleted, "SELECT seq FROM ballots LIMIT 1 OFFSET 12");
    tamper(&deleted, &format!("DELETE FROM ballots WHERE seq = {seq}"));
    assert_one_line_error(
        &verify(&deleted),
        &format!("row seq {seq} is missing from the chain"),
    );

    // Every row after tick 58 removed: the chain up to there holds, but the run is not all there.
    let cut = dir.path().join("cut.db");
    std::fs::copy(&original, &cut).unwrap();
    let mut sql = String::from("DELETE FROM closing;");
    for table in [
        "signatures",
        "ballots",
        "decisions",
        "outcomes",
        "ticks",
        "frames",
    ] {
        sql += &format!("DELETE FROM {table} WHERE tick > 58;");
    }
    tamper(&cut, &sql);
    let out = verify(&cut);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("ledger incomplete: 58 of 120 ticks and no closing row"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_re_chained_forgery_is_caught_by_the_expected_head_and_by_re_simulation() {
    let dir = tempfile::tempdir().unwrap();
    let original = record(dir.path());
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(original.with_file_name("summary.json")).unwrap(),
    )
    .unwrap();
    let head = summary["ledger_head_hash"].as_str().unwrap().to_string();
    let forged = dir.path().join("forged.db");
    std::fs::copy(&original, &forged).unwrap();
    tamper(&forged, "UPDATE ticks SET state_hash = 'x' WHERE tick = 77");
    rechain(&forged);
    // The forger's chain is self-consistent...
    let out = verify(&forged);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(&head));
    // ...but it is not the run the summary names, and it does not re-simulate.
    assert_one_line_error(
        &dais(&["ledger", "verify", p(&forged), "--expect-head", &head]),
        "is not the expected",
    );
    assert_one_line_error(
        &dais(&["replay", p(&forged), "--no-render", "--verify", "--quiet"]),
        "replay diverged at tick 77",
    );
}

#[test]
fn a_schema_one_ledger_still_verifies_read_only_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    std::fs::copy("tests/fixtures/ledger-schema1.db", &old).unwrap();
    let before = std::fs::read(&old).unwrap();
    let out = verify(&old);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ledger ok: 60 ticks"));
    let note = text(&out.stderr);
    assert!(
        note.starts_with("note: ")
            && note.contains("schema-1 ledger")
            && note.contains("read-only"),
        "{note}"
    );
    let out = dais(&["replay", p(&old), "--no-render"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("60 ticks of 12 agents"));
    let stats = text(&dais(&["ledger", "stats", p(&old)]).stdout);
    assert!(stats.contains("(schema 1)"), "{stats}");
    assert_eq!(std::fs::read(&old).unwrap(), before, "opened read-only");
    let source = dais::replay::ReplaySource::open(&old).unwrap();
    assert!(!source.decisions().unwrap().is_empty());
}

/// A schema-2 ledger (before the interventions table) from the previous release: it verifies in full, with no
/// note, and this build re-simulates it to the very state hashes it recorded.
#[test]
fn a_schema_two_ledger_verifies_and_re_simulates_to_its_recorded_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    std::fs::copy("tests/fixtures/ledger-schema2.db", &old).unwrap();
    let out = verify(&old);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ledger ok: 60 ticks, 220 chained rows"));
    assert_eq!(text(&out.stderr), "", "no note: schema 2 chains every row");
    verifies_and_re_simulates(&old, "schema 2");
    let stats = text(&dais(&["ledger", "stats", p(&old)]).stdout);
    assert!(
        stats.contains("(schema 2)") && !stats.contains("interventions"),
        "{stats}"
    );
    let source = dais::replay::ReplaySource::open(&old).unwrap();
    assert!(source.interventions().unwrap().is_empty());
}

#[test]
fn committee_and_snowball_ledgers_verify_and_re_simulate() {
    let dir = tempfile::tempdir().unwrap();
    for rule in ["committee", "snowball"] {
        let set = format!("consensus.rule={rule}");
        let extra = ["--set", &set, "--set", "consensus.committee_size=12"];
        verifies_and_re_simulates(&record_into(&dir.path().join(rule), &extra), rule);
    }
}

/// `ledger verify` passes on `ledger`, and `replay --verify` re-simulates it to the same hashes.
fn verifies_and_re_simulates(ledger: &Path, what: &str) {
    let out = verify(ledger);
    assert!(out.status.success(), "{what}: {}", text(&out.stdout));
    let out = dais(&["replay", p(ledger), "--no-render", "--verify", "--quiet"]);
    assert!(
        out.status.success(),
        "{what}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn runs_with_faults_uneven_links_and_evolving_campaigns_verify_and_re_simulate() {
    let dir = tempfile::tempdir().unwrap();
    let extra = [
        "--set",
        "faults.churn.crash_probability=0.01",
        "--set",
        "faults.partitions=[(tick: 50, heal: 90, cut: bisection)]",
        "--set",
        "faults.targeted_crashes=[(tick: 60, target: hubs(2))]",
        "--set",
        "network.latency_distribution=uniform(min: 1, max: 3)",
        "--set",
        "network.bandwidth=3",
        "--set",
        "traffic.campaigns[0].evasion=Some((at_share: 0.3, distance: 3.0, mutations: 1))",
        "--set",
        "traffic.campaigns[0].drift=[0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01]",
        "--set",
        "traffic.campaigns[0].ramp_ticks=10",
    ];
    verifies_and_re_simulates(&record_into(&dir.path().join("faults"), &extra), "faults");
}
