//! Verifying a schema-1 ledger (the first release's): its chain covers signatures, ballots and decisions only,
//! so this checks that chain, the triggers and per-tick row counts. Kept so old recordings still verify.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::schema::{CHAINED_V1 as CHAINED, canonical_v1 as canonical, chain_hash, trigger_names};
use super::verify::{Problem, VerifyReport, read};

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

/// Checks a whole schema-1 ledger; the first problem found is returned.
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
            tick: Some(row.tick),
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
    if let Some(missing) = trigger_names(1).into_iter().find(|t| !triggers.contains(t)) {
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
        schema: 1,
        ticks: ticks as u64,
        steps: None,
        chained_rows: rows.len() as u64,
        head_hash: hex::encode(head),
        closed: false,
    })
}
