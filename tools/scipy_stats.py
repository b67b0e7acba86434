#!/usr/bin/env python3
"""Reference values from scipy.stats (and statsmodels for Holm) for DAIS's sweep statistics.

    pip install scipy numpy statsmodels
    python3 tools/scipy_stats.py   # writes tests/fixtures/stats_scipy.json (committed, so tests need no Python)

Each case is a pair of samples, as a sweep's cells give them: continuous values, small counts full of ties, unequal
sizes and unequal spreads. For each sample: n, mean, sd (ddof=1), the Student-t 95% CI of the mean, median, min and
max; for each pair: Welch's t-test, Mann-Whitney U (two-sided, asymptotic) and Cliff's delta; over all pairs, the
Holm-corrected Mann-Whitney p-values.
"""
import json
import os

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "stats_scipy.json")


def describe(x):
    x = np.asarray(x, dtype=float)
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1))
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=mean, scale=sd / np.sqrt(len(x)))
    return {
        "n": len(x),
        "mean": mean,
        "sd": sd,
        "ci95": [float(lo), float(hi)],
        "median": float(np.median(x)),
        "min": float(np.min(x)),
        "max": float(np.max(x)),
    }


def cliffs_delta(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float((np.sign(a[:, None] - b[None, :])).mean())


def main():
    rng = np.random.default_rng(20261202)
    pairs = [
        ("normal, 10 v 10, shifted", rng.normal(0.0, 1.0, 10), rng.normal(0.8, 1.0, 10)),
        ("normal, 12 v 7, unequal spread", rng.normal(5.0, 0.5, 12), rng.normal(5.3, 2.0, 7)),
        ("counts with ties, 10 v 10", rng.poisson(3.0, 10), rng.poisson(4.0, 10)),
        ("shares in [0, 1], 30 v 25", rng.beta(2.0, 5.0, 30), rng.beta(2.5, 5.0, 25)),
        ("identical distributions, 15 v 15", rng.normal(1.0, 1.0, 15), rng.normal(1.0, 1.0, 15)),
        ("many ties, 9 v 11", rng.integers(0, 3, 9), rng.integers(0, 3, 11)),
    ]
    cases = []
    for name, a, b in pairs:
        a = [float(v) for v in a]
        b = [float(v) for v in b]
        welch = stats.ttest_ind(a, b, equal_var=False)
        mwu = stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
        cases.append(
            {
                "name": name,
                "a": a,
                "b": b,
                "describe_a": describe(a),
                "describe_b": describe(b),
                "welch_t": float(welch.statistic),
                "welch_p": float(welch.pvalue),
                "mann_whitney_u": float(mwu.statistic),
                "mann_whitney_p": float(mwu.pvalue),
                "cliffs_delta": cliffs_delta(a, b),
            }
        )
    p_values = [c["mann_whitney_p"] for c in cases]
    holm = multipletests(p_values, method="holm")[1]
    fixture = {"cases": cases, "holm_of_mann_whitney_p": [float(p) for p in holm]}
    with open(FIXTURE, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
