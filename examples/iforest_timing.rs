//! Times DAIS's Isolation Forest fit and batch scoring on one core and prints the best of several runs, for
//! `tools/sklearn_parity.py timing`, which times scikit-learn on the same rows and prints the ratio.
//!
//!     cargo run --release --no-default-features --example iforest_timing -- [ROWS.f32 FEATURES] [--repeats N]
//!         [--walk NAME]
//!
//! ROWS.f32 holds row-major little-endian f32 values; without it, 100,000 standard-normal rows of 10 features are
//! generated. Prints one JSON line: {"features", "rows", "fit_s", "score_s", "heap_bytes", "walk"}, with the best
//! fit and scoring times over the repeats.

use std::time::Instant;

use dais::ml::{ForestParams, IsolationForest, Walk};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut repeats = 5usize;
    let mut walk = Walk::fastest();
    let mut params = ForestParams::default();
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--repeats" => {
                repeats = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| fail("--repeats needs a whole number"))
            }
            "--trees" | "--subsample" => {
                let value = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&v: &usize| v > 0)
                    .unwrap_or_else(|| fail(&format!("{arg} needs a positive whole number")));
                if arg == "--trees" {
                    params.trees = value;
                } else {
                    params.subsample = value;
                }
            }
            "--walk" => {
                let name = it.next().map(String::as_str).unwrap_or("");
                walk = *Walk::supported()
                    .iter()
                    .find(|w| w.name() == name)
                    .unwrap_or_else(|| {
                        let names: Vec<_> = Walk::supported().iter().map(|w| w.name()).collect();
                        fail(&format!(
                            "--walk takes one of this CPU's walks: {}",
                            names.join(", ")
                        ))
                    });
            }
            "--help" | "-h" => {
                println!(
                    "usage: iforest_timing [ROWS.f32 FEATURES] [--repeats N] [--walk NAME] [--trees 100] [--subsample 256]"
                );
                return;
            }
            _ => positional.push(arg.clone()),
        }
    }
    let (rows, features) = match positional.as_slice() {
        [] => {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let rows: Vec<f32> = (0..100_000 * 10)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect();
            (rows, 10)
        }
        [path, features] => {
            let features: usize = features
                .parse()
                .ok()
                .filter(|&f| f > 0)
                .unwrap_or_else(|| fail("FEATURES must be a positive whole number"));
            let bytes = std::fs::read(path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
            if bytes.len() % (4 * features) != 0 || bytes.is_empty() {
                fail(&format!(
                    "{path}: {} bytes is not whole rows of {features} f32 values",
                    bytes.len()
                ));
            }
            let rows = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (rows, features)
        }
        _ => fail("expected ROWS.f32 FEATURES, or nothing"),
    };
    let n = rows.len() / features;
    let mut fit_s = f64::INFINITY;
    let mut score_s = f64::INFINITY;
    let mut scores = Vec::with_capacity(n);
    let mut heap_bytes = 0;
    let mut slots = (0, 0);
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let forest =
            IsolationForest::fit(&rows, features, params, &mut ChaCha8Rng::seed_from_u64(7));
        fit_s = fit_s.min(started.elapsed().as_secs_f64());
        heap_bytes = forest.heap_bytes();
        slots = (forest.real_split_count(), forest.node_count());
        let started = Instant::now();
        forest.score_into_with(&rows, &mut scores, walk);
        score_s = score_s.min(started.elapsed().as_secs_f64());
        std::hint::black_box(&scores);
    }
    println!(
        "{{\"features\": {features}, \"rows\": {n}, \"fit_s\": {fit_s}, \"score_s\": {score_s}, \"heap_bytes\": {heap_bytes}, \"walk\": \"{}\", \"real_splits\": {}, \"split_slots\": {}, \"supported_walks\": [{}]}}",
        walk.name(),
        slots.0,
        slots.1,
        Walk::supported()
            .iter()
            .map(|w| format!("\"{}\"", w.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn fail(message: &str) -> ! {
    eprintln!("iforest_timing: {message}");
    std::process::exit(2);
}
