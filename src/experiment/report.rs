//! A sweep's report, from its `runs.csv` rows: each metric aggregated over seeds per cell (one cell per combination
//! of the `by` keys' levels), and the levels of each factor compared pairwise within each cell of the other factors.
//! Pure: the CSV reading, the table on stdout and the plots are the caller's.

use std::collections::BTreeMap;

use super::stats::{self, Description};

/// The figures reported when `--metric` names none, in this order, where the sweep has them; `name_*` stands for
/// every column with that prefix (one per campaign).
pub const HEADLINE_METRICS: &[&str] = &[
    "signatures_accepted_false",
    "signatures_accepted_true",
    "detection_precision",
    "detection_recall",
    "time_to_immunity_*",
    "messages",
    "ticks_per_second",
];

fn headline_metrics(columns: &[String]) -> Vec<String> {
    let mut metrics = Vec::new();
    for pattern in HEADLINE_METRICS {
        match pattern.strip_suffix('*') {
            Some(prefix) => {
                metrics.extend(columns.iter().filter(|c| c.starts_with(prefix)).cloned())
            }
            None => metrics.extend(columns.iter().filter(|c| c == pattern).cloned()),
        }
    }
    metrics
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("--by {key:?}: runs.csv has no such column (the varied keys are: {axes})")]
    UnknownBy { key: String, axes: String },
    #[error("--metric {name:?}: runs.csv has no such column{}", closest.as_ref().map(|c| format!(" (closest: {c})")).unwrap_or_default())]
    UnknownMetric {
        name: String,
        closest: Option<String>,
    },
    #[error("--metric {name:?}: {value:?} (run {run}) is not a number")]
    NotNumeric {
        name: String,
        value: String,
        run: String,
    },
    #[error("no metric to report: name one with --metric")]
    NoMetrics,
    #[error("no run finished without an error, so there is nothing to report")]
    NoRuns,
}

/// One level of a factor. Numeric levels sort by value, others by first appearance.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub key: String,
    pub levels: Vec<String>,
    /// Every level is a number (the plots draw it as an x axis, not as bars).
    pub numeric: bool,
}

/// One cell's description of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSummary {
    /// The cell's level of each `by` key, in `by` order.
    pub levels: Vec<String>,
    pub metric: String,
    /// Runs in the cell whose value is empty (a figure never reached, such as time to immunity).
    pub missing: usize,
    pub description: Option<Description>,
}

/// Two levels of one factor compared within one cell of the others.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub metric: String,
    pub factor: String,
    /// The other factors' levels, as `key=value` joined by `;` (empty with one factor).
    pub within: String,
    pub level_a: String,
    pub level_b: String,
    pub n_a: usize,
    pub n_b: usize,
    pub mean_a: Option<f64>,
    pub mean_b: Option<f64>,
    pub mann_whitney: Option<stats::TestResult>,
    /// The Mann–Whitney p-value after Holm's correction over every comparison of this metric and factor.
    pub mann_whitney_p_holm: Option<f64>,
    pub welch: Option<stats::TestResult>,
    pub cliffs_delta: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub factors: Vec<Factor>,
    pub metrics: Vec<String>,
    /// Runs left out because they failed.
    pub failed_runs: usize,
    /// By metric, then by cell in level order.
    pub cells: Vec<CellSummary>,
    pub comparisons: Vec<Comparison>,
}

/// A metric's values in each cell (by the cell's level indices), empty cells counted apart.
type Samples = BTreeMap<Vec<usize>, (Vec<f64>, usize)>;

