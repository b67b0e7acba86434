//! `dais sweep`: the same rows for any --jobs, resuming where an earlier invocation stopped, refusing a different
//! sweep in the same folder, and recording a failed run in its row while the sweep goes on.

mod common;

use std::path::Path;

use common::{dais, write_file};
use dais::experiment::sweep::SweepFile;
use dais::headless::sweep::table::RunsTable;

const SWEEP: &str = r#"(
    base: Scenario("default"),
    set: [("simulation.agents", "30"), ("simulation.steps", "80")],
    vary: [
        (key: "consensus.rule", values: List(["majority", "bft"])),
        (key: "faults.byzantine_fraction", values: List(["0.0", "0.2"])),
    ],
    seeds: Count(2),
)"#;

fn rows_without_timing(dir: &Path) -> Vec<Vec<String>> {
    common::runs_without_timing(&dir.join("runs.csv"))
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
        rows.iter().all(|r| r.last().unwrap().is_empty()),
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

#[test]
fn a_run_too_big_for_the_machine_is_a_failed_row_and_the_rest_run() {
    let dir = tempfile::tempdir().unwrap();
    // 1,000 trees for each of 100,000 agents plan over 70 GiB of forests; 30 agents of 50 trees plan a few MiB.
    let file = write_file(
        dir.path(),
        "sweep.ron",
        r#"(
            base: Scenario("default"),
            set: [("simulation.steps", "60"), ("detector.trees", "1000")],
            vary: [(key: "simulation.agents", values: List(["30", "100000"]))],
            seeds: Count(1),
        )"#,
    );
    let out = dir.path().join("out");
    let result = sweep(&file, &out, "2");
    assert_eq!(result.status.code(), Some(101), "one failed run: 100 + 1");
    let text = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    let failed: Vec<&str> = text.lines().filter(|l| !l.ends_with(',')).skip(1).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].contains("100000"), "{}", failed[0]);
    assert!(
        failed[0].contains("this run would need about"),
        "{}",
        failed[0]
    );
    assert_eq!(
        text.lines().count(),
        1 + 2,
        "the small run finished: {text}"
    );
}

