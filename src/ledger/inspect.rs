//! Inspecting a ledger file: row counts and the chain head, one table exported as CSV or JSON, and a consistent
//! copy through SQLite's online backup.

use std::io::Write;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};

use super::schema;
use super::sqlite::schema_version;

/// Row counts per table, the last tick, and the head of the chain.
pub struct Stats {
    pub schema: i64,
    pub rows: Vec<(&'static str, i64)>,
    pub ticks: i64,
    pub head_hash: String,
}

pub fn stats(conn: &Connection) -> rusqlite::Result<Stats> {
    let version = schema_version(conn)?;
    let tables = schema::table_names(version);
    let mut rows = Vec::new();
    for &table in &tables {
        rows.push((
            table,
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?,
        ));
    }
    let ticks = conn.query_row("SELECT coalesce(max(tick), 0) FROM ticks", [], |r| r.get(0))?;
    // The head is the hash of the row with the highest seq, in whichever table it sits.
    let chained: &[&str] = if version >= 2 {
        &tables
    } else {
        schema::CHAINED_V1
    };
    let mut head: Option<(i64, Vec<u8>)> = None;
    for table in chained {
        let last: Option<(i64, Vec<u8>)> = conn
            .query_row(
                &format!("SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some(row) = last
            && head.as_ref().is_none_or(|h| row.0 > h.0)
        {
            head = Some(row);
        }
    }
    Ok(Stats {
        schema: version,
        rows,
        ticks,
        head_hash: head.map_or_else(|| hex::encode([0u8; 32]), |h| hex::encode(h.1)),
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
        // The csv writer quotes what needs quoting.
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
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

/// Why an export or a backup failed.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("unknown table {table:?}: expected one of {expected}")]
    UnknownTable { table: String, expected: String },
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Writing the output failed; a closed pipe (`| head`) is `ErrorKind::BrokenPipe` here.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{} already exists; choose a new backup path", .0.display())]
    BackupExists(std::path::PathBuf),
    #[error("backup to {} failed: {source}", path.display())]
    Backup {
        path: std::path::PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

impl InspectError {
    /// The reader closed the pipe: it has seen enough, which is no error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, InspectError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Writes one table as CSV (header row, blobs as hex) or as a JSON array of objects.
pub fn export(
    conn: &Connection,
    table: &str,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, InspectError> {
    let version = schema_version(conn)?;
    let tables = schema::table_names(version);
    if !tables.contains(&table) {
        return Err(InspectError::UnknownTable {
            table: table.to_string(),
            expected: tables.join(", "),
        });
    }
    // Schema 2 orders every table by its place in the chain; schema 1 by each table's own key.
    let order = if version >= 2 || schema::CHAINED_V1.contains(&table) {
        "seq"
    } else {
        match table {
            "run" => "id",
            "agents" => "idx",
            _ => "tick",
        }
    };
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let mut query = stmt.query([])?;
    let mut count = 0u64;
    if format == ExportFormat::Csv {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(&names).map_err(std::io::Error::from)?;
        while let Some(row) = query.next()? {
            let fields =
                (0..names.len()).map(|i| row.get_ref(i).map(csv_field).unwrap_or_default());
            writer.write_record(fields).map_err(std::io::Error::from)?;
            count += 1;
        }
        writer.flush()?;
        return Ok(count);
    }
    write!(out, "[")?;
    while let Some(row) = query.next()? {
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
        write!(out, "{sep}{}", serde_json::Value::Object(object))?;
        count += 1;
    }
    writeln!(out, "\n]")?;
    Ok(count)
}

/// A consistent copy through SQLite's online backup API, safe while a run is still writing the source.
pub fn backup(conn: &Connection, dest: &Path) -> Result<(), InspectError> {
    if dest.exists() {
        return Err(InspectError::BackupExists(dest.to_path_buf()));
    }
    conn.backup(
        rusqlite::MAIN_DB,
        dest,
        None::<fn(rusqlite::backup::Progress)>,
    )
    .map_err(|source| InspectError::Backup {
        path: dest.to_path_buf(),
        source,
    })
}