/// Builds the report of `rows` (with `columns` as header; the last column is `error`). `by` defaults to `axes`,
/// `metrics` to the [`HEADLINE_METRICS`] the table has.
pub fn build(
    columns: &[String],
    rows: &[Vec<String>],
    axes: &[String],
    by: &[String],
    metrics: &[String],
) -> Result<Report, ReportError> {
    let column = |name: &str| columns.iter().position(|c| c == name);
    let by: Vec<String> = if by.is_empty() {
        axes.to_vec()
    } else {
        by.to_vec()
    };
    let by_columns: Vec<usize> = by
        .iter()
        .map(|key| {
            column(key).ok_or_else(|| ReportError::UnknownBy {
                key: key.clone(),
                axes: axes.join(", "),
            })
        })
        .collect::<Result<_, _>>()?;
    let metrics: Vec<String> = if metrics.is_empty() {
        headline_metrics(columns)
    } else {
        metrics.to_vec()
    };
    if metrics.is_empty() {
        return Err(ReportError::NoMetrics);
    }
    let metric_columns: Vec<usize> = metrics
        .iter()
        .map(|name| {
            column(name).ok_or_else(|| ReportError::UnknownMetric {
                name: name.clone(),
                closest: columns
                    .iter()
                    .max_by(|a, b| {
                        strsim::jaro_winkler(name, a).total_cmp(&strsim::jaro_winkler(name, b))
                    })
                    .cloned(),
            })
        })
        .collect::<Result<_, _>>()?;

    let error = columns.len() - 1;
    let good: Vec<&Vec<String>> = rows.iter().filter(|r| r[error].is_empty()).collect();
    if good.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let factors: Vec<Factor> = by
        .iter()
        .zip(&by_columns)
        .map(|(key, &c)| factor(key, good.iter().map(|r| r[c].as_str())))
        .collect();
    let cell_of = |row: &Vec<String>| -> Vec<usize> {
        factors
            .iter()
            .zip(&by_columns)
            .map(|(f, &c)| f.levels.iter().position(|l| *l == row[c]).expect("a level"))
            .collect()
    };

    let mut report = Report {
        factors: factors.clone(),
        metrics: metrics.clone(),
        failed_runs: rows.len() - good.len(),
        cells: Vec::new(),
        comparisons: Vec::new(),
    };
    for (metric, &c) in metrics.iter().zip(&metric_columns) {
        let mut samples = Samples::new();
        for row in &good {
            let entry = samples.entry(cell_of(row)).or_default();
            let text = row[c].as_str();
            if text.is_empty() {
                entry.1 += 1;
            } else {
                entry
                    .0
                    .push(text.parse().map_err(|_| ReportError::NotNumeric {
                        name: metric.clone(),
                        value: text.to_string(),
                        run: row[0].clone(),
                    })?);
            }
        }
        for (cell, (values, missing)) in &samples {
            report.cells.push(CellSummary {
                levels: level_names(&factors, cell),
                metric: metric.clone(),
                missing: *missing,
                description: stats::describe(values),
            });
        }
        for f in 0..factors.len() {
            report
                .comparisons
                .extend(compare_levels(metric, &factors, f, &samples));
        }
    }
    Ok(report)
}

fn level_names(factors: &[Factor], cell: &[usize]) -> Vec<String> {
    factors
        .iter()
        .zip(cell)
        .map(|(f, &l)| f.levels[l].clone())
        .collect()
}

fn factor<'a>(key: &str, values: impl Iterator<Item = &'a str>) -> Factor {
    let mut levels: Vec<String> = Vec::new();
    for v in values {
        if !levels.iter().any(|l| l == v) {
            levels.push(v.to_string());
        }
    }
    let numbers: Option<Vec<f64>> = levels.iter().map(|l| l.parse().ok()).collect();
    let numeric = numbers.is_some();
    if let Some(numbers) = numbers {
        let mut order: Vec<usize> = (0..levels.len()).collect();
        order.sort_by(|&a, &b| numbers[a].total_cmp(&numbers[b]));
        levels = order.into_iter().map(|i| levels[i].clone()).collect();
    }
    Factor {
        key: key.to_string(),
        levels,
        numeric,
    }
}

