//! Reading flow records: rows per second through the CSV reader alone, through the config pass (`flows::resolve`:
//! parse, count bad cells, benign statistics, digest) and through the run's reader (parse, standardise, project).
//! The file is tools/cicflow_sample.py's (85 CIC-IDS2017 columns, 80 of them numeric), so python3 must be on PATH.
//! Throughput is reported in rows: criterion's "elem/s".

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dais::config::{FlowSource, SimConfig, TrafficSource};

const ROWS: u64 = 100_000;

fn sample_file() -> PathBuf {
    let path = std::env::temp_dir().join(format!("dais-bench-flows-{ROWS}.csv"));
    if !path.exists() {
        let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/cicflow_sample.py");
        let status = std::process::Command::new("python3")
            .arg(tool)
            .args(["--rows", &ROWS.to_string(), "--out"])
            .arg(&path)
            .status()
            .expect("python3 runs tools/cicflow_sample.py");
        assert!(status.success());
    }
    path
}

fn config_for(path: &Path) -> SimConfig {
    let mut config = SimConfig::default();
    // One tick reads every row.
    config.simulation.agents = ROWS as usize / 8;
    config.simulation.samples_per_tick = 8;
    config.simulation.steps = 1;
    config.traffic.source = TrafficSource::Flows(Box::new(FlowSource {
        path: path.display().to_string(),
        ..FlowSource::default()
    }));
    config
}

fn flows(c: &mut Criterion) {
    let path = sample_file();
    let mut group = c.benchmark_group("flows");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("csv_records", |b| {
        b.iter(|| {
            let mut rows = dais::flows::CsvRows::open(&path).unwrap();
            let mut n = 0u64;
            while rows.next_row().unwrap().is_some() {
                n += 1;
            }
            assert_eq!(n, ROWS);
        })
    });
    group.bench_function("resolve", |b| {
        b.iter(|| {
            let mut config = config_for(&path);
            dais::flows::resolve(&mut config).unwrap();
        })
    });
    let mut resolved = config_for(&path);
    dais::flows::resolve(&mut resolved).unwrap();
    let TrafficSource::Flows(source) = &resolved.traffic.source else {
        unreachable!()
    };
    group.bench_function("run_reader", |b| {
        b.iter(|| {
            let mut reader = dais::flows::FlowReader::open(source).unwrap();
            let mut n = 0u64;
            while reader.next_row().unwrap().is_some() {
                n += 1;
            }
            assert_eq!(n, ROWS);
        })
    });
    // As the simulation's feed reads: a block of records at a time, converted in parallel on the task pool.
    let pool = bevy::tasks::ComputeTaskPool::get_or_init(bevy::tasks::TaskPool::default);
    group.bench_function("run_reader_parallel", |b| {
        use bevy::tasks::ParallelSlice;
        let mut records = vec![csv::ByteRecord::new(); 4096];
        b.iter(|| {
            let mut reader = dais::flows::FlowReader::open(source).unwrap();
            let mut n = 0u64;
            loop {
                let read = reader.read_records(&mut records).unwrap();
                if read == 0 {
                    break;
                }
                let reader = &reader;
                let rows = (&records[..read]).par_splat_map(pool, None, |_, chunk| {
                    let rows: Vec<_> = chunk.iter().map(|r| reader.convert(r).unwrap()).collect();
                    rows.len()
                });
                n += rows.iter().sum::<usize>() as u64;
            }
            assert_eq!(n, ROWS);
        })
    });
    group.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
