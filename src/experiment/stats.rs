//! The statistics of a sweep report, as scipy.stats computes them, so a researcher can check DAIS's numbers with the
//! tools they already trust: a per-cell description with a Student-t 95% confidence interval, Welch's t-test,
//! the Mann–Whitney U test (two-sided, asymptotic with continuity and tie corrections), Cliff's delta, and Holm's
//! correction for many comparisons. `tests/stats_scipy.rs` checks each against values computed by
//! `tools/scipy_stats.py`.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// One cell's values over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Description {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (ddof = 1); `None` below two values.
    pub sd: Option<f64>,
    /// The Student-t 95% confidence interval of the mean; `None` below two values.
    pub ci95: Option<(f64, f64)>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Describes `values`; `None` when there are none.
pub fn describe(values: &[f64]) -> Option<Description> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = (n >= 2).then(|| sample_variance(values, mean).sqrt());
    let ci95 = sd.map(|sd| {
        let half = t_quantile(0.975, (n - 1) as f64) * sd / (n as f64).sqrt();
        (mean - half, mean + half)
    });
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some(Description {
        n,
        mean,
        sd,
        ci95,
        median,
        min: sorted[0],
        max: sorted[n - 1],
    })
}

fn sample_variance(values: &[f64], mean: f64) -> f64 {
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).expect("df > 0").inverse_cdf(p)
}

/// A two-sided test's statistic and p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestResult {
    pub statistic: f64,
    pub p_value: f64,
}

/// Welch's t-test (scipy's `ttest_ind(a, b, equal_var=False)`), two-sided. `None` when a sample has fewer than
/// two values or both have no spread (the statistic is undefined).
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Option<TestResult> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (va, vb) = (sample_variance(a, ma) / na, sample_variance(b, mb) / nb);
    let se2 = va + vb;
    if se2 == 0.0 {
        return None;
    }
    let t = (ma - mb) / se2.sqrt();
    let df = se2.powi(2) / (va.powi(2) / (na - 1.0) + vb.powi(2) / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_value = (2.0 * dist.cdf(-t.abs())).min(1.0);
    Some(TestResult {
        statistic: t,
        p_value,
    })
}

/// The Mann–Whitney U test (scipy's `mannwhitneyu(a, b, method="asymptotic")`), two-sided: the statistic is U of
/// `a`; the p-value uses the normal approximation with the continuity correction and the tie-corrected variance.
/// `None` when a sample is empty or every value is the same (no spread to rank).
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<TestResult> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = pooled.len();
    // Mid-ranks for ties, and the tie term sum(t^3 - t) of the variance.
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && pooled[end].0 == pooled[start].0 {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        let in_a = pooled[start..end].iter().filter(|x| x.1).count();
        rank_sum_a += rank * in_a as f64;
        let t = (end - start) as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u1 = rank_sum_a - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let mu = n1f * n2f / 2.0;
    let variance = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if variance <= 0.0 {
        return None;
    }
    let z = (u1.max(u2) - mu - 0.5) / variance.sqrt();
    let normal = Normal::standard();
    let p_value = (2.0 * normal.sf(z)).clamp(0.0, 1.0);
    Some(TestResult {
        statistic: u1,
        p_value,
    })
}

/// Cliff's delta: P(a > b) - P(a < b) over all pairs, from -1 (every a below every b) to 1. `None` when a sample is
/// empty.
pub fn cliffs_delta(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut more = 0i64;
    for x in a {
        for y in b {
            more += i64::from(x > y) - i64::from(x < y);
        }
    }
    Some(more as f64 / (a.len() * b.len()) as f64)
}

/// Holm's step-down correction of `p_values` (statsmodels' `multipletests(method="holm")`), in their order.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (step, &i) in order.iter().enumerate() {
        running = running.max(((m - step) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_degenerate_samples_give_none_not_nan() {
        let one = describe(&[3.0]).unwrap();
        assert_eq!((one.n, one.mean, one.median), (1, 3.0, 3.0));
        assert!(one.sd.is_none() && one.ci95.is_none());
        assert!(describe(&[]).is_none());
        assert!(welch_t_test(&[1.0], &[2.0, 3.0]).is_none());
        assert!(welch_t_test(&[1.0, 1.0], &[1.0, 1.0]).is_none());
        assert!(mann_whitney_u(&[2.0, 2.0], &[2.0]).is_none());
        assert!(cliffs_delta(&[], &[1.0]).is_none());
        assert_eq!(cliffs_delta(&[5.0, 6.0], &[1.0, 2.0]), Some(1.0));
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn holm_is_monotone_and_capped() {
        assert_eq!(holm(&[0.01, 0.04, 0.03]), vec![0.03, 0.06, 0.06]);
        assert_eq!(holm(&[0.5, 0.9]), vec![1.0, 1.0]);
    }
}
