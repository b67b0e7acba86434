//! Isolation Forest fit and scoring: 100 trees, psi 256, 10 and 30 features, 100,000 standard-normal rows, one core.
//! Scoring runs with the fastest walk this CPU has and, as the in-run baseline, with the portable scalar walk.
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
        group.bench_with_input(
            BenchmarkId::new(
                format!("score_100k_rows_{}", Walk::fastest().name()),
                features,
            ),
            &features,
            |b, _| {
                b.iter(|| forest.score_into(&rows, &mut scores));
            },
        );
        if Walk::fastest() != Walk::Scalar {
            group.bench_with_input(
                BenchmarkId::new("score_100k_rows_scalar", features),
                &features,
                |b, _| {
                    b.iter(|| forest.score_into_with(&rows, &mut scores, Walk::Scalar));
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, iforest);
criterion_main!(benches);
