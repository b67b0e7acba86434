#!/usr/bin/env python3
"""Reference fixtures and timings from scikit-learn's IsolationForest, for DAIS's parity tests and benchmarks.

    pip install scikit-learn numpy
    python3 tools/sklearn_parity.py fixtures   # writes tests/fixtures/iforest_parity.json (committed)
    python3 tools/sklearn_parity.py timing [ROUNDS]  # scikit-learn vs DAIS, fit and scoring, one core (needs cargo)

The fixture holds, for several forest shapes, every fitted tree (tree_.feature, threshold, children_left,
children_right, n_node_samples), max_samples_, offset_, a test set, and score_samples / decision_function / predict
on it; and, for the statistical check, data sets with labels plus scikit-learn's ROC AUC on each over 10 seeds.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

# One core for the reference timings: set before numpy loads its thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "iforest_parity.json")


def blobs_with_outliers(rng, n, d, outlier_fraction=0.05):
    """Gaussian blobs (label 0) plus uniform outliers over a wider box (label 1)."""
    n_out = int(n * outlier_fraction)
    centres = rng.normal(0, 2, size=(3, d))
    inliers = np.vstack([rng.normal(c, 1.0, size=((n - n_out) // 3 + 1, d)) for c in centres])[: n - n_out]
    outliers = rng.uniform(-6, 6, size=(n_out, d))
    x = np.vstack([inliers, outliers])
    y = np.r_[np.zeros(len(inliers)), np.ones(n_out)]
    return x, y


def correlated_with_shifted(rng, n, d, shifted_fraction=0.08):
    """A correlated Gaussian cluster (label 0) and a small shifted cluster (label 1)."""
    a = rng.normal(size=(d, d))
    cov = a @ a.T / d + np.eye(d) * 0.1
    n_shift = int(n * shifted_fraction)
    normal = rng.multivariate_normal(np.zeros(d), cov, size=n - n_shift)
    shifted = rng.multivariate_normal(np.full(d, 2.5), cov * 0.3, size=n_shift)
    x = np.vstack([normal, shifted])
    y = np.r_[np.zeros(n - n_shift), np.ones(n_shift)]
    return x, y


def export_forest(forest):
    return [
        {
            "feature": est.tree_.feature.tolist(),
            "threshold": est.tree_.threshold.tolist(),
            "children_left": est.tree_.children_left.tolist(),
            "children_right": est.tree_.children_right.tolist(),
            "n_node_samples": est.tree_.n_node_samples.tolist(),
        }
        for est in forest.estimators_
    ]


def fixtures():
    rng = np.random.default_rng(2026)
    shapes = [
        # name, features, train rows, max_samples, contamination, trees
        ("2f_psi64_auto", 2, 600, 64, "auto", 25),
        ("5f_psi256_c0.1", 5, 1500, 256, 0.1, 30),
        ("10f_psi256_auto", 10, 2000, 256, "auto", 40),
        ("30f_small_data_c0.1", 30, 150, "auto", 0.1, 30),
    ]
    exact = []
    for name, d, n, psi, contamination, trees in shapes:
        x, _ = blobs_with_outliers(rng, n, d)
        test, _ = blobs_with_outliers(rng, 200, d)
        forest = IsolationForest(n_estimators=trees, max_samples=psi, contamination=contamination, random_state=7)
        forest.fit(x)
        exact.append(
            {
                "name": name,
                "features": d,
                "max_samples": int(forest.max_samples_),
                "offset": float(forest.offset_),
                "contamination": contamination,
                "trees": export_forest(forest),
                "test": test.tolist(),
                "score_samples": forest.score_samples(test).tolist(),
                "decision_function": forest.decision_function(test).tolist(),
                "predict": forest.predict(test).tolist(),
            }
        )
    statistical = []
    for name, make, d in [("blobs_uniform_outliers", blobs_with_outliers, 6), ("correlated_shifted", correlated_with_shifted, 8)]:
        x, y = make(rng, 1500, d)
        aucs = []
        for seed in range(10):
            forest = IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(x)
            aucs.append(roc_auc_score(y, -forest.score_samples(x)))
        statistical.append({"name": name, "features": d, "x": x.tolist(), "y": y.astype(int).tolist(), "sklearn_auc": aucs})
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, "w") as f:
        json.dump({"sklearn_version": __import__("sklearn").__version__, "exact": exact, "statistical": statistical}, f)
    print(f"wrote {FIXTURE} ({os.path.getsize(FIXTURE)} bytes)")


def build_dais_timer():
    """Builds DAIS's timing example (release, headless) and returns its path."""
    out = subprocess.run(
        ["cargo", "build", "--release", "--no-default-features", "--example", "iforest_timing",
         "--message-format=json"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    for line in out.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "iforest_timing":
            return message["executable"]
    raise SystemExit("cargo built no iforest_timing example")


def timing(rows=100_000, rounds=7):
    """Fit and score_samples times of scikit-learn and of DAIS on the same rows, one core each, and their ratio.

    The two run in alternation, one fit and one scoring per round, and each side keeps its best round: on a shared
    machine the slowest rounds measure the neighbours, and alternating gives both sides the same quiet spells.
    scikit-learn runs with n_jobs=1 and BLAS pinned to one thread; DAIS's scoring is single-threaded.
    """
    timer = build_dais_timer()
    rng = np.random.default_rng(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for d in (10, 30):
            x = rng.normal(size=(rows, d))
            path = os.path.join(tmp, f"rows{d}.f32")
            x.astype("<f4").tofile(path)
            def dais(*flags):
                args = [timer, path, str(d), "--repeats", "1", *flags]
                return json.loads(subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout)

            # A first run warms the caches and says which walks this CPU runs, fastest first.
            walks = dais()["supported_walks"][::-1]
            sk_fit, sk_score, ours = [], [], {}
            for _ in range(rounds):
                t = time.perf_counter()
                forest = IsolationForest(n_estimators=100, max_samples=256, n_jobs=1, random_state=0).fit(x)
                sk_fit.append(time.perf_counter() - t)
                t = time.perf_counter()
                forest.score_samples(x)
                sk_score.append(time.perf_counter() - t)
                # Every walk this CPU runs: the fastest is what DAIS uses, the others are what CPUs without its
                # instructions get.
                for walk in walks:
                    ours.setdefault(walk, []).append(dais("--walk", walk))
            fastest = walks[0]
            best = {walk: {k: min(r[k] for r in runs) for k in ("fit_s", "score_s")} for walk, runs in ours.items()}
            any_run = ours[fastest][0]
            results[d] = {
                "sklearn_fit_s": min(sk_fit), "sklearn_score_samples_s": min(sk_score),
                "dais_fit_s": best[fastest]["fit_s"],
                "dais_score_s": {walk: b["score_s"] for walk, b in best.items()},
                "score_speedup": {walk: min(sk_score) / b["score_s"] for walk, b in best.items()},
                "dais_walk": fastest, "dais_forest_heap_bytes": any_run["heap_bytes"],
                "real_splits": any_run["real_splits"], "split_slots": any_run["split_slots"],
            }
            print(f"{d} features, {rows} rows, 100 trees, psi 256, one core, best of {rounds} alternating rounds:")
            print(f"  fit:   scikit-learn {min(sk_fit) * 1e3:7.1f} ms   DAIS {best[fastest]['fit_s'] * 1e3:7.1f} ms   "
                  f"{min(sk_fit) / best[fastest]['fit_s']:5.1f}x faster")
            for walk in walks:
                used = " (the one DAIS uses here)" if walk == fastest else ""
                print(f"  score: scikit-learn {min(sk_score) * 1e3:7.1f} ms   DAIS {best[walk]['score_s'] * 1e3:7.1f} ms   "
                      f"{min(sk_score) / best[walk]['score_s']:5.1f}x faster, {walk} walk{used}")
            print(f"  DAIS forest: {any_run['heap_bytes']} heap bytes; {any_run['real_splits']} real splits in "
                  f"{any_run['split_slots']} slots")
    print(f"scikit-learn {__import__('sklearn').__version__}, numpy {np.__version__}")
    return results


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
    if command == "timing":
        timing(rounds=int(sys.argv[2]) if len(sys.argv) > 2 else 7)
    elif command == "fixtures":
        fixtures()
    else:
        raise SystemExit(f"unknown command {command!r}: use fixtures or timing [ROUNDS]")
