//! The sweep statistics reproduce scipy.stats (and statsmodels' Holm correction) on fixed samples: continuous
//! values, counts full of ties, unequal sizes and spreads. The expected values come from `tools/scipy_stats.py`.

use dais::experiment::stats::{cliffs_delta, describe, holm, mann_whitney_u, welch_t_test};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/stats_scipy.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Agreement to 1e-9, relative to the value's size: the same formulas, only the order of float operations differs.
fn close(name: &str, what: &str, got: f64, want: f64) {
    let tolerance = 1e-9 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tolerance,
        "{name}: {what} is {got}, scipy gives {want}"
    );
}

#[test]
fn descriptions_match_numpy_and_scipy_t_intervals() {
    for case in fixture()["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        for side in ["a", "b"] {
            let want = &case[format!("describe_{side}")];
            let got = describe(&floats(&case[side])).unwrap();
            assert_eq!(got.n as u64, want["n"].as_u64().unwrap(), "{name}");
            close(name, "mean", got.mean, want["mean"].as_f64().unwrap());
            close(name, "sd", got.sd.unwrap(), want["sd"].as_f64().unwrap());
            let ci = floats(&want["ci95"]);
            let (lo, hi) = got.ci95.unwrap();
            close(name, "ci95 low", lo, ci[0]);
            close(name, "ci95 high", hi, ci[1]);
            close(name, "median", got.median, want["median"].as_f64().unwrap());
            close(name, "min", got.min, want["min"].as_f64().unwrap());
            close(name, "max", got.max, want["max"].as_f64().unwrap());
        }
    }
}

#[test]
fn tests_and_effect_sizes_match_scipy() {
    let fixture = fixture();
    let mut p_values = Vec::new();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (a, b) = (floats(&case["a"]), floats(&case["b"]));
        let welch = welch_t_test(&a, &b).unwrap();
        close(
            name,
            "Welch t",
            welch.statistic,
            case["welch_t"].as_f64().unwrap(),
        );
        close(
            name,
            "Welch p",
            welch.p_value,
            case["welch_p"].as_f64().unwrap(),
        );
        let u = mann_whitney_u(&a, &b).unwrap();
        close(
            name,
            "U",
            u.statistic,
            case["mann_whitney_u"].as_f64().unwrap(),
        );
        close(
            name,
            "U p",
            u.p_value,
            case["mann_whitney_p"].as_f64().unwrap(),
        );
        close(
            name,
            "Cliff's delta",
            cliffs_delta(&a, &b).unwrap(),
            case["cliffs_delta"].as_f64().unwrap(),
        );
        p_values.push(u.p_value);
    }
    let want = floats(&fixture["holm_of_mann_whitney_p"]);
    for (i, (got, want)) in holm(&p_values).iter().zip(&want).enumerate() {
        close(&format!("comparison {i}"), "Holm-adjusted p", *got, *want);
    }
}
