//! A sweep file (RON): the base config, the axes to vary, the design, the seeds and what each run keeps. Loading
//! it validates everything before any run starts, and names the axis and value at fault.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::design::{self, Axis, Design, DesignError, Point, Seeds};
use crate::config::SimConfig;
use crate::config::load::{self, ConfigError};
use crate::config::set::{self, Setting};

/// Where a sweep's base config comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Base {
    /// A shipped preset: `Scenario("default")`.
    Scenario(String),
    /// A config file, relative to the sweep file's folder.
    File(PathBuf),
}

/// What each run keeps besides its row in `runs.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Keep {
    /// `summary.json`.
    Summary,
    /// `metrics.csv`, one row per tick.
    Metrics,
    /// `ledger.db`, the run's full record.
    Ledger,
}

/// A sweep file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    pub base: Base,
    /// Fixed overrides of the base, as `--set` gives them: `[("simulation.agents", "300")]`.
    #[serde(default)]
    pub set: Vec<(String, String)>,
    /// The axes. Values are RON text: `List(["bft", "majority"])`, or numbers by `Linspace` / `Range`.
    pub vary: Vec<Axis>,
    #[serde(default = "grid")]
    pub design: Design,
    pub seeds: Seeds,
    #[serde(default = "summary_only")]
    pub keep: Vec<Keep>,
}

fn grid() -> Design {
    Design::Grid
}

fn summary_only() -> Vec<Keep> {
    vec![Keep::Summary]
}

/// One run of the expanded sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// The hash of its effective config (seed included): stable across machines, shards and reruns.
    pub id: String,
    /// Its value on every axis, in the axes' order.
    pub point: Point,
    pub seed: u64,
    pub config: SimConfig,
}

