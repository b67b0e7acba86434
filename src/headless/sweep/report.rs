//! `dais sweep report DIR`: reads `DIR/manifest.json` and `DIR/runs.csv` (whole, or as far as a running sweep has
//! written it), writes `report.csv` (each metric per cell over seeds) and `compare.csv` (the levels of each factor
//! compared), prints the aggregates as a table, and draws `DIR/plots/<metric>.{svg,png}`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::manifest::{Manifest, ManifestError};
use super::plot::{self, PlotError};
use super::table::{RunsTable, TableError};
use crate::experiment::report::{self, Report, ReportError};

#[derive(Debug, thiserror::Error)]
pub enum SweepReportError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{dir}: {source}")]
    Report {
        dir: PathBuf,
        #[source]
        source: ReportError,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error(transparent)]
    Plot(#[from] PlotError),
}

#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub by: Vec<String>,
    pub metrics: Vec<String>,
    pub plots: bool,
}

/// What the report wrote, for the closing lines.
#[derive(Debug, Clone)]
pub struct ReportOutcome {
    pub report: Report,
    pub runs: usize,
    pub expected_runs: usize,
    pub files: Vec<PathBuf>,
}

fn number(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

fn write_csv(
    path: &Path,
    header: &[String],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), SweepReportError> {
    let err = |source| SweepReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = csv::Writer::from_path(path).map_err(err)?;
    writer.write_record(header).map_err(err)?;
    for row in rows {
        writer.write_record(&row).map_err(err)?;
    }
    writer.flush().map_err(|e| err(e.into()))
}

fn write_report_csv(report: &Report, path: &Path) -> Result<(), SweepReportError> {
    let mut header: Vec<String> = report.factors.iter().map(|f| f.key.clone()).collect();
    header.extend(
        [
            "metric",
            "n",
            "missing",
            "mean",
            "sd",
            "ci95_low",
            "ci95_high",
            "median",
            "min",
            "max",
        ]
        .map(String::from),
    );
    let rows = report.cells.iter().map(|cell| {
        let d = cell.description.as_ref();
        let mut row = cell.levels.clone();
        row.extend([
            cell.metric.clone(),
            d.map_or(0, |d| d.n).to_string(),
            cell.missing.to_string(),
            number(d.map(|d| d.mean)),
            number(d.and_then(|d| d.sd)),
            number(d.and_then(|d| d.ci95).map(|c| c.0)),
            number(d.and_then(|d| d.ci95).map(|c| c.1)),
            number(d.map(|d| d.median)),
            number(d.map(|d| d.min)),
            number(d.map(|d| d.max)),
        ]);
        row
    });
    write_csv(path, &header, rows)
}

fn write_compare_csv(report: &Report, path: &Path) -> Result<(), SweepReportError> {
    let header = [
        "metric",
        "factor",
        "within",
        "level_a",
        "level_b",
        "n_a",
        "n_b",
        "mean_a",
        "mean_b",
        "mann_whitney_u",
        "mann_whitney_p",
        "mann_whitney_p_holm",
        "welch_t",
        "welch_p",
        "cliffs_delta",
    ]
    .map(String::from);
    let rows = report.comparisons.iter().map(|c| {
        vec![
            c.metric.clone(),
            c.factor.clone(),
            c.within.clone(),
            c.level_a.clone(),
            c.level_b.clone(),
            c.n_a.to_string(),
            c.n_b.to_string(),
            number(c.mean_a),
            number(c.mean_b),
            number(c.mann_whitney.map(|t| t.statistic)),
            number(c.mann_whitney.map(|t| t.p_value)),
            number(c.mann_whitney_p_holm),
            number(c.welch.map(|t| t.statistic)),
            number(c.welch.map(|t| t.p_value)),
            number(c.cliffs_delta),
        ]
    });
    write_csv(path, &header, rows)
}

/// A number for the table: four significant digits, without trailing noise.
fn short(v: f64) -> String {
    if v == 0.0 || (v.abs() >= 1e-3 && v.abs() < 1e6) {
        let text = format!("{v:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        text.to_string()
    } else {
        format!("{v:.3e}")
    }
}

/// The aggregates as an aligned table, one block per metric.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    for metric in &report.metrics {
        let mut header: Vec<String> = report.factors.iter().map(|f| f.key.clone()).collect();
        header.extend(["n", "mean", "95% CI", "median", "min", "max"].map(String::from));
        let mut rows = vec![header];
        for cell in report.cells.iter().filter(|c| &c.metric == metric) {
            let mut row = cell.levels.clone();
            match &cell.description {
                Some(d) => row.extend([
                    d.n.to_string(),
                    short(d.mean),
                    d.ci95
                        .map(|(l, h)| format!("[{}, {}]", short(l), short(h)))
                        .unwrap_or_else(|| "-".into()),
                    short(d.median),
                    short(d.min),
                    short(d.max),
                ]),
                None => row.extend(["0", "-", "-", "-", "-", "-"].map(String::from)),
            }
            rows.push(row);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        out.push_str(&format!("{metric}\n"));
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str(&format!("  {}\n", line.join("  ").trim_end()));
        }
        out.push('\n');
    }
    out
}

/// Reads the sweep in `dir` and writes its report files.
pub fn report(dir: &Path, options: &ReportOptions) -> Result<ReportOutcome, SweepReportError> {
    let manifest = Manifest::read(dir)?;
    let table = RunsTable::read(&dir.join("runs.csv"))?;
    let report = report::build(
        &table.columns,
        &table.rows,
        &manifest.axes(),
        &options.by,
        &options.metrics,
    )
    .map_err(|source| SweepReportError::Report {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut files = vec![dir.join("report.csv"), dir.join("compare.csv")];
    write_report_csv(&report, &files[0])?;
    write_compare_csv(&report, &files[1])?;
    if options.plots {
        files.extend(plot::draw_all(&report, &dir.join("plots"))?);
    }
    Ok(ReportOutcome {
        report,
        runs: table.rows.len(),
        expected_runs: manifest.runs.len(),
        files,
    })
}

/// Prints the table and where the files went.
pub fn print(outcome: &ReportOutcome) {
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", table(&outcome.report));
    let _ = writeln!(
        stdout,
        "{} of {} runs reported{}; wrote {} files: {}",
        outcome.runs - outcome.report.failed_runs,
        outcome.expected_runs,
        if outcome.report.failed_runs > 0 {
            format!(" ({} failed runs left out)", outcome.report.failed_runs)
        } else {
            String::new()
        },
        outcome.files.len(),
        outcome
            .files
            .iter()
            .take(4)
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
            + if outcome.files.len() > 4 { ", ..." } else { "" }
    );
}
