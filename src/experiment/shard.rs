//! Shards: one slice of a sweep's expansion, so a cluster's array job can split the runs between its tasks. Shard
//! `I/N` takes runs I, I+N, I+2N, … of the expansion (I counts from 0, as Slurm's `--array=0-…` and Kubernetes'
//! completion index do), so every shard gets a similar mix of the design's cells.

use std::fmt;
use std::str::FromStr;

/// Which slice of the runs this process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// `--shard` as given: a fixed slice, or `auto` (from the cluster's environment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardFlag {
    Fixed(Shard),
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0:?}: expected I/N (I from 0 to N-1, e.g. 0/4) or auto")]
    Malformed(String),
    #[error(
        "--shard {index}/{count}: the index must be below the count (shards are numbered from 0)"
    )]
    OutOfRange { index: usize, count: usize },
    #[error(
        "--shard auto: found neither SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT (a Slurm job array) nor \
         JOB_COMPLETION_INDEX with --shard-count (a Kubernetes Indexed Job)"
    )]
    NoClusterEnvironment,
    #[error("--shard auto: {name}={value:?} is not a whole number")]
    BadVariable { name: &'static str, value: String },
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Self, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// Whether the run at this position of the expansion is this shard's.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// The file this shard's rows go to.
    pub fn csv_name(&self) -> String {
        format!("runs-shard-{}.csv", self.index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for ShardFlag {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "auto" {
            return Ok(ShardFlag::Auto);
        }
        let malformed = || ShardError::Malformed(text.to_string());
        let (index, count) = text.split_once('/').ok_or_else(malformed)?;
        let index = index.trim().parse().map_err(|_| malformed())?;
        let count = count.trim().parse().map_err(|_| malformed())?;
        Shard::new(index, count).map(ShardFlag::Fixed)
    }
}

impl ShardFlag {
    /// The shard this process does. `auto` reads a Slurm job array's task id and count (offset by the array's
    /// first id, so `--array=1-4` works too), else a Kubernetes Indexed Job's completion index with `shard_count`
    /// (`--shard-count`, the Job's `completions`). `env` is a lookup, so tests need not touch the process's
    /// environment.
    pub fn resolve(
        self,
        shard_count: Option<usize>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, ShardError> {
        let number = |name: &'static str| -> Result<Option<usize>, ShardError> {
            match env(name) {
                None => Ok(None),
                Some(value) => value
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| ShardError::BadVariable { name, value }),
            }
        };
        match self {
            ShardFlag::Fixed(shard) => Ok(shard),
            ShardFlag::Auto => {
                if let (Some(id), Some(count)) = (
                    number("SLURM_ARRAY_TASK_ID")?,
                    number("SLURM_ARRAY_TASK_COUNT")?,
                ) {
                    let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                    return Shard::new(id.saturating_sub(first), count);
                }
                if let (Some(index), Some(count)) = (number("JOB_COMPLETION_INDEX")?, shard_count) {
                    return Shard::new(index, count);
                }
                Err(ShardError::NoClusterEnvironment)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_fixed_shard_parses_and_takes_every_nth_run() {
        let ShardFlag::Fixed(shard) = "1/3".parse().unwrap() else {
            panic!("fixed")
        };
        let owned: Vec<usize> = (0..8).filter(|&i| shard.owns(i)).collect();
        assert_eq!(owned, vec![1, 4, 7]);
        assert_eq!(shard.csv_name(), "runs-shard-1.csv");
        assert_eq!("auto".parse::<ShardFlag>().unwrap(), ShardFlag::Auto);
    }

    #[test]
    fn shards_cover_every_run_once() {
        let count = 4;
        for position in 0..50 {
            let owners = (0..count)
                .filter(|&i| Shard::new(i, count).unwrap().owns(position))
                .count();
            assert_eq!(owners, 1);
        }
    }

    #[test]
    fn bad_shards_are_refused_with_the_flag_text() {
        for text in ["", "3", "a/4", "1/", "1/2/3"] {
            assert_eq!(
                text.parse::<ShardFlag>().unwrap_err(),
                ShardError::Malformed(text.into())
            );
        }
        assert_eq!(
            "4/4".parse::<ShardFlag>().unwrap_err(),
            ShardError::OutOfRange { index: 4, count: 4 }
        );
        assert!(matches!(
            "0/0".parse::<ShardFlag>(),
            Err(ShardError::OutOfRange { .. })
        ));
    }

    #[test]
    fn auto_reads_slurm_then_kubernetes() {
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            ShardFlag::Auto.resolve(None, slurm).unwrap(),
            Shard::new(2, 4).unwrap()
        );
        let one_based = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(
            ShardFlag::Auto.resolve(None, one_based).unwrap(),
            Shard::new(3, 4).unwrap()
        );
        let kubernetes = env(&[("JOB_COMPLETION_INDEX", "0")]);
        assert_eq!(
            ShardFlag::Auto.resolve(Some(3), &kubernetes).unwrap(),
            Shard::new(0, 3).unwrap()
        );
        assert_eq!(
            ShardFlag::Auto.resolve(None, &kubernetes).unwrap_err(),
            ShardError::NoClusterEnvironment
        );
        let bad = env(&[
            ("SLURM_ARRAY_TASK_ID", "x"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(matches!(
            ShardFlag::Auto.resolve(None, bad),
            Err(ShardError::BadVariable {
                name: "SLURM_ARRAY_TASK_ID",
                ..
            })
        ));
    }
}
