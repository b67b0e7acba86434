//! The ledger's tables, written down once: the writer creates and fills them from these definitions, and
//! `ledger verify` reads them back by the same definitions, so the two cannot disagree on what a row's bytes are.
//!
//! Schema 2 chains every row of every table: the run row first, then the agents, then tick by tick its
//! signatures, ballots, decisions, outcomes, its `ticks` row and its frame, and after the last tick a closing row.
//! Each row carries a global `seq`, `prev_hash` and `hash = SHA-256(prev_hash || canonical(row))`, where the
//! canonical bytes encode each stored value with its type and length (see [`canonical`]), so no edit to any
//! column, not even one that recreates the append-only triggers afterwards, leaves the chain intact.
//! Schema 3 adds the `interventions` table: what was done to the run at each tick, first among the tick's rows.
//! Schema 2 files (no interventions table) are still read and verified in full.
//! Schema 1 (the first release) chained signatures, ballots and decisions only; those files are still read.

use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 3;
/// The oldest schema this build reads (read-only; its chain covers signatures, ballots and decisions only).
pub const OLDEST_READABLE: i64 = 1;

/// One table: its name and its columns with their SQL types, in canonical (hashing) order. Every table also has
/// `prev_hash` and `hash` after these.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, &'static str)],
    /// The first schema that has it.
    pub since: i64,
}

impl Table {
    pub fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.0)
    }
}

/// Every table, in the order `stats` and `export` list them.
pub const TABLES: &[Table] = &[
    Table {
        name: "run",
        since: 2,
        columns: &[
            ("id", "INTEGER PRIMARY KEY CHECK (id = 1)"),
            ("seq", "INTEGER NOT NULL UNIQUE"),
            ("config_ron", "TEXT NOT NULL"),
            ("config_hash", "TEXT NOT NULL"),
            ("seed", "INTEGER NOT NULL"),
            ("dais_version", "TEXT NOT NULL"),
            ("started_at", "TEXT NOT NULL"),
            ("agents", "INTEGER NOT NULL"),
        ],
    },
    Table {
        name: "agents",
        since: 2,
        columns: &[
            ("idx", "INTEGER PRIMARY KEY"),
            ("seq", "INTEGER NOT NULL UNIQUE"),
            ("role", "TEXT NOT NULL"),
            ("neighbours", "TEXT NOT NULL"),
        ],
    },
    Table {
        name: "interventions",
        since: 3,
        columns: &[
            ("seq", "INTEGER PRIMARY KEY"),
            ("tick", "INTEGER NOT NULL"),
            // The intervention as the config spells it, e.g. `crash(12)`.
            ("action", "TEXT NOT NULL"),
        ],
    },
    Table {
        name: "signatures",
        since: 2,
        columns: &[
            ("seq", "INTEGER PRIMARY KEY"),
            ("tick", "INTEGER NOT NULL"),
            ("sig", "INTEGER NOT NULL"),
            ("sig_id", "TEXT NOT NULL"),
            ("origin", "INTEGER NOT NULL"),
            ("count", "INTEGER NOT NULL"),
            ("centroid", "TEXT NOT NULL"),
            ("spread", "TEXT NOT NULL"),
            ("truth", "INTEGER NOT NULL"),
        ],
    },
    Table {
        name: "ballots",
        since: 2,
        columns: &[
            ("seq", "INTEGER PRIMARY KEY"),
            ("tick", "INTEGER NOT NULL"),
            ("sig", "INTEGER NOT NULL"),
            ("voter", "INTEGER NOT NULL"),
            ("yes", "INTEGER NOT NULL"),
        ],
    },
    Table {
        name: "decisions",
        since: 2,
        columns: &[
            ("seq", "INTEGER PRIMARY KEY"),
            ("tick", "INTEGER NOT NULL"),
            ("decision", "INTEGER NOT NULL"),
            ("sig", "INTEGER NOT NULL"),
            ("tallier", "INTEGER NOT NULL"),
            // What the tallier claimed, and what honest agents took it as: the claim, or "refused" when the
            // certificate failed the check.
            ("claimed", "TEXT NOT NULL"),
            ("outcome", "TEXT NOT NULL"),
            ("yes", "INTEGER NOT NULL"),
            ("no", "INTEGER NOT NULL"),
        ],
    },
    Table {
        name: "outcomes",
        since: 2,
        columns: &[
            ("seq", "INTEGER PRIMARY KEY"),
            ("tick", "INTEGER NOT NULL"),
            ("sig", "INTEGER NOT NULL UNIQUE"),
            ("outcome", "TEXT NOT NULL"),
            // The decision that settled it; NULL for a signature that expired without any decision.
            ("decision", "INTEGER"),
        ],
    },
    Table {
        name: "ticks",
        since: 2,
        columns: &[
            ("tick", "INTEGER PRIMARY KEY"),
            ("seq", "INTEGER NOT NULL UNIQUE"),
            ("state_hash", "TEXT NOT NULL"),
            ("signatures", "INTEGER NOT NULL"),
            ("ballots", "INTEGER NOT NULL"),
            ("decisions", "INTEGER NOT NULL"),
            ("outcomes", "INTEGER NOT NULL"),
            ("metrics", "TEXT NOT NULL"),
        ],
    },
    Table {
        name: "frames",
        since: 2,
        columns: &[
            ("tick", "INTEGER PRIMARY KEY"),
            ("seq", "INTEGER NOT NULL UNIQUE"),
            ("data", "BLOB NOT NULL"),
        ],
    },
    Table {
        name: "closing",
        since: 2,
        columns: &[
            ("id", "INTEGER PRIMARY KEY CHECK (id = 1)"),
            ("seq", "INTEGER NOT NULL UNIQUE"),
            ("ticks", "INTEGER NOT NULL"),
            ("steps", "INTEGER NOT NULL"),
            ("totals", "TEXT NOT NULL"),
        ],
    },
];