#[test]
fn shards_merged_equal_an_unsharded_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "sweep.ron", SWEEP);
    let whole = dir.path().join("whole");
    assert!(sweep(&file, &whole, "2").status.success());
    let sharded = dir.path().join("sharded");
    let out = sharded.to_str().unwrap();
    // Shard 2 of 3 first, then 0; merging before shard 1 has run is refused, naming what is missing.
    for shard in ["2/3", "0/3"] {
        let run = dais(&["sweep", &file, "--out", out, "--shard", shard, "--quiet"]);
        assert!(run.status.success(), "{run:?}");
    }
    let early = dais(&["sweep", "merge", out]);
    common::assert_one_line_error(&early, "3 of 8 runs have no row in any shard");
    assert!(!sharded.join("runs.csv").exists(), "nothing merged");
    let partial = dais(&["sweep", "merge", out, "--partial"]);
    assert!(partial.status.success());
    assert_eq!(rows_without_timing(&sharded).len(), 5);

    // Slurm's environment picks the shard with --shard auto.
    let auto = common::dais_env(
        &["sweep", &file, "--out", out, "--shard", "auto", "--quiet"],
        &[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
    );
    assert!(auto.status.success(), "{auto:?}");
    assert_eq!(
        common::runs_without_timing(&sharded.join("runs-shard-1.csv")).len(),
        3
    );
    let merged = dais(&["sweep", "merge", out]);
    assert!(merged.status.success(), "{merged:?}");
    assert!(String::from_utf8_lossy(&merged.stdout).contains("8 of 8 runs (0 failed, 0 missing)"));
    assert_eq!(rows_without_timing(&sharded), rows_without_timing(&whole));
    // In expansion order, as the manifest lists the runs.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sharded.join("manifest.json")).unwrap())
            .unwrap();
    let expected: Vec<&str> = manifest["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let table = RunsTable::read(&sharded.join("runs.csv")).unwrap();
    let ids: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, expected);

    // A bad flag value is clap's usage error (status 2), naming the flag.
    let bad = dais(&["sweep", &file, "--out", out, "--shard", "3/3"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--shard 3/3: the index must be below the count"),
        "{bad:?}"
    );
    let no_env = dais(&["sweep", &file, "--out", out, "--shard", "auto"]);
    common::assert_one_line_error(&no_env, "found neither SLURM_ARRAY_TASK_ID");
}

/// The share of a PNG's pixels that are not the white background.
fn inked_fraction(path: &Path) -> f64 {
    let image = image::open(path).unwrap().to_rgb8();
    let inked = image.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    inked as f64 / (image.width() * image.height()) as f64
}

#[test]
fn a_report_aggregates_compares_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "sweep.ron", SWEEP);
    let out = dir.path().join("out");
    // --report: the sweep, then its report, in one command (the README's headline command).
    let report = dais(&[
        "sweep",
        &file,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--report",
    ]);
    assert!(report.status.success(), "{report:?}");
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert!(stdout.contains("signatures_accepted_false\n"), "{stdout}");
    assert!(stdout.contains("95% CI"), "{stdout}");
    assert!(stdout.contains("8 of 8 runs reported"), "{stdout}");

    // report.csv: one row per metric and cell, each over the cell's two seeds.
    let cells = RunsTable::read(&out.join("report.csv")).unwrap();
    let metric = cells.column("metric").unwrap();
    let n = cells.column("n").unwrap();
    let forged: Vec<&Vec<String>> = cells
        .rows
        .iter()
        .filter(|r| r[metric] == "signatures_accepted_false")
        .collect();
    assert_eq!(forged.len(), 4, "2 rules x 2 fractions");
    assert!(forged.iter().all(|r| r[n] == "2"));
    // The mean in report.csv is the mean of the runs.csv rows of that cell.
    let runs = RunsTable::read(&out.join("runs.csv")).unwrap();
    let (rule, fraction, value) = (
        runs.column("consensus.rule").unwrap(),
        runs.column("faults.byzantine_fraction").unwrap(),
        runs.column("signatures_accepted_false").unwrap(),
    );
    for row in &forged {
        let values: Vec<f64> = runs
            .rows
            .iter()
            .filter(|r| r[rule] == row[0] && r[fraction] == row[1])
            .map(|r| r[value].parse().unwrap())
            .collect();
        let mean: f64 = row[cells.column("mean").unwrap()].parse().unwrap();
        assert!((mean - values.iter().sum::<f64>() / 2.0).abs() < 1e-9);
    }

    // compare.csv: the rules compared at each fraction, the fractions within each rule.
    let compare = RunsTable::read(&out.join("compare.csv")).unwrap();
    let factor = compare.column("factor").unwrap();
    let compare_metric = compare.column("metric").unwrap();
    let for_forged = |f: &str| {
        compare
            .rows
            .iter()
            .filter(|r| r[compare_metric] == "signatures_accepted_false" && r[factor] == f)
            .count()
    };
    assert_eq!(for_forged("consensus.rule"), 2);
    assert_eq!(for_forged("faults.byzantine_fraction"), 2);
    for column in [
        "mann_whitney_p",
        "mann_whitney_p_holm",
        "welch_p",
        "cliffs_delta",
    ] {
        assert!(compare.column(column).is_some(), "{column}");
    }

    // One SVG and one PNG per metric, neither blank.
    let plots = out.join("plots");
    let png = plots.join("signatures_accepted_false.png");
    let inked = inked_fraction(&png);
    assert!(inked > 0.03 && inked < 0.9, "{inked}");
    let svg = std::fs::read_to_string(plots.join("signatures_accepted_false.svg")).unwrap();
    assert!(
        svg.contains("<polyline") || svg.contains("<path"),
        "no lines"
    );
    assert!(svg.contains("Forged signatures accepted"), "no title");
    assert!(svg.contains("consensus.rule = bft"), "no legend");

    // The table's numbers come from the rows alone: a second report (without plots) prints the same table.
    let again = dais(&["sweep", "report", out.to_str().unwrap(), "--no-plots"]);
    let table = |o: &std::process::Output| {
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        text[..text.find(" runs reported").unwrap()].to_string()
    };
    assert_eq!(table(&again), table(&report));
    let bad = dais(&[
        "sweep",
        "report",
        out.to_str().unwrap(),
        "--metric",
        "forged",
    ]);
    common::assert_one_line_error(&bad, "--metric \"forged\": runs.csv has no such column");
    let not_a_sweep = dais(&["sweep", "report", dir.path().to_str().unwrap()]);
    common::assert_one_line_error(&not_a_sweep, "is this a sweep's --out folder?");
}