/// Why a sweep file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("cannot read sweep file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed sweep file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<ron::error::SpannedError>,
    },
    #[error("sweep base: {0}")]
    Base(#[source] ConfigError),
    #[error("sweep set: {0}")]
    Set(#[source] set::SetError),
    #[error(transparent)]
    Design(#[from] DesignError),
    /// An axis's value does not apply (unknown key or wrong type).
    #[error("axis {key}, value {value}: {source}")]
    Axis {
        key: String,
        value: String,
        // Boxed: the sweep's error travels up through every caller, and a set error names keys and sections.
        #[source]
        source: Box<set::SetError>,
    },
    /// A design point gives a config that fails validation.
    #[error("design point {}: {source}", describe(point))]
    Invalid {
        point: Point,
        #[source]
        source: crate::config::InvalidField,
    },
    /// A design point's flow file cannot be read.
    #[error("design point {}: {source}", describe(point))]
    Flows {
        point: Point,
        #[source]
        source: Box<crate::flows::FlowError>,
    },
}

fn describe(point: &Point) -> String {
    point
        .iter()
        .map(|s| format!("{}={}", s.key, s.value))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SweepFile {
    pub fn read(path: &Path) -> Result<Self, SweepError> {
        let text = std::fs::read_to_string(path).map_err(|source| SweepError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Self, SweepError> {
        ron::from_str(text).map_err(|source| SweepError::Parse {
            path: origin.to_path_buf(),
            source: Box::new(source),
        })
    }

    /// The base config with the fixed `set` applied; `folder` is where a `File` base is looked for.
    fn base_config(&self, folder: &Path) -> Result<SimConfig, SweepError> {
        let base = match &self.base {
            Base::Scenario(name) => load::scenario(name),
            Base::File(path) => load::read_config_file(&folder.join(path)),
        }
        .map_err(SweepError::Base)?;
        let fixed: Vec<Setting> = self
            .set
            .iter()
            .map(|(key, value)| Setting {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        set::apply_settings(base, &fixed).map_err(SweepError::Set)
    }

    /// Every run, design points in order and the seeds within each, checked before any of them runs.
    /// Reads the sweep in `path`, adds the command line's `--set` after its own `set` list (so it is another sweep,
    /// with other run ids), and expands it: what `sweep` and `sweep slurm` both start from.
    pub fn load(path: &Path, settings: &[Setting]) -> Result<(Self, Vec<PlannedRun>), SweepError> {
        let mut sweep = Self::read(path)?;
        sweep
            .set
            .extend(settings.iter().map(|s| (s.key.clone(), s.value.clone())));
        let runs = sweep.expand(path.parent().unwrap_or(Path::new(".")))?;
        Ok((sweep, runs))
    }

    pub fn expand(&self, folder: &Path) -> Result<Vec<PlannedRun>, SweepError> {
        let base = self.base_config(folder)?;
        // Each axis value alone first, so a bad value is named by its axis rather than by a whole point.
        for axis in &self.vary {
            for value in axis.expand()? {
                let setting = Setting {
                    key: axis.key.clone(),
                    value: value.clone(),
                };
                set::apply_settings(base.clone(), &[setting]).map_err(|source| {
                    SweepError::Axis {
                        key: axis.key.clone(),
                        value,
                        source: Box::new(source),
                    }
                })?;
            }
        }
        let seeds = self.seeds.list();
        if seeds.is_empty() {
            return Err(DesignError::NoSeeds.into());
        }
        let mut runs = Vec::new();
        for point in design::points(&self.vary, self.design)? {
            let config = set::apply_settings(base.clone(), &point).map_err(|source| {
                let first = point.first().cloned().unwrap_or(Setting {
                    key: String::new(),
                    value: String::new(),
                });
                SweepError::Axis {
                    key: first.key,
                    value: first.value,
                    source: Box::new(source),
                }
            })?;
            // The flow file's rows depend on the point's agents and steps, not on the seed.
            let mut config = config;
            crate::flows::resolve(&mut config).map_err(|source| SweepError::Flows {
                point: point.clone(),
                source: Box::new(source),
            })?;
            for &seed in &seeds {
                let mut config = config.clone();
                config.simulation.seed = seed;
                config.validate().map_err(|source| SweepError::Invalid {
                    point: point.clone(),
                    source,
                })?;
                runs.push(PlannedRun {
                    id: design::run_id(&config),
                    point: point.clone(),
                    seed,
                    config,
                });
            }
        }
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(text: &str) -> Result<Vec<PlannedRun>, SweepError> {
        SweepFile::parse(text, Path::new("test.ron"))?.expand(Path::new("."))
    }

    #[test]
    fn a_grid_over_two_axes_and_seeds_expands_in_order_with_stable_ids() {
        let runs = expand(
            r#"(
                base: Scenario("default"),
                set: [("simulation.agents", "40"), ("simulation.steps", "50")],
                vary: [
                    (key: "consensus.rule", values: List(["majority", "bft"])),
                    (key: "faults.byzantine_fraction", values: Linspace(start: 0.0, stop: 0.2, n: 3)),
                ],
                seeds: Count(2),
            )"#,
        )
        .unwrap();
        assert_eq!(runs.len(), 2 * 3 * 2);
        assert!(runs.iter().all(|r| r.config.simulation.agents == 40));
        assert_eq!(runs[0].point[0].value, "majority");
        assert_eq!((runs[0].seed, runs[1].seed), (1, 2));
        assert_eq!(runs[11].config.faults.byzantine_fraction, 0.2);
        let mut ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), runs.len(), "every run has its own id");
        let again = expand(
            r#"(base: Scenario("default"), set: [("simulation.agents", "40"), ("simulation.steps", "50")],
                vary: [(key: "consensus.rule", values: List(["majority", "bft"])),
                       (key: "faults.byzantine_fraction", values: Linspace(start: 0.0, stop: 0.2, n: 3))],
                seeds: Count(2))"#,
        )
        .unwrap();
        assert_eq!(runs, again, "expansion is a pure function of the file");
    }

    #[test]
    fn every_kind_of_bad_sweep_is_refused_naming_the_axis_and_value() {
        let with_axis = |axis: &str| {
            expand(&format!(
                r#"(base: Scenario("default"), vary: [{axis}], seeds: Count(1))"#
            ))
            .unwrap_err()
            .to_string()
        };
        let unknown = with_axis(r#"(key: "consensus.rul", values: List(["bft"]))"#);
        assert!(
            unknown.starts_with("axis consensus.rul, value bft: --set consensus.rul: unknown key"),
            "{unknown}"
        );
        let empty = with_axis(r#"(key: "consensus.rule", values: List([]))"#);
        assert_eq!(empty, "axis consensus.rule: no values");
        let wrong_type = with_axis(r#"(key: "simulation.agents", values: List(["many"]))"#);
        assert!(
            wrong_type.starts_with("axis simulation.agents, value many: "),
            "{wrong_type}"
        );
        let twice = with_axis(
            r#"(key: "consensus.rule", values: List(["bft"])), (key: "consensus.rule", values: List(["majority"]))"#,
        );
        assert_eq!(twice, "axis consensus.rule appears twice");
        let invalid =
            with_axis(r#"(key: "faults.byzantine_fraction", values: List(["0.5", "1.5"]))"#);
        assert!(
            invalid.starts_with(
                "design point faults.byzantine_fraction=1.5: invalid config: faults.byzantine_fraction = 1.5"
            ),
            "{invalid}"
        );
        let no_seeds = expand(r#"(base: Scenario("default"), vary: [], seeds: List([]))"#)
            .unwrap_err()
            .to_string();
        assert_eq!(no_seeds, "seeds: none given");
        let base = expand(r#"(base: Scenario("nope"), vary: [], seeds: Count(1))"#)
            .unwrap_err()
            .to_string();
        assert!(
            base.starts_with("sweep base: unknown scenario \"nope\""),
            "{base}"
        );
        let field = SweepFile::parse(
            r#"(base: Scenario("default"), vary: [], seeds: Count(1), sedes: 3)"#,
            Path::new("s.ron"),
        )
        .unwrap_err()
        .to_string();
        assert!(field.starts_with("malformed sweep file s.ron: "), "{field}");
    }

    #[test]
    fn the_shipped_sweeps_expand_and_validate() {
        let folder = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sweeps"));
        let mut found = 0;
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ron") {
                let runs = SweepFile::read(&path)
                    .and_then(|s| s.expand(folder))
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!runs.is_empty(), "{}", path.display());
                found += 1;
            }
        }
        assert!(found >= 3, "config/sweeps/ holds the example suites");
    }
}
