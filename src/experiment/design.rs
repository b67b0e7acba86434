//! A sweep's design: the axes it varies, how their values combine into design points, and the seeds each point
//! runs with. Expanding a design is a pure function of the sweep file, so every machine, shard and rerun agrees on
//! the run list and on each run's id.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::SimConfig;
use crate::config::set::Setting;

/// The values an axis takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Values {
    /// These values, as RON text (`"bft"`, `"0.3"`, `"Some(5)"`).
    List(Vec<String>),
    /// `n` evenly spaced numbers from `start` to `stop`, both included (numpy's `linspace`).
    Linspace { start: f64, stop: f64, n: usize },
    /// `start`, `start + step`, ... up to `stop` included (within a millionth of a step).
    Range { start: f64, stop: f64, step: f64 },
}

/// One varied key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// A `--set` key: `consensus.rule`, `traffic.campaigns[0].intensity`.
    pub key: String,
    pub values: Values,
}

/// How the axes' values combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Design {
    /// Every combination (full factorial), the last axis varying fastest.
    Grid,
    /// The axes in lockstep: point i takes each axis's i-th value (all axes the same length).
    Zip,
    /// `n` points, each axis's value drawn uniformly and independently.
    Random { n: usize, seed: u64 },
    /// `n` points; each axis's values are cut into `n` equal strata and every stratum is used once.
    LatinHypercube { n: usize, seed: u64 },
}

/// The seeds each design point runs with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Seeds {
    /// Seeds 1 to n.
    Count(u64),
    List(Vec<u64>),
}

impl Seeds {
    pub fn list(&self) -> Vec<u64> {
        match self {
            Seeds::Count(n) => (1..=*n).collect(),
            Seeds::List(seeds) => seeds.clone(),
        }
    }
}

/// Why a design cannot be expanded. Each names the axis.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DesignError {
    #[error("axis {key}: no values")]
    EmptyAxis { key: String },
    #[error("axis {key}: {what}")]
    BadRange { key: String, what: String },
    #[error("axis {key} appears twice")]
    DuplicateKey { key: String },
    #[error("design zip: axis {key} has {len} values, but axis {first} has {first_len}")]
    ZipLengths {
        key: String,
        len: usize,
        first: String,
        first_len: usize,
    },
    #[error("design {design}: n must be at least 1")]
    NoPoints { design: &'static str },
    #[error("seeds: none given")]
    NoSeeds,
}

impl Axis {
    /// The axis's values as RON text, in order.
    pub fn expand(&self) -> Result<Vec<String>, DesignError> {
        let bad = |what: &str| DesignError::BadRange {
            key: self.key.clone(),
            what: what.to_string(),
        };
        let values = match &self.values {
            Values::List(values) => values.clone(),
            &Values::Linspace { start, stop, n } => {
                if !(start.is_finite() && stop.is_finite()) {
                    return Err(bad("linspace bounds must be finite numbers"));
                }
                match n {
                    0 => Vec::new(),
                    1 => vec![number(start)],
                    _ => (0..n)
                        .map(|i| number(start + (stop - start) * i as f64 / (n - 1) as f64))
                        .collect(),
                }
            }
            &Values::Range { start, stop, step } => {
                if !(start.is_finite() && stop.is_finite() && step.is_finite()) {
                    return Err(bad("range bounds and step must be finite numbers"));
                }
                if step == 0.0 || (stop - start) * step < 0.0 {
                    return Err(bad(
                        "the step must be non-zero and point from start to stop",
                    ));
                }
                let count = ((stop - start) / step + 1e-6).floor() as usize + 1;
                if count > 1_000_000 {
                    return Err(bad("more than a million values"));
                }
                (0..count)
                    .map(|i| number(start + step * i as f64))
                    .collect()
            }
        };
        if values.is_empty() {
            return Err(DesignError::EmptyAxis {
                key: self.key.clone(),
            });
        }
        Ok(values)
    }
}

