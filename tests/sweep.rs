//! `dais sweep`: the same rows for any --jobs, resuming where an earlier invocation stopped, refusing a different
//! sweep in the same folder, and recording a failed run in its row while the sweep goes on.

mod common;

use std::path::Path;

use common::{dais, write_file};
use dais::experiment::sweep::SweepFile;

const SWEEP: &str = r#"(
    base: Scenario("default"),
    set: [("simulation.agents", "30"), ("simulation.steps", "80")],
    vary: [
        (key: "consensus.rule", values: List(["majority", "bft"])),
        (key: "faults.byzantine_fraction", values: List(["0.0", "0.2"])),
    ],
    seeds: Count(2),
)"#;

/// runs.csv's rows without how they were run (wall time, its ratio, the thread count), sorted: what must not depend
/// on --jobs. The state hashes are among what is compared.
fn rows_without_timing(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let timing: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, c)| ["wall_seconds", "ticks_per_second", "threads"].contains(c))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(timing.len(), 3, "{header:?}");
    let mut rows: Vec<String> = lines
        .map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(i, _)| !timing.contains(i))
                .map(|(_, c)| c)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    rows.sort();
    rows
}

fn sweep(file: &str, out: &Path, jobs: &str) -> std::process::Output {
    dais(&[
        "sweep",
        file,
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        jobs,
        "--quiet",
    ])
}

#[test]
fn any_number_of_jobs_gives_the_same_rows_and_a_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "sweep.ron", SWEEP);
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    assert!(sweep(&file, &one, "1").status.success());
    assert!(sweep(&file, &two, "2").status.success());
    let rows = rows_without_timing(&one);
    assert_eq!(rows.len(), 8, "2 rules x 2 fractions x 2 seeds");
    assert_eq!(rows, rows_without_timing(&two));
    assert!(
        rows.iter().all(|r| r.ends_with(',')),
        "no run failed: {rows:?}"
    );

    // Cut the last two rows, as a crash would, and run again: only those two are redone.
    let csv = two.join("runs.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let kept: Vec<&str> = text.lines().take(1 + 6).collect();
    std::fs::write(&csv, kept.join("\n") + "\n").unwrap();
    let again = sweep(&file, &two, "2");
    assert!(again.status.success());
    assert_eq!(rows_without_timing(&two), rows);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(two.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["runs"].as_array().unwrap().len(), 8);

    // --set on the command line changes every run, so it is another sweep: its own ids, its own folder.
    let set = dais(&[
        "sweep",
        &file,
        "--out",
        dir.path().join("set").to_str().unwrap(),
        "--set",
        "simulation.steps=60",
        "--quiet",
    ]);
    assert!(set.status.success());
    let set_csv = std::fs::read_to_string(dir.path().join("set").join("runs.csv")).unwrap();
    let header: Vec<&str> = set_csv.lines().next().unwrap().split(',').collect();
    let ticks = header.iter().position(|c| *c == "ticks").unwrap();
    assert!(
        set_csv
            .lines()
            .skip(1)
            .all(|l| l.split(',').nth(ticks) == Some("60"))
    );
    let bad = dais(&[
        "sweep",
        &file,
        "--out",
        dir.path().join("bad").to_str().unwrap(),
        "--set",
        "simulation.stepz=4",
    ]);
    common::assert_one_line_error(
        &bad,
        "sweep set: --set simulation.stepz: unknown key \"stepz\"",
    );

    // A different sweep in the same folder is refused in one line.
    let other = write_file(
        dir.path(),
        "other.ron",
        &SWEEP.replace("Count(2)", "Count(3)"),
    );
    let refused = sweep(&other, &two, "1");
    common::assert_one_line_error(&refused, "holds a different sweep");
}

#[test]
fn a_failed_run_is_a_row_with_its_error_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "sweep.ron", SWEEP);
    let runs = SweepFile::read(Path::new(&file))
        .unwrap()
        .expand(dir.path())
        .unwrap();
    let out = dir.path().join("out");
    // A file where the run's folder must go makes exactly that run fail.
    std::fs::create_dir_all(out.join("runs")).unwrap();
    std::fs::write(out.join("runs").join(&runs[3].id), "in the way").unwrap();
    let result = sweep(&file, &out, "2");
    assert_eq!(result.status.code(), Some(101), "one failed run: 100 + 1");
    let text = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let failed: Vec<&str> = text.lines().filter(|l| !l.ends_with(',')).skip(1).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].starts_with(&runs[3].id), "{}", failed[0]);
    assert!(failed[0].contains("cannot create"), "{}", failed[0]);
    assert_eq!(text.lines().count(), 1 + 8, "the other runs all finished");
}
