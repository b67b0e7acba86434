//! Opening a recorded ledger to read it: a file, or a file's bytes (a browser upload). Both are read-only and both
//! are checked to be a DAIS ledger of a schema this build reads, with one clear error otherwise.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::schema::{self, OLDEST_READABLE, SCHEMA_VERSION};

/// Why a ledger file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no such ledger file: {0}")]
    Missing(PathBuf),
    #[error("{path} is not a DAIS ledger: it is not an SQLite database")]
    NotSqlite { path: PathBuf },
    #[error("{path} is not a DAIS ledger: it lacks the ledger tables")]
    LacksTables { path: PathBuf },
    #[error("{path} is not a DAIS ledger: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "{path} has ledger schema version {found}; this dais reads version {SCHEMA_VERSION} (upgrade dais)"
    )]
    NewerSchema { path: PathBuf, found: i64 },
}

impl OpenError {
    fn unreadable(path: &Path, source: rusqlite::Error) -> Self {
        OpenError::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Opens an existing ledger read-only, checking that it is one and that its schema is one we read.
pub fn open_existing(path: &Path) -> Result<Connection, OpenError> {
    if !path.is_file() {
        return Err(OpenError::Missing(path.to_path_buf()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| OpenError::unreadable(path, e))?;
    check_ledger(&conn, path)?;
    Ok(conn)
}

/// Opens a ledger file's bytes (a browser upload) as a read-only in-memory database, with the same checks as
/// [`open_existing`]. `name` is the file's name, for messages.
pub fn open_bytes(name: &str, bytes: &[u8]) -> Result<Connection, OpenError> {
    deserialize(name, bytes, true)
}

/// Like [`open_bytes`], but the copy may be written to (the tamper demo edits one; the file never changes).
pub fn open_copy(name: &str, bytes: &[u8]) -> Result<Connection, OpenError> {
    deserialize(name, bytes, false)
}

fn deserialize(name: &str, bytes: &[u8], read_only: bool) -> Result<Connection, OpenError> {
    let path = PathBuf::from(name);
    let unreadable = |e| OpenError::unreadable(&path, e);
    const MAGIC: &[u8] = b"SQLite format 3\0";
    if bytes.len() < 100 || !bytes.starts_with(MAGIC) {
        return Err(OpenError::NotSqlite { path });
    }
    let mut data = bytes.to_vec();
    // A desktop ledger is written in WAL mode, which its header records (bytes 18 and 19 are 2), and SQLite will
    // not read a WAL database from memory. Once its writer has closed, every tick is in the main file, so reading
    // it with the rollback journal's header values is exact.
    data[18] = 1;
    data[19] = 1;
    let mut conn = Connection::open_in_memory().map_err(unreadable)?;
    let size = data.len();
    conn.deserialize_read_exact(rusqlite::MAIN_DB, &data[..], size, read_only)
        .map_err(unreadable)?;
    check_ledger(&conn, &path)?;
    Ok(conn)
}

/// The schema version a ledger file declares.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn check_ledger(conn: &Connection, path: &Path) -> Result<(), OpenError> {
    let unreadable = |e| OpenError::unreadable(path, e);
    let version = schema_version(conn).map_err(unreadable)?;
    if version > SCHEMA_VERSION {
        return Err(OpenError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let expected = schema::table_names(version);
    let list = expected
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(",");
    let tables: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({list})"
            ),
            [],
            |r| r.get(0),
        )
        .map_err(unreadable)?;
    if version < OLDEST_READABLE || tables != expected.len() as i64 {
        return Err(OpenError::LacksTables {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}
