//! The Slurm test: a sweep submitted with `dais sweep slurm --submit` to a real Slurm cluster, four array tasks and
//! a report job after them, gives the same runs.csv as the same sweep run here. `.ci/run` starts a one-node cluster
//! on loopback (scripts/slurm-local) and sets CI_REQUIRE_SLURM=1, so there a missing cluster fails the test;
//! elsewhere the test says it is skipped unless a cluster answers `sinfo`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{dais, write_file};

const SWEEP: &str = r#"(
    base: Scenario("default"),
    set: [("simulation.agents", "24"), ("simulation.steps", "60")],
    vary: [
        (key: "consensus.rule", values: List(["majority", "bft"])),
        (key: "faults.byzantine_fraction", values: List(["0.0", "0.3"])),
    ],
    seeds: Count(3),
)"#;

fn slurm_answers() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

/// Whether any of `jobs` is still queued or running.
fn pending(jobs: &[&str]) -> bool {
    let output = Command::new("squeue")
        .args(["-h", "-o", "%i %T", "-j", &jobs.join(",")])
        .output()
        .expect("squeue runs");
    // squeue forgets a job some time after it ends, and then refuses its id: nothing is pending.
    output.status.success() && !String::from_utf8_lossy(&output.stdout).trim().is_empty()
}

fn logs(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir.join("slurm"))
        .into_iter()
        .flatten()
        .flatten()
    {
        text += &format!(
            "--- {}\n{}\n",
            entry.path().display(),
            std::fs::read_to_string(entry.path()).unwrap_or_default()
        );
    }
    text
}

#[test]
fn a_sweep_on_slurm_equals_the_same_sweep_run_here() {
    if !slurm_answers() {
        assert!(
            std::env::var_os("CI_REQUIRE_SLURM").is_none(),
            "CI_REQUIRE_SLURM is set but no Slurm cluster answers sinfo (is SLURM_CONF exported?)"
        );
        eprintln!("skipped: no Slurm cluster answers sinfo (scripts/slurm-local start makes one)");
        return;
    }
    // The jobs run this test's binary in this folder, so it must be one every node can see: here, one node.
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "sweep.ron", SWEEP);
    let on_slurm = dir.path().join("slurm-out");
    let submitted = dais(&[
        "sweep",
        "slurm",
        &file,
        "--out",
        on_slurm.to_str().unwrap(),
        "--shards",
        "4",
        "--time",
        "00:10:00",
        "--submit",
    ]);
    assert!(submitted.status.success(), "{submitted:?}");
    let stdout = String::from_utf8_lossy(&submitted.stdout);
    let ids: Vec<&str> = stdout.lines().last().unwrap().split(' ').collect();
    assert_eq!(ids.len(), 2, "{stdout}");
    let script = std::fs::read_to_string(on_slurm.join("sweep.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3"), "{script}");

    let started = Instant::now();
    while pending(&ids) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the jobs did not finish in 5 minutes\n{}",
            logs(&on_slurm)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // The report job ran after the array (afterok): it merged the four shards and wrote the report.
    for shard in 0..4 {
        assert!(
            on_slurm.join(format!("runs-shard-{shard}.csv")).exists(),
            "{}",
            logs(&on_slurm)
        );
    }
    assert!(
        on_slurm.join("report.csv").exists(),
        "no report\n{}",
        logs(&on_slurm)
    );
    assert!(
        on_slurm
            .join("plots")
            .join("signatures_accepted_false.png")
            .exists()
    );

    let here = dir.path().join("here");
    let local = dais(&["sweep", &file, "--out", here.to_str().unwrap(), "--quiet"]);
    assert!(local.status.success(), "{local:?}");
    let rows = common::runs_without_timing(&on_slurm.join("runs.csv"));
    assert_eq!(rows.len(), 12);
    assert_eq!(rows, common::runs_without_timing(&here.join("runs.csv")));
}
