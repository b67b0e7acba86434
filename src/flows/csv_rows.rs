//! The one CSV reader DAIS reads data with (flow files and `dais detect`'s inputs): the `csv` crate, streaming, so
//! a quoted field may hold a comma and a file of millions of rows never sits in memory. Header names are trimmed
//! (CIC-IDS2017 writes them with a leading space), and so are fields as they are read; every error names the file
//! and line.

use std::fs::File;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CsvError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is empty")]
    Empty { path: PathBuf },
    #[error("{path}:{line}: {message}")]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}:{line}: {found} fields, but the header has {expected}")]
    Ragged {
        path: PathBuf,
        line: u64,
        found: usize,
        expected: usize,
    },
}

/// A CSV file read row by row after its header.
pub struct CsvRows {
    path: PathBuf,
    header: Vec<String>,
    reader: csv::Reader<File>,
    record: csv::ByteRecord,
}

impl CsvRows {
    /// Opens `path` and reads its header line.
    pub fn open(path: &Path) -> Result<Self, CsvError> {
        let file = File::open(path).map_err(|source| CsvError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(file);
        let mut record = csv::ByteRecord::new();
        let got = reader
            .read_byte_record(&mut record)
            .map_err(|e| error_of(path, e))?;
        if !got {
            return Err(CsvError::Empty {
                path: path.to_path_buf(),
            });
        }
        let header = record
            .iter()
            .map(|field| String::from_utf8_lossy(field.trim_ascii()).into_owned())
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            header,
            reader,
            record,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header's names, trimmed.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The first column called `name` (exactly, else ignoring case).
    pub fn column(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        self.header.iter().position(|h| h == name).or_else(|| {
            self.header
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
        })
    }

    /// The next data row, or `None` at the end. A row with a different number of fields than the header is an
    /// error; blank lines are skipped (and, as the `csv` crate counts, not counted in later rows' line numbers).
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, CsvError> {
        let mut record = std::mem::take(&mut self.record);
        let got = self.read_into(&mut record);
        self.record = record;
        if !got? {
            return Ok(None);
        }
        Ok(Some(Row {
            line: self.record.position().map_or(0, |p| p.line()),
            fields: &self.record,
        }))
    }

    /// Reads the next data row into `record` (its line is `record.position()`); false at the end.
    pub fn read_into(&mut self, record: &mut csv::ByteRecord) -> Result<bool, CsvError> {
        let got = self
            .reader
            .read_byte_record(record)
            .map_err(|e| error_of(&self.path, e))?;
        if got && record.len() != self.header.len() {
            return Err(CsvError::Ragged {
                path: self.path.clone(),
                line: record.position().map_or(0, |p| p.line()),
                found: record.len(),
                expected: self.header.len(),
            });
        }
        Ok(got)
    }

    /// Bytes of the file read so far: through the end of the last row returned.
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

fn error_of(path: &Path, e: csv::Error) -> CsvError {
    let line = e.position().map_or(0, |p| p.line());
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => CsvError::Read {
            path: path.to_path_buf(),
            source,
        },
        _ => CsvError::Malformed {
            path: path.to_path_buf(),
            line,
            message,
        },
    }
}

/// One data row: its line in the file and its fields.
pub struct Row<'a> {
    pub line: u64,
    pub fields: &'a csv::ByteRecord,
}

impl<'a> Row<'a> {
    /// A row of a record read with [`CsvRows::read_into`].
    pub fn of(record: &'a csv::ByteRecord) -> Self {
        Self {
            line: record.position().map_or(0, |p| p.line()),
            fields: record,
        }
    }

    pub fn text(&self, column: usize) -> &str {
        std::str::from_utf8(self.fields[column].trim_ascii()).unwrap_or("")
    }

    /// The cell as a number: `Infinity`, `-Infinity` and `NaN` included; `None` if it is not one. Parsed from the
    /// bytes by `fast-float2` (the same algorithm as the standard library's, without a UTF-8 pass first): this is
    /// most of the time it takes to read a flow file.
    pub fn number(&self, column: usize) -> Option<f64> {
        let cell = self.fields[column].trim_ascii();
        if cell.is_empty() {
            return None;
        }
        fast_float2::parse::<f64, _>(cell).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn headers_are_trimmed_quotes_hold_commas_and_ragged_rows_name_their_line() {
        let f = file(
            " Destination Port, Flow Bytes/s,Label\n\"80\",\"1,5\",BENIGN\n443,Infinity, PortScan \n1,2\n",
        );
        let mut rows = CsvRows::open(f.path()).unwrap();
        assert_eq!(rows.header(), ["Destination Port", "Flow Bytes/s", "Label"]);
        assert_eq!(rows.column("label"), Some(2));
        let row = rows.next_row().unwrap().unwrap();
        assert_eq!(
            (row.line, row.number(0), row.text(1)),
            (2, Some(80.0), "1,5")
        );
        assert_eq!(row.number(1), None);
        let row = rows.next_row().unwrap().unwrap();
        assert_eq!(
            (row.line, row.number(1), row.text(2)),
            (3, Some(f64::INFINITY), "PortScan")
        );
        let e = rows.next_row().err().unwrap().to_string();
        assert!(e.ends_with(":4: 2 fields, but the header has 3"), "{e}");
        assert!(matches!(
            CsvRows::open(file("").path()),
            Err(CsvError::Empty { .. })
        ));
    }
}