/// A number as RON text, without float noise (0.1 + 0.2 is written `0.3`). A whole number is written without a
/// decimal point, so it sets an integer key (`simulation.agents`) as well as a float one.
fn number(x: f64) -> String {
    let rounded = (x * 1e12).round() / 1e12;
    if rounded.fract() == 0.0 && rounded.abs() < 1e15 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

/// One design point: a value for every axis, in the axes' order.
pub type Point = Vec<Setting>;

/// The design points, in a fixed order.
pub fn points(axes: &[Axis], design: Design) -> Result<Vec<Point>, DesignError> {
    let mut seen = std::collections::BTreeSet::new();
    for axis in axes {
        if !seen.insert(axis.key.as_str()) {
            return Err(DesignError::DuplicateKey {
                key: axis.key.clone(),
            });
        }
    }
    let values: Vec<Vec<String>> = axes.iter().map(Axis::expand).collect::<Result<_, _>>()?;
    let setting = |axis: usize, value: &str| Setting {
        key: axes[axis].key.clone(),
        value: value.to_string(),
    };
    let by_index = |indices: &[usize]| -> Point {
        indices
            .iter()
            .enumerate()
            .map(|(axis, &i)| setting(axis, &values[axis][i]))
            .collect()
    };
    Ok(match design {
        Design::Grid => {
            let total: usize = values.iter().map(Vec::len).product();
            (0..total)
                .map(|mut k| {
                    let mut indices = vec![0; values.len()];
                    for axis in (0..values.len()).rev() {
                        indices[axis] = k % values[axis].len();
                        k /= values[axis].len();
                    }
                    by_index(&indices)
                })
                .collect()
        }
        Design::Zip => {
            let Some(first) = values.first() else {
                return Ok(vec![Vec::new()]);
            };
            for (axis, list) in values.iter().enumerate() {
                if list.len() != first.len() {
                    return Err(DesignError::ZipLengths {
                        key: axes[axis].key.clone(),
                        len: list.len(),
                        first: axes[0].key.clone(),
                        first_len: first.len(),
                    });
                }
            }
            (0..first.len())
                .map(|i| by_index(&vec![i; values.len()]))
                .collect()
        }
        Design::Random { n, seed } => {
            if n == 0 {
                return Err(DesignError::NoPoints { design: "random" });
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..n)
                .map(|_| {
                    let indices: Vec<usize> = values
                        .iter()
                        .map(|list| rng.random_range(0..list.len()))
                        .collect();
                    by_index(&indices)
                })
                .collect()
        }
        Design::LatinHypercube { n, seed } => {
            if n == 0 {
                return Err(DesignError::NoPoints {
                    design: "latin_hypercube",
                });
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            // Per axis, a shuffled order of the n strata; point i takes stratum order[i] of every axis, at a
            // uniform position inside it, mapped onto the axis's values.
            let columns: Vec<Vec<usize>> = values
                .iter()
                .map(|list| {
                    let mut strata: Vec<usize> = (0..n).collect();
                    for i in (1..n).rev() {
                        strata.swap(i, rng.random_range(0..=i));
                    }
                    strata
                        .into_iter()
                        .map(|stratum| {
                            let u = (stratum as f64 + rng.random::<f64>()) / n as f64;
                            ((u * list.len() as f64) as usize).min(list.len() - 1)
                        })
                        .collect()
                })
                .collect();
            (0..n)
                .map(|i| by_index(&columns.iter().map(|c| c[i]).collect::<Vec<_>>()))
                .collect()
        }
    })
}

/// A run's stable id: the first 16 hex digits of the SHA-256 of its effective config (which holds its seed).
pub fn run_id(config: &SimConfig) -> String {
    hex::encode(&Sha256::digest(config.to_ron().as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(key: &str, values: Values) -> Axis {
        Axis {
            key: key.into(),
            values,
        }
    }

    fn list(key: &str, values: &[&str]) -> Axis {
        axis(
            key,
            Values::List(values.iter().map(|v| v.to_string()).collect()),
        )
    }

    fn values_of(points: &[Point], axis: usize) -> Vec<String> {
        points.iter().map(|p| p[axis].value.clone()).collect()
    }

    #[test]
    fn ranges_expand_like_numpy() {
        let lin = axis(
            "faults.byzantine_fraction",
            Values::Linspace {
                start: 0.0,
                stop: 0.5,
                n: 6,
            },
        );
        assert_eq!(
            lin.expand().unwrap(),
            ["0", "0.1", "0.2", "0.3", "0.4", "0.5"]
        );
        let range = axis(
            "simulation.agents",
            Values::Range {
                start: 100.0,
                stop: 300.0,
                step: 100.0,
            },
        );
        assert_eq!(range.expand().unwrap(), ["100", "200", "300"]);
        let down = axis(
            "x",
            Values::Range {
                start: 1.0,
                stop: 0.0,
                step: -0.25,
            },
        );
        assert_eq!(down.expand().unwrap(), ["1", "0.75", "0.5", "0.25", "0"]);
        let wrong_way = axis(
            "x",
            Values::Range {
                start: 0.0,
                stop: 1.0,
                step: -0.5,
            },
        );
        assert!(matches!(
            wrong_way.expand(),
            Err(DesignError::BadRange { .. })
        ));
        assert_eq!(
            list("x", &[]).expand(),
            Err(DesignError::EmptyAxis { key: "x".into() })
        );
    }

    #[test]
    fn grid_is_the_full_product_with_the_last_axis_fastest() {
        let axes = [list("a", &["1", "2"]), list("b", &["x", "y", "z"])];
        let grid = points(&axes, Design::Grid).unwrap();
        assert_eq!(grid.len(), 6);
        assert_eq!(values_of(&grid, 0), ["1", "1", "1", "2", "2", "2"]);
        assert_eq!(values_of(&grid, 1), ["x", "y", "z", "x", "y", "z"]);
        assert_eq!(points(&[], Design::Grid).unwrap(), vec![Vec::new()]);
    }

    #[test]
    fn zip_walks_the_axes_in_lockstep_and_refuses_unequal_lengths() {
        let axes = [list("a", &["1", "2"]), list("b", &["x", "y"])];
        let zip = points(&axes, Design::Zip).unwrap();
        assert_eq!(values_of(&zip, 1), ["x", "y"]);
        let uneven = [list("a", &["1", "2"]), list("b", &["x"])];
        assert!(matches!(
            points(&uneven, Design::Zip),
            Err(DesignError::ZipLengths { key, .. }) if key == "b"
        ));
        let twice = [list("a", &["1"]), list("a", &["2"])];
        assert_eq!(
            points(&twice, Design::Grid),
            Err(DesignError::DuplicateKey { key: "a".into() })
        );
    }

    #[test]
    fn sampled_designs_are_seeded_and_latin_hypercubes_use_every_stratum_once() {
        let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
        let axes = [list("a", &ten), list("b", &ten)];
        let random = points(&axes, Design::Random { n: 7, seed: 3 }).unwrap();
        assert_eq!(random.len(), 7);
        assert_eq!(
            random,
            points(&axes, Design::Random { n: 7, seed: 3 }).unwrap()
        );
        assert_ne!(
            random,
            points(&axes, Design::Random { n: 7, seed: 4 }).unwrap()
        );
        let lhs = points(&axes, Design::LatinHypercube { n: 10, seed: 9 }).unwrap();
        for axis in 0..2 {
            let mut used = values_of(&lhs, axis);
            used.sort_by_key(|v| v.parse::<u32>().unwrap());
            assert_eq!(
                used, ten,
                "with n equal to the axis's length, each value once"
            );
        }
        assert!(matches!(
            points(&axes, Design::LatinHypercube { n: 0, seed: 1 }),
            Err(DesignError::NoPoints { .. })
        ));
    }

    #[test]
    fn run_ids_follow_the_effective_config_and_seed() {
        let config = SimConfig::default();
        let mut other_seed = config.clone();
        other_seed.simulation.seed += 1;
        assert_eq!(run_id(&config), run_id(&config.clone()));
        assert_ne!(run_id(&config), run_id(&other_seed));
        assert_eq!(run_id(&config).len(), 16);
        assert_eq!(Seeds::Count(3).list(), [1, 2, 3]);
        // Every point of a numeric sweep applies as `--set` would, integer and float keys alike.
        let axes = [
            axis(
                "faults.byzantine_fraction",
                Values::Linspace {
                    start: 0.0,
                    stop: 0.5,
                    n: 3,
                },
            ),
            axis(
                "simulation.agents",
                Values::Range {
                    start: 20.0,
                    stop: 40.0,
                    step: 20.0,
                },
            ),
        ];
        for point in points(&axes, Design::Grid).unwrap() {
            let set = crate::config::set::apply_settings(config.clone(), &point).unwrap();
            set.validate().unwrap();
            assert!([20, 40].contains(&set.simulation.agents));
        }
    }
}
