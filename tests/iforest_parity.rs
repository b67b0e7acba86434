//! Our Isolation Forest against scikit-learn's, from fixtures written by `tools/sklearn_parity.py`.

use dais::ml::evaluate::roc_auc;
use dais::ml::iforest::SklearnTree;
use dais::ml::{Contamination, ForestParams, IsolationForest, Walk};
use rand::SeedableRng;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    exact: Vec<Exact>,
    statistical: Vec<Statistical>,
}

#[derive(Deserialize)]
struct Exact {
    name: String,
    features: usize,
    max_samples: usize,
    offset: f64,
    trees: Vec<SklearnTree>,
    test: Vec<Vec<f64>>,
    score_samples: Vec<f64>,
    decision_function: Vec<f64>,
    predict: Vec<i32>,
}

#[derive(Deserialize)]
struct Statistical {
    name: String,
    features: usize,
    x: Vec<Vec<f64>>,
    y: Vec<u8>,
    sklearn_auc: Vec<f64>,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/iforest_parity.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// scikit-learn casts inputs to float32 before walking its trees; so do we.
fn as_f32_rows(rows: &[Vec<f64>]) -> Vec<f32> {
    rows.iter().flatten().map(|&v| v as f32).collect()
}

#[test]
fn loaded_trees_reproduce_score_samples_and_predictions() {
    let fixture = fixture();
    assert!(fixture.exact.len() >= 4);
    let mut shapes = Vec::new();
    for case in &fixture.exact {
        let forest = IsolationForest::from_sklearn_trees(
            &case.trees,
            case.features,
            case.max_samples,
            case.offset,
        );
        let rows = as_f32_rows(&case.test);
        // Every batch walk this CPU runs must reproduce scikit-learn, not only the one `score_rows` picks.
        for &walk in Walk::supported() {
            let mut scores = Vec::new();
            forest.score_into_with(&rows, &mut scores, walk);
            for (i, row) in rows.chunks_exact(case.features).enumerate() {
                let ours = -scores[i];
                assert!(
                    (ours - case.score_samples[i]).abs() < 1e-9,
                    "{} row {i} ({walk:?} walk): {ours} vs {}",
                    case.name,
                    case.score_samples[i]
                );
                assert!(
                    (ours - case.offset - case.decision_function[i]).abs() < 1e-9,
                    "{} row {i}",
                    case.name
                );
                let predicted = if forest.is_anomaly(row) { -1 } else { 1 };
                assert_eq!(predicted, case.predict[i], "{} row {i}", case.name);
                assert_eq!(
                    forest.score(row),
                    scores[i],
                    "single and batch scoring agree"
                );
            }
        }
        shapes.push((case.features, case.max_samples));
    }
    // The fixture covers 2 to 30 features, psi 64, 256 and a small-data psi below 256.
    assert!(shapes.iter().any(|s| s.0 == 2) && shapes.iter().any(|s| s.0 == 30));
    assert!(
        shapes.iter().any(|s| s.1 == 64)
            && shapes.iter().any(|s| s.1 == 256)
            && shapes.iter().any(|s| s.1 < 256 && s.1 != 64)
    );
}

#[test]
fn seeded_fits_rank_as_well_as_scikit_learn() {
    for case in fixture().statistical {
        let rows = as_f32_rows(&case.x);
        let labels: Vec<bool> = case.y.iter().map(|&y| y == 1).collect();
        let ours: Vec<f64> = (0..10u64)
            .map(|seed| {
                let params = ForestParams {
                    trees: 100,
                    subsample: 256,
                    contamination: Contamination::Auto,
                };
                let forest = IsolationForest::fit(
                    &rows,
                    case.features,
                    params,
                    &mut rand::rngs::ChaCha8Rng::seed_from_u64(seed),
                );
                roc_auc(&forest.score_rows(&rows), &labels).unwrap()
            })
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (ours, theirs) = (mean(&ours), mean(&case.sklearn_auc));
        assert!(
            (ours - theirs).abs() < 0.02,
            "{}: our mean AUC {ours:.4}, scikit-learn's {theirs:.4}",
            case.name
        );
        eprintln!(
            "{}: mean ROC AUC over 10 seeds: ours {ours:.4}, scikit-learn {theirs:.4}",
            case.name
        );
    }
}