/// Every pair of levels of factor `f`, within each combination of the other factors' levels; Holm's correction
/// runs over all of them, as they are one family of questions ("does this factor matter for this metric?").
fn compare_levels(
    metric: &str,
    factors: &[Factor],
    f: usize,
    samples: &Samples,
) -> Vec<Comparison> {
    // The other factors' levels -> this factor's level -> values.
    let mut strata: BTreeMap<Vec<usize>, BTreeMap<usize, &Vec<f64>>> = BTreeMap::new();
    for (cell, (values, _)) in samples {
        let mut others = cell.clone();
        let level = others.remove(f);
        strata.entry(others).or_default().insert(level, values);
    }
    let mut comparisons = Vec::new();
    for (others, by_level) in &strata {
        let within = factors
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != f)
            .zip(others)
            .map(|((_, factor), &l)| format!("{}={}", factor.key, factor.levels[l]))
            .collect::<Vec<_>>()
            .join(";");
        let levels: Vec<(usize, &Vec<f64>)> = by_level.iter().map(|(&l, &v)| (l, v)).collect();
        for (i, &(la, a)) in levels.iter().enumerate() {
            for &(lb, b) in &levels[i + 1..] {
                let mean =
                    |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
                comparisons.push(Comparison {
                    metric: metric.to_string(),
                    factor: factors[f].key.clone(),
                    within: within.clone(),
                    level_a: factors[f].levels[la].clone(),
                    level_b: factors[f].levels[lb].clone(),
                    n_a: a.len(),
                    n_b: b.len(),
                    mean_a: mean(a),
                    mean_b: mean(b),
                    mann_whitney: stats::mann_whitney_u(a, b),
                    mann_whitney_p_holm: None,
                    welch: stats::welch_t_test(a, b),
                    cliffs_delta: stats::cliffs_delta(a, b),
                });
            }
        }
    }
    let tested: Vec<usize> = (0..comparisons.len())
        .filter(|&i| comparisons[i].mann_whitney.is_some())
        .collect();
    let p_values: Vec<f64> = tested
        .iter()
        .map(|&i| comparisons[i].mann_whitney.expect("tested").p_value)
        .collect();
    for (&i, adjusted) in tested.iter().zip(stats::holm(&p_values)) {
        comparisons[i].mann_whitney_p_holm = Some(adjusted);
    }
    comparisons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> (Vec<String>, Vec<Vec<String>>) {
        let columns = [
            "run_id", "rule", "fraction", "seed", "forged", "tti", "error",
        ]
        .map(String::from)
        .to_vec();
        let mut rows = Vec::new();
        for (r, rule) in ["majority", "bft"].iter().enumerate() {
            for fraction in ["0.2", "0.0", "0.1"] {
                for seed in 0..4_u32 {
                    let forged = if *rule == "bft" {
                        0.0
                    } else {
                        fraction.parse::<f64>().unwrap() * 10.0 + f64::from(seed)
                    };
                    let tti = if seed == 0 {
                        String::new()
                    } else {
                        (10 + seed as usize + r).to_string()
                    };
                    rows.push(
                        [
                            format!("{rule}{fraction}{seed}"),
                            rule.to_string(),
                            fraction.to_string(),
                            seed.to_string(),
                            forged.to_string(),
                            tti,
                            String::new(),
                        ]
                        .to_vec(),
                    );
                }
            }
        }
        let mut failed = rows[0].clone();
        failed[0] = "failed".into();
        failed[4] = String::new();
        failed[6] = "boom".into();
        rows.push(failed);
        (columns, rows)
    }

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cells_aggregate_over_seeds_and_numeric_levels_sort() {
        let (columns, rows) = table();
        let report = build(
            &columns,
            &rows,
            &strings(&["rule", "fraction"]),
            &[],
            &strings(&["forged", "tti"]),
        )
        .unwrap();
        assert_eq!(report.failed_runs, 1);
        assert_eq!(report.factors[0].levels, strings(&["majority", "bft"]));
        assert!(!report.factors[0].numeric);
        assert_eq!(report.factors[1].levels, strings(&["0.0", "0.1", "0.2"]));
        assert!(report.factors[1].numeric);
        assert_eq!(report.cells.len(), 2 * 6);
        let cell = &report.cells[2];
        assert_eq!(cell.levels, strings(&["majority", "0.2"]));
        let d = cell.description.as_ref().unwrap();
        assert_eq!((d.n, d.mean, d.min, d.max), (4, 3.5, 2.0, 5.0));
        // Time to immunity is empty for seed 0: counted as missing, not as zero.
        let tti = &report.cells[6];
        assert_eq!((tti.missing, tti.description.as_ref().unwrap().n), (1, 3));
    }

    #[test]
    fn levels_are_compared_within_each_cell_of_the_other_factor() {
        let (columns, rows) = table();
        let report = build(
            &columns,
            &rows,
            &strings(&["rule", "fraction"]),
            &[],
            &strings(&["forged"]),
        )
        .unwrap();
        let by_rule: Vec<&Comparison> = report
            .comparisons
            .iter()
            .filter(|c| c.factor == "rule")
            .collect();
        // One pair of rules at each of three fractions; three pairs of fractions for each of two rules.
        assert_eq!(by_rule.len(), 3);
        assert_eq!(report.comparisons.len(), 3 + 2 * 3);
        let at_02 = by_rule.iter().find(|c| c.within == "fraction=0.2").unwrap();
        assert_eq!(
            (at_02.level_a.as_str(), at_02.level_b.as_str()),
            ("majority", "bft")
        );
        assert_eq!(at_02.cliffs_delta, Some(1.0));
        let p = at_02.mann_whitney.unwrap().p_value;
        let holm = at_02.mann_whitney_p_holm.unwrap();
        assert!(holm >= p && holm <= 1.0, "{p} {holm}");
        // bft forges nothing at any fraction: no spread, so no t statistic, but U still compares them.
        let bft_only = report
            .comparisons
            .iter()
            .find(|c| c.factor == "fraction" && c.within == "rule=bft")
            .unwrap();
        assert!(bft_only.welch.is_none());
    }

    #[test]
    fn unknown_names_are_refused_with_the_closest_column() {
        let (columns, rows) = table();
        let axes = strings(&["rule", "fraction"]);
        let err = build(&columns, &rows, &axes, &[], &strings(&["forgd"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--metric \"forgd\": runs.csv has no such column (closest: forged)"
        );
        let err = build(&columns, &rows, &axes, &strings(&["topology"]), &[]).unwrap_err();
        assert!(matches!(err, ReportError::UnknownBy { .. }), "{err}");
        let err = build(&columns, &rows, &axes, &[], &strings(&["rule"])).unwrap_err();
        assert!(matches!(err, ReportError::NotNumeric { .. }), "{err}");
        // None of the headline figures is in this table.
        assert_eq!(
            build(&columns, &rows, &axes, &[], &[]).unwrap_err(),
            ReportError::NoMetrics
        );
    }
}
