//! `DIR/manifest.json`: the sweep file, its expanded run list and the DAIS version. It is the folder's identity:
//! every shard of a sweep writes the same one, a different sweep is refused, and `merge` and `report` read the run
//! list and the axes from it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::experiment::sweep::{PlannedRun, SweepFile};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub dais_version: String,
    /// The hash of the expanded run ids: the same file, or an equivalent one, resumes in the same folder.
    pub sweep_hash: String,
    pub sweep: SweepFile,
    /// In expansion order (the order `merge` writes rows in).
    pub runs: Vec<ManifestRun>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestRun {
    pub id: String,
    pub seed: u64,
    /// (axis key, value) in the axes' order.
    pub point: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "{dir} holds a different sweep (its manifest.json has sweep hash {found}, this one is {expected}); use another --out"
    )]
    DifferentSweep {
        dir: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot read {path}: {source} (is this a sweep's --out folder?)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a sweep manifest: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub const FILE_NAME: &str = "manifest.json";

impl Manifest {
    pub fn new(sweep: &SweepFile, runs: &[PlannedRun]) -> Self {
        let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        Manifest {
            dais_version: env!("CARGO_PKG_VERSION").to_string(),
            sweep_hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                ids.join("\n").as_bytes(),
            )),
            sweep: sweep.clone(),
            runs: runs
                .iter()
                .map(|r| ManifestRun {
                    id: r.id.clone(),
                    seed: r.seed,
                    point: r
                        .point
                        .iter()
                        .map(|s| (s.key.clone(), s.value.clone()))
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn read(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ManifestError::Parse { path, source })
    }

    /// Writes the manifest into `dir`, or checks that the one there is this sweep's. Shards of one sweep start at
    /// once on a cluster's shared folder, so the file is written whole under a temporary name and renamed.
    pub fn write_or_check(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(FILE_NAME);
        if path.exists() {
            let found = match Self::read(dir) {
                Ok(found) => found.sweep_hash,
                Err(_) => "unreadable".to_string(),
            };
            if found != self.sweep_hash {
                return Err(ManifestError::DifferentSweep {
                    dir: dir.to_path_buf(),
                    found,
                    expected: self.sweep_hash.clone(),
                });
            }
            return Ok(());
        }
        let write_err = |source| ManifestError::Write {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(self).expect("a manifest serialises") + "\n";
        let mut temporary = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
        std::io::Write::write_all(&mut temporary, text.as_bytes()).map_err(write_err)?;
        temporary.persist(&path).map_err(|e| write_err(e.error))?;
        Ok(())
    }

    /// The axis keys, in the sweep file's order.
    pub fn axes(&self) -> Vec<String> {
        self.sweep.vary.iter().map(|a| a.key.clone()).collect()
    }
}
