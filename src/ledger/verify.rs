//! Checking and inspecting a ledger file: the hash chain, the append-only triggers, per-tick row counts against
//! the recorded metrics; plus stats, export and online backup.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::sqlite::{CHAINED, TABLES, canonical, chain_hash, trigger_names};

/// What a clean verification found.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub ticks: u64,
    pub chained_rows: u64,
    pub head_hash: String,
}

/// The first thing wrong with a ledger.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("first broken row: {table} seq {seq} (tick {tick}): {reason}")]
    BrokenRow {
        table: String,
        seq: i64,
        tick: i64,
        reason: String,
    },
    #[error("row seq {0} is missing from the chain (deleted?)")]
    MissingRow(i64),
    #[error("append-only trigger {0} is missing")]
    MissingTrigger(String),
    #[error("tick {tick}: {what} recorded {recorded}, found {found}")]
    CountMismatch {
        tick: i64,
        what: String,
        recorded: i64,
        found: i64,
    },
    #[error("ticks are not contiguous: expected tick {expected}, found {found}")]
    TickGap { expected: i64, found: i64 },
    #[error("cannot read the ledger: {0}")]
    Read(String),
}

fn read(e: rusqlite::Error) -> Problem {
    Problem::Read(e.to_string())
}

struct ChainRow {
    seq: i64,
    table: &'static str,
    tick: i64,
    columns: Vec<String>,
    prev: Vec<u8>,
    hash: Vec<u8>,
}

/// The canonical columns of each chained table, as text, in hashing order.
fn canonical_select(table: &str) -> &'static str {
    match table {
        "signatures" => {
            "SELECT seq, tick, CAST(seq AS TEXT), CAST(tick AS TEXT), CAST(sig AS TEXT), sig_id, CAST(origin AS TEXT), \
             CAST(count AS TEXT), centroid, spread, CAST(truth AS TEXT), prev_hash, hash FROM signatures"
        }
        "ballots" => {
            "SELECT seq, tick, CAST(seq AS TEXT), CAST(tick AS TEXT), CAST(sig AS TEXT), CAST(voter AS TEXT), \
             CAST(yes AS TEXT), prev_hash, hash FROM ballots"
        }
        _ => {
            "SELECT seq, tick, CAST(seq AS TEXT), CAST(tick AS TEXT), CAST(decision AS TEXT), CAST(sig AS TEXT), \
             CAST(tallier AS TEXT), outcome, CAST(yes AS TEXT), CAST(no AS TEXT), CAST(valid AS TEXT), prev_hash, hash \
             FROM decisions"
        }
    }
}

