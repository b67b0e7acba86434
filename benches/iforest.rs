//! Isolation Forest fit and scoring: 100 trees, psi 256, 10 and 30 features, 100,000 standard-normal rows, one core.
//! Scoring runs with every walk this CPU has; the portable scalar walk is the in-run baseline.
//! `python3 tools/sklearn_parity.py timing` times scikit-learn and DAIS alternately on the same rows for the ratio.
//! `iforest_small` is the simulation's own shape: 8 rows a call, and a refit of the default detector.

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

/// What an agent does every tick: score its 8 samples with its own forest (50 trees, psi 128, 8 features, as the
/// default detector). Once with one forest, hot in cache, and once going round 1,000 agents' forests, as a tick of
/// 1,000 agents does, where the forest is out of cache by the agent's next turn.
fn small_batches(c: &mut Criterion) {
    const FEATURES: usize = 8;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let window: Vec<f32> = (0..256 * FEATURES)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let params = ForestParams {
        trees: 50,
        subsample: 128,
        contamination: Contamination::Fraction(0.01),
    };
    let forests: Vec<IsolationForest> = (0..1_000)
        .map(|_| IsolationForest::fit(&window, FEATURES, params, &mut rng))
        .collect();
    let batch = &window[..8 * FEATURES];
    let mut scores = Vec::with_capacity(8);
    let mut group = c.benchmark_group("iforest_small");
    group.sample_size(20);
    group.throughput(Throughput::Elements(8));
    for &walk in Walk::supported() {
        group.bench_function(format!("score_8_rows_hot_{}", walk.name()), |b| {
            b.iter(|| forests[0].score_into_with(batch, &mut scores, walk));
        });
        if walk == Walk::fastest() {
            // The same forest, hot, without the prefetch a small population's agents skip.
            group.bench_function(format!("score_8_rows_hot_cached_{}", walk.name()), |b| {
                b.iter(|| forests[0].score_into_cached(batch, &mut scores));
            });
        }
        let mut next = 0;
        group.bench_function(format!("score_8_rows_1000_forests_{}", walk.name()), |b| {
            b.iter(|| {
                next = (next + 1) % forests.len();
                forests[next].score_into_with(batch, &mut scores, walk)
            });
        });
    }
    group.throughput(Throughput::Elements(1));
    let mut forest = forests[0].clone();
    group.bench_function("refit_default_detector", |b| {
        b.iter(|| forest.refit(&window, FEATURES, params, &mut rng));
    });
    group.finish();
}

criterion_group!(benches, iforest, small_batches);
criterion_main!(benches);
