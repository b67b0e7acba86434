//! `dais sweep slurm FILE --out DIR`: the sweep as Slurm jobs. `DIR/sweep.sbatch` is a job array with one task per
//! shard (each runs `dais sweep FILE --shard auto`); `DIR/report.sbatch` merges the shards and reports, submitted
//! with `--dependency=afterok` on the array so it starts once every shard has finished. `DIR/submit.sh` submits
//! both by hand; `--submit` does the same and returns the job ids.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::set::Setting;
use crate::experiment::sweep::{SweepError, SweepFile};

#[derive(Debug, Clone)]
pub struct SlurmOptions {
    pub out: PathBuf,
    pub settings: Vec<Setting>,
    /// Array tasks; `None`: one per 10 runs, at most 100.
    pub shards: Option<usize>,
    pub partition: Option<String>,
    pub time: String,
    pub cpus_per_task: u32,
    pub max_parallel: Option<u32>,
    /// The `dais` the jobs run (this binary, which must be on storage the nodes share).
    pub binary: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0:?} cannot be quoted for a shell script (it holds a NUL byte)")]
    Unquotable(String),
    #[error("--time {0:?}: expected a Slurm time limit such as 30, 01:00:00 or 1-12:00:00")]
    BadTime(String),
    #[error("cannot run sbatch: {0} (is Slurm installed, and this a login node?)")]
    NoSbatch(#[source] std::io::Error),
    #[error("sbatch {script} failed ({status}): {stderr}")]
    Sbatch {
        script: PathBuf,
        status: String,
        stderr: String,
    },
}

/// The scripts written, and their shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmPlan {
    pub array_script: PathBuf,
    pub report_script: PathBuf,
    pub submit_script: PathBuf,
    pub runs: usize,
    pub shards: usize,
}

/// Job ids from `--submit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub array_job: String,
    pub report_job: String,
}

fn quote(text: &str) -> Result<String, SlurmError> {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .map_err(|_| SlurmError::Unquotable(text.to_string()))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Slurm's time formats: minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S (checked here, so a typo fails before
/// submission rather than in sbatch's own words).
fn valid_time(text: &str) -> bool {
    let (days, rest) = match text.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, text),
    };
    let numbers = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    days.is_none_or(numbers) && rest.split(':').count() <= 3 && rest.split(':').all(numbers)
}