fn chain_rows(conn: &Connection) -> Result<Vec<ChainRow>, Problem> {
    let mut rows = Vec::new();
    for &table in CHAINED {
        let mut stmt = conn.prepare(canonical_select(table)).map_err(read)?;
        let width = stmt.column_count();
        let mut query = stmt.query([]).map_err(read)?;
        while let Some(row) = query.next().map_err(read)? {
            let columns = (2..width - 2)
                .map(|i| row.get::<_, String>(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(read)?;
            rows.push(ChainRow {
                seq: row.get(0).map_err(read)?,
                table,
                tick: row.get(1).map_err(read)?,
                columns,
                prev: row.get(width - 2).map_err(read)?,
                hash: row.get(width - 1).map_err(read)?,
            });
        }
    }
    rows.sort_by_key(|r| r.seq);
    Ok(rows)
}

/// Checks the whole ledger; the first problem found is returned.
pub fn verify(conn: &Connection) -> Result<VerifyReport, Problem> {
    let mut head = [0u8; 32].to_vec();
    let rows = chain_rows(conn)?;
    for (i, row) in rows.iter().enumerate() {
        let expected_seq = i as i64 + 1;
        if row.seq != expected_seq {
            return Err(Problem::MissingRow(expected_seq));
        }
        let broken = |reason: &str| Problem::BrokenRow {
            table: row.table.to_string(),
            seq: row.seq,
            tick: row.tick,
            reason: reason.to_string(),
        };
        if row.prev != head {
            return Err(broken("prev_hash does not match the previous row's hash"));
        }
        if chain_hash(&row.prev, &canonical(row.table, &row.columns))[..] != row.hash[..] {
            return Err(broken("hash does not match the row's contents"));
        }
        head.clone_from(&row.hash);
    }

    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(read)?;
    if let Some(missing) = trigger_names().into_iter().find(|t| !triggers.contains(t)) {
        return Err(Problem::MissingTrigger(missing));
    }

    let mut found: BTreeMap<(i64, &str), i64> = BTreeMap::new();
    for &table in CHAINED {
        let mut stmt = conn
            .prepare(&format!("SELECT tick, count(*) FROM {table} GROUP BY tick"))
            .map_err(read)?;
        let counts = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(read)?;
        for count in counts {
            let (tick, n) = count.map_err(read)?;
            found.insert((tick, table), n);
        }
    }
    let mut stmt = conn
        .prepare("SELECT tick, signatures, ballots, decisions, metrics FROM ticks ORDER BY tick")
        .map_err(read)?;
    let mut query = stmt.query([]).map_err(read)?;
    let mut ticks = 0i64;
    while let Some(row) = query.next().map_err(read)? {
        let tick: i64 = row.get(0).map_err(read)?;
        if tick != ticks + 1 {
            return Err(Problem::TickGap {
                expected: ticks + 1,
                found: tick,
            });
        }
        ticks = tick;
        let metrics: serde_json::Value =
            serde_json::from_str(&row.get::<_, String>(4).map_err(read)?)
                .map_err(|e| Problem::Read(format!("tick {tick} metrics: {e}")))?;
        for (i, &table) in CHAINED.iter().enumerate() {
            let recorded: i64 = row.get(i + 1).map_err(read)?;
            let actual = found.get(&(tick, table)).copied().unwrap_or(0);
            if recorded != actual {
                return Err(Problem::CountMismatch {
                    tick,
                    what: format!("{table} rows"),
                    recorded,
                    found: actual,
                });
            }
            let metric = match table {
                "signatures" => "signatures_proposed",
                "ballots" => "ballots_cast",
                _ => continue,
            };
            let in_metrics = metrics[metric].as_i64().unwrap_or(-1);
            if in_metrics != actual {
                return Err(Problem::CountMismatch {
                    tick,
                    what: format!("metrics.{metric}"),
                    recorded: in_metrics,
                    found: actual,
                });
            }
        }
    }
    Ok(VerifyReport {
        ticks: ticks as u64,
        chained_rows: rows.len() as u64,
        head_hash: hex::encode(head),
    })
}

/// Row counts per table, the last tick, and the head of the chain.
pub struct Stats {
    pub rows: Vec<(&'static str, i64)>,
    pub ticks: i64,
    pub head_hash: String,
}

pub fn stats(conn: &Connection) -> rusqlite::Result<Stats> {
    let mut rows = Vec::new();
    for &table in TABLES {
        rows.push((
            table,
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?,
        ));
    }
    let ticks = conn.query_row("SELECT coalesce(max(tick), 0) FROM ticks", [], |r| r.get(0))?;
    let head: Option<Vec<u8>> = conn.query_row(
        "SELECT hash FROM (SELECT seq, hash FROM signatures UNION ALL SELECT seq, hash FROM ballots \
         UNION ALL SELECT seq, hash FROM decisions) ORDER BY seq DESC LIMIT 1",
        [],
        |r| r.get(0),
    ).or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
    Ok(Stats {
        rows,
        ticks,
        head_hash: head.map_or_else(|| hex::encode([0u8; 32]), hex::encode),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

fn csv_field(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.into_owned()
            }
        }
        ValueRef::Blob(b) => hex::encode(b),
    }
}

fn json_field(value: ValueRef<'_>) -> serde_json::Value {
    match value {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => hex::encode(b).into(),
    }
}

/// Writes one table as CSV (header row, blobs as hex) or as a JSON array of objects.
pub fn export(
    conn: &Connection,
    table: &str,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, String> {
    if !TABLES.contains(&table) {
        return Err(format!(
            "unknown table {table:?}: expected one of {}",
            TABLES.join(", ")
        ));
    }
    let order = if table == "run" {
        "id"
    } else if matches!(table, "agents") {
        "idx"
    } else if CHAINED.contains(&table) {
        "seq"
    } else {
        "tick"
    };
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let mut query = stmt.query([]).map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    let mut count = 0u64;
    match format {
        ExportFormat::Csv => writeln!(out, "{}", names.join(",")).map_err(io)?,
        ExportFormat::Json => write!(out, "[").map_err(io)?,
    }
    while let Some(row) = query.next().map_err(|e| e.to_string())? {
        match format {
            ExportFormat::Csv => {
                let fields: Vec<String> = (0..names.len())
                    .map(|i| row.get_ref(i).map(csv_field).unwrap_or_default())
                    .collect();
                writeln!(out, "{}", fields.join(",")).map_err(io)?;
            }
            ExportFormat::Json => {
                let object: serde_json::Map<String, serde_json::Value> = names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        (
                            n.clone(),
                            row.get_ref(i)
                                .map(json_field)
                                .unwrap_or(serde_json::Value::Null),
                        )
                    })
                    .collect();
                let sep = if count == 0 { "\n" } else { ",\n" };
                write!(out, "{sep}{}", serde_json::Value::Object(object)).map_err(io)?;
            }
        }
        count += 1;
    }
    if format == ExportFormat::Json {
        writeln!(out, "\n]").map_err(io)?;
    }
    Ok(count)
}

/// A consistent copy through SQLite's online backup API, safe while a run is still writing the source.
pub fn backup(conn: &Connection, dest: &Path) -> Result<(), String> {
    if dest.exists() {
        return Err(format!(
            "{} already exists; choose a new backup path",
            dest.display()
        ));
    }
    conn.backup(
        rusqlite::MAIN_DB,
        dest,
        None::<fn(rusqlite::backup::Progress)>,
    )
    .map_err(|e| format!("backup to {} failed: {e}", dest.display()))
}
