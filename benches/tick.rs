//! Tick throughput of the default scenario at 100, 1,000 and 10,000 agents (release, all cores).
//! Each simulation is warmed up past the detector warm-up and the campaign start, so the measured ticks do the full
//! work: scoring, signing, gossip, voting and retraining.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dais::config::SimConfig;
use dais::ledger::DiscardSink;
use dais::sim::Simulation;

fn warmed_simulation(agents: usize, warm_ticks: u32) -> Simulation {
    let mut config = SimConfig::default();
    config.simulation.agents = agents;
    config.simulation.steps = 1_000_000;
    let mut simulation = Simulation::new(config, Box::new(DiscardSink));
    for _ in 0..warm_ticks {
        simulation.step();
    }
    simulation
}

fn tick_throughput(c: &mut Criterion) {
    dais::headless::init_threads(None);
    let mut group = c.benchmark_group("tick");
    group.throughput(Throughput::Elements(1));
    for (agents, samples, seconds) in [(100usize, 50usize, 5u64), (1_000, 20, 10), (10_000, 10, 30)]
    {
        group
            .sample_size(samples)
            .measurement_time(Duration::from_secs(seconds));
        let mut simulation = warmed_simulation(agents, 60);
        group.bench_with_input(
            BenchmarkId::new("default_scenario", agents),
            &agents,
            |b, _| {
                b.iter(|| simulation.step());
            },
        );
    }
    group.finish();
}

criterion_group!(benches, tick_throughput);
criterion_main!(benches);