/// Writes the scripts for the sweep in `file`; validates the sweep (expanding it) first.
pub fn write_scripts(file: &Path, options: &SlurmOptions) -> Result<SlurmPlan, SlurmError> {
    if !valid_time(&options.time) {
        return Err(SlurmError::BadTime(options.time.clone()));
    }
    let runs = SweepFile::load(file, &options.settings)?.1.len();
    let shards = options
        .shards
        .unwrap_or(runs.div_ceil(10).clamp(1, 100))
        .min(runs);

    let out = absolute(&options.out);
    let logs = out.join("slurm");
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SlurmError::Write { path, source }
    };
    std::fs::create_dir_all(&logs).map_err(write_err(&logs))?;
    let dais = quote(&absolute(&options.binary).to_string_lossy())?;
    let sweep_file = quote(&absolute(file).to_string_lossy())?;
    let dir = quote(&out.to_string_lossy())?;
    let mut sets = String::new();
    for s in &options.settings {
        sets.push_str(&format!(
            " --set {}",
            quote(&format!("{}={}", s.key, s.value))?
        ));
    }
    let partition = match &options.partition {
        Some(p) => format!("#SBATCH --partition={}\n", quote(p)?),
        None => String::new(),
    };
    let throttle = options
        .max_parallel
        .map(|k| format!("%{k}"))
        .unwrap_or_default();
    let logs_q = quote(&logs.to_string_lossy())?;

    let array_script = out.join("sweep.sbatch");
    let array = format!(
        r#"#!/bin/bash
# Written by `dais sweep slurm`: one array task per shard of {file} ({runs} runs in {shards} shards).
# Submit with {dir}/submit.sh (this job, then report.sbatch after it), or `dais sweep slurm ... --submit`.
#SBATCH --job-name=dais-sweep
#SBATCH --array=0-{last}{throttle}
#SBATCH --cpus-per-task={cpus}
#SBATCH --time={time}
#SBATCH --output={logs_q}/shard-%a.out
{partition}set -uo pipefail

# Each task runs its shard's runs, as many at once as it has CPUs, into {dir}/runs-shard-$SLURM_ARRAY_TASK_ID.csv.
# A rerun of this array resumes: finished runs are skipped.
{dais} sweep {sweep_file} --out {dir} --shard auto --jobs "${{SLURM_CPUS_PER_TASK:-1}}" --quiet{sets}
status=$?
# 100-125: that many runs failed; their errors are rows of the shard's file, and the report still runs.
if [ "$status" -ge 100 ] && [ "$status" -le 125 ]; then
    echo "dais: $((status - 100)) runs of shard $SLURM_ARRAY_TASK_ID failed (see the error column)" >&2
    exit 0
fi
exit "$status"
"#,
        file = file.display(),
        last = shards - 1,
        cpus = options.cpus_per_task,
        time = options.time,
    );
    std::fs::write(&array_script, array).map_err(write_err(&array_script))?;

    let report_script = out.join("report.sbatch");
    let report = format!(
        r#"#!/bin/bash
# Written by `dais sweep slurm`: after every shard of sweep.sbatch, join the shards into runs.csv and report.
#SBATCH --job-name=dais-sweep-report
#SBATCH --cpus-per-task=1
#SBATCH --time=00:30:00
#SBATCH --output={logs_q}/report.out
{partition}set -euo pipefail
{dais} sweep merge {dir}
{dais} sweep report {dir}
"#
    );
    std::fs::write(&report_script, report).map_err(write_err(&report_script))?;

    let submit_script = out.join("submit.sh");
    let submit = format!(
        r#"#!/bin/bash
# Written by `dais sweep slurm`: the array job, then the report once every task has succeeded.
set -euo pipefail
array=$(sbatch --parsable {array})
report=$(sbatch --parsable --dependency=afterok:"${{array%%;*}}" {report})
echo "submitted array job $array and report job $report; watch with: squeue -u $USER"
"#,
        array = quote(&array_script.to_string_lossy())?,
        report = quote(&report_script.to_string_lossy())?,
    );
    std::fs::write(&submit_script, submit).map_err(write_err(&submit_script))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&submit_script, std::fs::Permissions::from_mode(0o755));
    }
    Ok(SlurmPlan {
        array_script,
        report_script,
        submit_script,
        runs,
        shards,
    })
}

/// `sbatch --parsable [extra] script`, returning the job id (without a cluster name).
fn sbatch(script: &Path, extra: &[String]) -> Result<String, SlurmError> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .map_err(SlurmError::NoSbatch)?;
    if !output.status.success() {
        return Err(SlurmError::Sbatch {
            script: script.to_path_buf(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // --parsable prints "id" or "id;cluster".
    Ok(text.trim().split(';').next().unwrap_or("").to_string())
}

/// Submits the array, then the report with `afterok` on it.
pub fn submit(plan: &SlurmPlan) -> Result<Submitted, SlurmError> {
    let array_job = sbatch(&plan.array_script, &[])?;
    let report_job = sbatch(
        &plan.report_script,
        &[format!("--dependency=afterok:{array_job}")],
    )?;
    Ok(Submitted {
        array_job,
        report_job,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_time_limits_are_checked() {
        for ok in ["30", "01:00:00", "1-12", "1-12:00:00", "10:00"] {
            assert!(valid_time(ok), "{ok}");
        }
        for bad in ["", "1h", "1:2:3:4", "-1", "a-1"] {
            assert!(!valid_time(bad), "{bad}");
        }
    }
}
