//! Memory the machine has and the run used: what the refusal before a big run compares its estimate with
//! (`sim::estimate`), and the peak the run reports at the end, so a user sees how good the estimate was.

use crate::sim::estimate::{MemoryEstimate, human_bytes};

/// Bytes this process may still use: the kernel's MemAvailable plus what the process already holds, capped by a
/// cgroup (v2) memory limit when one is set (a container or a Slurm job). None where neither can be read.
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let machine = meminfo
        .as_deref()
        .and_then(|text| kib_field(text, "MemAvailable:"));
    let cgroup = cgroup_room();
    match (machine, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Room under this process's cgroup v2 limit, if it has one.
fn cgroup_room() -> Option<u64> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = membership.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let limit = std::fs::read_to_string(dir.join("memory.max")).ok()?;
    let limit: u64 = limit.trim().parse().ok()?; // "max" means no limit
    let used: u64 = std::fs::read_to_string(dir.join("memory.current"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(limit.saturating_sub(used))
}

/// The most resident memory this process has held so far (VmHWM), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmHWM:")
}

/// A `Name:   1234 kB` field of a /proc file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The one line that refuses a run whose estimate exceeds `available`: the estimate, its two largest parts and the
/// keys that shrink them. (`dais run` adds how to run it anyway.)
pub fn refusal(estimate: &MemoryEstimate, available: u64) -> Option<String> {
    let total = estimate.total();
    if total <= available {
        return None;
    }
    let largest = estimate.largest();
    let parts: Vec<String> = largest
        .iter()
        .take(2)
        .map(|p| {
            format!(
                "{} {} (shrink with {})",
                p.name,
                human_bytes(p.bytes),
                p.shrink_with
            )
        })
        .collect();
    Some(format!(
        "this run would need about {} of memory, but {} is available: {}; `dais config show --estimate` \
         gives the breakdown",
        human_bytes(total),
        human_bytes(available),
        parts.join(", ")
    ))
}

/// How many of the runs planned at `planned` bytes each fit in `available` at once, up to `jobs`: the largest runs
/// side by side, the process's own runtime counted once. At least one, so that a sweep always moves (a run that
/// cannot fit alone is refused by itself).
pub fn jobs_that_fit(planned: &[u64], jobs: usize, available: u64) -> usize {
    let runtime = crate::sim::estimate::RUNTIME_BYTES;
    let mut largest: Vec<u64> = planned
        .iter()
        .map(|&p| p.saturating_sub(runtime))
        .filter(|&p| p + runtime <= available)
        .collect();
    largest.sort_unstable_by(|a, b| b.cmp(a));
    let mut used = runtime;
    let mut fit = 0;
    for bytes in largest.into_iter().take(jobs) {
        if used + bytes > available {
            break;
        }
        used += bytes;
        fit += 1;
    }
    fit.clamp(1, jobs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::estimate::MemoryPart;

    #[test]
    fn as_many_jobs_run_at_once_as_the_largest_runs_fit() {
        let runtime = crate::sim::estimate::RUNTIME_BYTES;
        let gib = 1u64 << 30;
        let runs = [
            runtime + 3 * gib,
            runtime + gib,
            runtime + 5 * gib,
            runtime + gib,
        ];
        // 5 + 3 = 8 GiB fit in 9; a third (1 GiB more) does too only if the largest three fit.
        assert_eq!(jobs_that_fit(&runs, 4, runtime + 9 * gib), 3);
        assert_eq!(jobs_that_fit(&runs, 4, runtime + 8 * gib), 2);
        assert_eq!(jobs_that_fit(&runs, 2, runtime + 100 * gib), 2);
        // The 5 GiB run fits nowhere and is left to refuse itself; 3 + 1 of the rest fit side by side.
        assert_eq!(jobs_that_fit(&runs, 4, runtime + 4 * gib), 2);
        assert_eq!(jobs_that_fit(&runs, 4, runtime + 3 * gib), 1);
        assert_eq!(
            jobs_that_fit(&[runtime + 50 * gib, runtime + gib], 2, runtime + 3 * gib),
            1
        );
    }

    #[test]
    fn proc_fields_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(kib_field(text, "MemAvailable:"), Some(20_000_000 * 1024));
        assert_eq!(kib_field(text, "VmHWM:"), None);
        assert!(peak_rss_bytes().is_some_and(|b| b > 1 << 20));
        assert!(available_bytes().is_some_and(|b| b > 1 << 20));
    }

    #[test]
    fn the_refusal_names_the_total_and_the_two_largest_parts_with_their_knobs() {
        let part = |name, bytes, shrink_with| MemoryPart {
            name,
            bytes,
            shrink_with,
        };
        let estimate = MemoryEstimate {
            parts: vec![
                part("runtime", 10 << 20, "nothing"),
                part("live signatures", 30 << 30, "consensus.rule"),
                part("forests", 5 << 30, "detector.trees"),
            ],
            live_signatures: 800,
            reached_at_burst: 1600,
            burst_tick: 60,
        };
        assert_eq!(refusal(&estimate, 64 << 30), None);
        let line = refusal(&estimate, 20 << 30).unwrap();
        assert!(
            line.starts_with(
                "this run would need about 35.0 GiB of memory, but 20.0 GiB is available"
            ),
            "{line}"
        );
        assert!(
            line.contains("live signatures 30.0 GiB (shrink with consensus.rule), forests 5.0 GiB")
        );
        assert!(!line.contains("runtime"));
        assert!(
            line.ends_with("`dais config show --estimate` gives the breakdown"),
            "{line}"
        );
    }
}