/// The tables of a schema-1 ledger (no outcomes, no closing row, no chain outside the three below).
pub const TABLES_V1: &[&str] = &[
    "run",
    "agents",
    "signatures",
    "ballots",
    "decisions",
    "ticks",
    "frames",
];
/// The tables a schema-1 chain covers.
pub const CHAINED_V1: &[&str] = &["signatures", "ballots", "decisions"];

/// The names of the tables a ledger of this schema holds.
pub fn table_names(schema: i64) -> Vec<&'static str> {
    if schema >= 2 {
        tables(schema).map(|t| t.name).collect()
    } else {
        TABLES_V1.to_vec()
    }
}

/// The chained tables of a ledger of schema 2 or later, in the order `stats` and `export` list them.
pub fn tables(schema: i64) -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(move |t| t.since <= schema)
}

pub fn table(name: &str) -> &'static Table {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .expect("a table of the schema")
}

const INDEXES: &str = "
CREATE INDEX signatures_tick ON signatures(tick);
CREATE INDEX signatures_sig ON signatures(sig);
CREATE INDEX signatures_sig_id ON signatures(sig_id);
CREATE INDEX ballots_tick ON ballots(tick);
CREATE INDEX ballots_sig ON ballots(sig);
CREATE INDEX decisions_tick ON decisions(tick);
CREATE INDEX decisions_sig ON decisions(sig);
CREATE INDEX outcomes_tick ON outcomes(tick);
CREATE INDEX interventions_tick ON interventions(tick);
";

/// The whole schema: tables, indexes, append-only triggers and the version stamp.
pub fn create_sql() -> String {
    let mut sql = String::from("BEGIN;\n");
    for t in TABLES {
        let columns: Vec<String> = t
            .columns
            .iter()
            .map(|(name, ty)| format!("{name} {ty}"))
            .collect();
        sql += &format!(
            "CREATE TABLE {} ({}, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);\n",
            t.name,
            columns.join(", ")
        );
    }
    sql += INDEXES;
    for t in TABLES {
        sql += &format!(
            "CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;\n\
             CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;\n",
            t = t.name
        );
    }
    sql += &format!("PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;");
    sql
}

/// The insert statement for a table: its columns, then `prev_hash` and `hash`.
pub fn insert_sql(table: &Table) -> String {
    let names: Vec<&str> = table.column_names().collect();
    let marks: Vec<String> = (1..=names.len() + 2).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {} ({}, prev_hash, hash) VALUES ({})",
        table.name,
        names.join(", "),
        marks.join(", ")
    )
}

/// The select that reads a table back in chain order: its columns, then `prev_hash` and `hash`.
pub fn select_sql(table: &Table) -> String {
    let names: Vec<&str> = table.column_names().collect();
    format!(
        "SELECT {}, prev_hash, hash FROM {} ORDER BY seq",
        names.join(", "),
        table.name
    )
}

/// The names of the append-only triggers of a schema, two per table.
pub fn trigger_names(schema: i64) -> Vec<String> {
    table_names(schema)
        .iter()
        .flat_map(|t| [format!("{t}_no_update"), format!("{t}_no_delete")])
        .collect()
}

/// The bytes a row is hashed over: the table's name, then each value with a type tag and, for text and blobs, a
/// length, so that no two different rows (or tables) share bytes.
pub fn canonical<'a>(table: &str, values: impl IntoIterator<Item = ValueRef<'a>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    canonical_into(&mut out, table, values);
    out
}

/// [`canonical`] into a buffer the caller reuses (the writer, row after row).
pub fn canonical_into<'a>(
    out: &mut Vec<u8>,
    table: &str,
    values: impl IntoIterator<Item = ValueRef<'a>>,
) {
    out.clear();
    put_bytes(out, b'T', table.as_bytes());
    for value in values {
        match value {
            ValueRef::Null => out.push(b'n'),
            ValueRef::Integer(i) => {
                out.push(b'i');
                out.extend_from_slice(&i.to_le_bytes());
            }
            ValueRef::Real(f) => {
                out.push(b'r');
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            ValueRef::Text(t) => put_bytes(out, b't', t),
            ValueRef::Blob(b) => put_bytes(out, b'b', b),
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

pub fn chain_hash(prev: &[u8], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

/// Schema 1's canonical bytes: stored columns as text joined by `|` after the table name.
pub fn canonical_v1(table: &str, columns: &[String]) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    out.push_str(table);
    for c in columns {
        out.push('|');
        out.push_str(c);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_tell_apart_rows_a_separator_would_confuse() {
        let a = canonical("t", [ValueRef::Text(b"x|y"), ValueRef::Text(b"z")]);
        let b = canonical("t", [ValueRef::Text(b"x"), ValueRef::Text(b"y|z")]);
        assert_ne!(a, b);
        let int = canonical("t", [ValueRef::Integer(1)]);
        let text = canonical("t", [ValueRef::Text(b"1")]);
        assert_ne!(int, text);
        assert_ne!(canonical("ab", []), canonical("a", [ValueRef::Text(b"b")]));
    }

    #[test]
    fn every_table_has_a_seq_and_the_schema_lists_its_triggers() {
        for t in TABLES {
            assert!(t.column_names().any(|c| c == "seq"), "{}", t.name);
        }
        let sql = create_sql();
        for trigger in trigger_names(SCHEMA_VERSION) {
            assert!(sql.contains(&trigger), "{trigger}");
        }
    }
}
