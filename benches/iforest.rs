//! Isolation Forest fit and scoring: 100 trees, psi 256, 10 and 30 features, 100,000 standard-normal rows, one core.
//! Scoring runs with every walk this CPU has; the portable scalar walk is the in-run baseline.
//! `python3 tools/sklearn_parity.py timing` times scikit-learn and DAIS alternately on the same rows for the ratio.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dais::ml::{Contamination, ForestParams, IsolationForest, Walk};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const ROWS: usize = 100_000;

fn data(features: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    (0..ROWS * features)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect()
}

fn params() -> ForestParams {
    ForestParams {
        trees: 100,
        subsample: 256,
        contamination: Contamination::Auto,
    }
}

fn iforest(c: &mut Criterion) {
    let mut group = c.benchmark_group("iforest");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for features in [10usize, 30] {
        let rows = data(features);
        group.throughput(Throughput::Elements(ROWS as u64));
        group.bench_with_input(BenchmarkId::new("fit", features), &features, |b, &f| {
            b.iter(|| IsolationForest::fit(&rows, f, params(), &mut ChaCha8Rng::seed_from_u64(7)));
        });
        let forest =
            IsolationForest::fit(&rows, features, params(), &mut ChaCha8Rng::seed_from_u64(7));
        eprintln!(
            "forest of {features} features: {} nodes, {} heap bytes",
            forest.node_count(),
            forest.heap_bytes()
        );
        let mut scores = Vec::with_capacity(ROWS);
        // Every walk this CPU runs, the portable scalar walk first as the in-run baseline.
        for &walk in Walk::supported() {
            group.bench_with_input(
                BenchmarkId::new(format!("score_100k_rows_{}", walk.name()), features),
                &features,
                |b, _| {
                    b.iter(|| forest.score_into_with(&rows, &mut scores, walk));
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, iforest);
criterion_main!(benches);
