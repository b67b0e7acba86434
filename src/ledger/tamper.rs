//! The tamper demo (Brownworth's blockchain demo, on a DAIS ledger): a writable in-memory copy of a recording, its
//! latest chained rows with whether each link holds, one field of a row changed on request, and the line
//! `dais ledger verify` prints for the copy. The recording itself is never touched: the copy is made from its bytes.

use rusqlite::Connection;
use rusqlite::types::Value;

use super::schema::{self, Table};
use super::verify;

/// One row of the chain as the demo shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainLink {
    pub seq: i64,
    pub table: &'static str,
    pub tick: Option<i64>,
    /// Hex of the stored `prev_hash` and `hash`.
    pub prev_hash: String,
    pub hash: String,
    /// Whether the row still hashes to its stored hash from the hash before it (red in the demo when not).
    pub holds: bool,
    /// Whether this is the row the demo changed.
    pub tampered: bool,
}

/// A recording's copy the demo may edit.
pub struct ChainCopy {
    name: String,
    conn: Connection,
    /// The copy's schema, which says which tables its chain runs through.
    schema: i64,
    tampered: Option<i64>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A stored row: its values in canonical order, and its chain columns.
struct StoredRow {
    table: &'static Table,
    values: Vec<Value>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl StoredRow {
    fn value(&self, column: &str) -> Option<&Value> {
        self.table
            .column_names()
            .position(|c| c == column)
            .map(|i| &self.values[i])
    }
    fn int(&self, column: &str) -> Option<i64> {
        match self.value(column)? {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

impl ChainCopy {
    /// A copy of the ledger file `bytes` (named `name` in messages).
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, String> {
        let conn = super::open::open_copy(name, bytes).map_err(err)?;
        Ok(Self {
            name: name.to_string(),
            schema: super::open::schema_version(&conn).map_err(err)?,
            conn,
            tampered: None,
        })
    }

    /// The row with chain position `seq`, whichever table holds it.
    fn row(&self, seq: i64) -> Result<Option<StoredRow>, String> {
        for table in schema::tables(self.schema) {
            let rows = self.rows(table, &format!("WHERE seq = {seq}"))?;
            if let Some(row) = rows.into_iter().next() {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }

    fn rows(&self, table: &'static Table, filter: &str) -> Result<Vec<StoredRow>, String> {
        let columns: Vec<&str> = table.column_names().collect();
        let sql = format!(
            "SELECT {}, prev_hash, hash FROM {} {filter}",
            columns.join(", "),
            table.name
        );
        let mut statement = self.conn.prepare(&sql).map_err(err)?;
        let n = columns.len();
        statement
            .query_map([], |r| {
                Ok(StoredRow {
                    table,
                    values: (0..n)
                        .map(|i| r.get::<_, Value>(i))
                        .collect::<Result<_, _>>()?,
                    prev_hash: r.get(n)?,
                    hash: r.get(n + 1)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(err)
    }

    /// The last `count` rows of the chain, oldest first. Each link is checked the way `ledger verify` walks the
    /// chain: from the stored hash before the first row shown, each row must hash to its stored hash and name the
    /// hash before it; after a broken row every later one is broken too, as the demo shows it.
    /// With `through_tick`, the chain as it stood once that tick was recorded (its frame is its last row).
    pub fn latest(
        &self,
        count: usize,
        through_tick: Option<u32>,
    ) -> Result<Vec<ChainLink>, String> {
        let last_seq: i64 = match through_tick {
            Some(tick) => self
                .conn
                .query_row(
                    "SELECT COALESCE(MAX(seq), 0) FROM frames WHERE tick <= ?1",
                    [tick],
                    |r| r.get(0),
                )
                .map_err(err)?,
            None => i64::MAX,
        };
        let mut rows = Vec::new();
        for table in schema::tables(self.schema) {
            rows.extend(self.rows(
                table,
                &format!("WHERE seq <= {last_seq} ORDER BY seq DESC LIMIT {count}"),
            )?);
        }
        rows.sort_by_key(|r| r.int("seq"));
        let rows = &rows[rows.len().saturating_sub(count)..];
        let mut running: Option<Vec<u8>> = None;
        Ok(rows
            .iter()
            .map(|row| {
                let prev = running.clone().unwrap_or_else(|| row.prev_hash.clone());
                let canonical = schema::canonical(
                    row.table.name,
                    row.values.iter().map(rusqlite::types::ValueRef::from),
                );
                let expected = schema::chain_hash(&prev, &canonical);
                let holds = expected.as_slice() == row.hash && prev == row.prev_hash;
                running = Some(expected.to_vec());
                let seq = row.int("seq").unwrap_or(-1);
                ChainLink {
                    seq,
                    table: row.table.name,
                    tick: row.int("tick"),
                    prev_hash: hex::encode(&row.prev_hash),
                    hash: hex::encode(&row.hash),
                    holds,
                    tampered: self.tampered == Some(seq),
                }
            })
            .collect())
    }

    /// Changes one field of row `seq` in the copy, as someone editing the file would: past the append-only
    /// trigger, which is put back afterwards. The field is the row's first data column (a number goes up by one,
    /// text gets a character more, a blob's first byte flips).
    pub fn tamper(&mut self, seq: i64) -> Result<(), String> {
        let row = self
            .row(seq)?
            .ok_or_else(|| format!("no row seq {seq} in the chain"))?;
        let keys = ["seq", "id", "idx", "tick"];
        let (column, value) = row
            .table
            .column_names()
            .zip(&row.values)
            .find(|(c, _)| !keys.contains(c))
            .or_else(|| {
                row.table
                    .column_names()
                    .zip(&row.values)
                    .find(|(c, _)| *c == "tick")
            })
            .ok_or_else(|| format!("{} has no field to change", row.table.name))?;
        let changed = match value {
            Value::Integer(i) => Value::Integer(i + 1),
            Value::Real(f) => Value::Real(f + 1.0),
            Value::Text(t) => Value::Text(format!("{t}!")),
            Value::Blob(b) => {
                let mut b = b.clone();
                if let Some(first) = b.first_mut() {
                    *first ^= 0xff;
                }
                Value::Blob(b)
            }
            Value::Null => Value::Integer(0),
        };
        let table = row.table.name;
        let trigger = format!("{table}_no_update");
        self.conn
            .execute_batch(&format!("DROP TRIGGER IF EXISTS {trigger};"))
            .map_err(err)?;
        self.conn
            .execute(
                &format!("UPDATE {table} SET {column} = ?1 WHERE seq = ?2"),
                rusqlite::params![changed, seq],
            )
            .map_err(err)?;
        self.conn
            .execute_batch(&format!(
                "CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
            ))
            .map_err(err)?;
        self.tampered = Some(seq);
        Ok(())
    }

    /// What `dais ledger verify` prints for the copy.
    pub fn verify_line(&self) -> String {
        match verify::verify(&self.conn) {
            Ok(report) => report.line(),
            Err(problem) => format!("error: {}: {problem}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::sqlite::SqliteLedger;

    fn recording() -> Vec<u8> {
        let mut config = crate::config::SimConfig::default();
        config.simulation.agents = 12;
        config.simulation.steps = 60;
        let sink = SqliteLedger::in_memory().unwrap();
        let mut sim = crate::sim::Simulation::new(config, Box::new(sink));
        while !sim.finished() {
            sim.step();
        }
        sim.finish_ledger().unwrap();
        sim.ledger_snapshot().unwrap()
    }

    #[test]
    fn tampering_with_a_row_breaks_the_chain_from_there_and_verify_names_it() {
        let bytes = recording();
        let mut copy = ChainCopy::from_bytes("run.sqlite", &bytes).unwrap();
        let links = copy.latest(8, None).unwrap();
        assert_eq!(links.len(), 8);
        assert!(links.iter().all(|l| l.holds), "{links:?}");
        assert!(links.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        assert!(links.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        assert!(
            copy.verify_line().starts_with("ledger ok: 60 ticks"),
            "{}",
            copy.verify_line()
        );

        let target = links[3].seq;
        copy.tamper(target).unwrap();
        let after = copy.latest(8, None).unwrap();
        let broken: Vec<bool> = after.iter().map(|l| !l.holds).collect();
        assert_eq!(broken, [false, false, false, true, true, true, true, true]);
        assert!(after[3].tampered);
        let line = copy.verify_line();
        assert!(
            line.starts_with(&format!(
                "error: run.sqlite: first broken row: {} seq {target}",
                after[3].table
            )),
            "{line}"
        );
        // Up to a tick, the chain ends with that tick's frame.
        let at_30 = copy.latest(3, Some(30)).unwrap();
        assert_eq!((at_30[2].table, at_30[2].tick), ("frames", Some(30)));
        // The recording's own bytes are untouched.
        let again = ChainCopy::from_bytes("run.sqlite", &bytes).unwrap();
        assert!(again.verify_line().starts_with("ledger ok"));
    }
}