#[cfg(unix)]
#[test]
fn a_sweep_stopped_by_sigint_keeps_its_rows_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    // Enough runs that the signal lands mid-sweep.
    let file = write_file(
        dir.path(),
        "sweep.ron",
        &SWEEP.replace("Count(2)", "Count(10)"),
    );
    let out = dir.path().join("out");
    let csv = out.join("runs.csv");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dais"))
        .args([
            "sweep",
            &file,
            "--out",
            out.to_str().unwrap(),
            "--jobs",
            "1",
            "--quiet",
        ])
        .spawn()
        .unwrap();
    let rows = || {
        std::fs::read_to_string(&csv)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    let started = std::time::Instant::now();
    while rows() < 2 {
        assert!(started.elapsed().as_secs() < 120, "no rows appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted");
    let kept = rows_without_timing(&out);
    assert!(kept.len() >= 2 && kept.len() < 40, "{} rows", kept.len());

    let again = sweep(&file, &out, "2");
    assert!(again.status.success(), "{again:?}");
    let all = rows_without_timing(&out);
    assert_eq!(all.len(), 40, "every run once");
    for row in &kept {
        assert!(all.contains(row), "a kept row changed");
    }
    let fresh = dir.path().join("fresh");
    assert!(sweep(&file, &fresh, "2").status.success());
    assert_eq!(all, rows_without_timing(&fresh));
}

/// The Kubernetes Job's shard command (deploy/kubernetes/sweep-job.yaml) is one this binary accepts, with its
/// `--shard-count` equal to the Job's `completions`; CI checks the manifests' schema with kubernetes-validate.
#[test]
fn the_kubernetes_job_runs_a_shard_per_completion_index() {
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/sweep-job.yaml"),
    )
    .unwrap();
    let value_after = |text: &str, needle: &str| -> String {
        let at = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} in the Job"));
        text[at + needle.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let command_line = yaml
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("dais sweep "))
        .unwrap();
    let completions = value_after(&yaml, "\n  completions:");
    assert_eq!(value_after(command_line, "--shard-count"), completions);

    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "sweep.ron", SWEEP);
    let data = dir.path().to_str().unwrap();
    let args: Vec<String> = command_line
        .replace("/data", data)
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let last = (completions.parse::<usize>().unwrap() - 1).to_string();
    let shard = common::dais_env(&args, &[("JOB_COMPLETION_INDEX", &last)]);
    assert!(shard.status.success(), "{shard:?}");
    // 8 runs over `completions` shards: the last index has its share.
    let rows = common::runs_without_timing(
        &dir.path()
            .join("out")
            .join(format!("runs-shard-{last}.csv")),
    );
    let expected = (0..8)
        .filter(|i| i % completions.parse::<usize>().unwrap() == last.parse::<usize>().unwrap())
        .count();
    assert_eq!(rows.len(), expected);
}
