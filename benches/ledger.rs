//! Ledger throughput and replay seeking.
//! - `ledger_insert`: rows per second through `SqliteLedger` (writer thread, one transaction per tick), including
//!   hashing every row into the chain and waiting for the writer to finish.
//! - `replay_seek`: random access to frames of a 1,000-agent x 1,000-tick recording.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dais::config::SimConfig;
use dais::ledger::sqlite::SqliteLedger;
use dais::ledger::{AgentRow, BallotRow, Frame, LedgerSink, RunInfo, TickRecord};
use rand::{RngExt, SeedableRng};

const TICKS: u32 = 20;
const BALLOTS_PER_TICK: u32 = 10_000;

fn tick(tick: u32) -> TickRecord {
    TickRecord {
        interventions: Vec::new(),
        tick,
        state_hash: format!("{tick:064}"),
        signatures: vec![],
        ballots: (0..BALLOTS_PER_TICK)
            .map(|v| BallotRow {
                sig: tick,
                voter: v,
                yes: v % 3 != 0,
            })
            .collect(),
        decisions: vec![],
        outcomes: vec![],
        metrics: Default::default(),
        frame: Frame::default(),
        closing: None,
    }
}

fn insert_rate(c: &mut Criterion) {
    let records: Vec<TickRecord> = (1..=TICKS).map(tick).collect();
    let run = RunInfo {
        config_ron: "()".into(),
        config_hash: String::new(),
        seed: 0,
        version: String::new(),
        agents: vec![AgentRow {
            index: 0,
            role: "honest".into(),
            neighbours: vec![],
        }],
    };
    let mut group = c.benchmark_group("ledger_insert");
    group.throughput(Throughput::Elements(u64::from(TICKS * BALLOTS_PER_TICK)));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("ballot_rows_batched_per_tick", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let batch = records.clone();
                let start = Instant::now();
                let mut ledger = SqliteLedger::create(&dir.path().join("bench.db")).unwrap();
                ledger.begin(&run).unwrap();
                for record in batch {
                    ledger.append(record).unwrap();
                }
                ledger.finish().unwrap();
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

fn replay_seek(c: &mut Criterion) {
    dais::headless::init_threads(None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recording.db");
    let mut config = SimConfig::default();
    config.simulation.agents = 1_000;
    config.simulation.steps = 1_000;
    let options = dais::headless::RunOptions {
        quiet: true,
        ..Default::default()
    };
    let sink = Box::new(SqliteLedger::create(&path).unwrap());
    dais::headless::run(config, sink, &options, Default::default()).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "1,000 agents x 1,000 ticks recording: {size} bytes ({:.1} MiB)",
        size as f64 / 1_048_576.0
    );
    let source = dais::replay::ReplaySource::open(&path).unwrap();
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(1);
    c.bench_function("replay_seek/random_tick_1000x1000", |b| {
        b.iter(|| source.frame(rng.random_range(1..=1_000)).unwrap());
    });
}

criterion_group!(benches, insert_rate, replay_seek);
criterion_main!(benches);
