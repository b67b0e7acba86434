//! `--set KEY=VALUE`: any config key from the command line. KEY is the dotted path into the config as its RON file
//! spells it (`consensus.rule`, `traffic.campaigns[0].intensity`); VALUE is RON, or a bare word for an enum. The
//! layer sits after the `DAIS_*` environment and before `--agents/--steps/--seed`.

use std::str::FromStr;

use thiserror::Error;

use super::SimConfig;

/// One `KEY=VALUE` given with `--set`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
}

impl FromStr for Setting {
    type Err = String;

    /// Splits at the first `=`; clap shows the error in one line naming `--set`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not KEY=VALUE (for example consensus.rule=bft)"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("{text:?} has no key before '='"));
        }
        Ok(Setting {
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }
}

/// Why a `--set` was refused. Each names the key as given.
#[derive(Debug, Error)]
pub enum SetError {
    #[error("--set {key}: unknown key {name:?} in {section}; valid keys: {}", valid.join(", "))]
    UnknownKey {
        key: String,
        name: String,
        section: String,
        /// The keys of that section, closest to `name` first.
        valid: Vec<String>,
    },
    #[error("--set {key}: there is no {section}[{index}]; the list holds {len}")]
    NoSuchIndex {
        key: String,
        section: String,
        index: usize,
        len: usize,
    },
    #[error("--set {key}: {section} is a value, not a section or a list")]
    NotASection { key: String, section: String },
    #[error(
        "--set {key}: malformed key (expected names joined by '.', each with an optional [index])"
    )]
    MalformedKey { key: String },
    #[error("--set {key}={value}: {source}")]
    BadValue {
        key: String,
        value: String,
        #[source]
        source: serde_json::Error,
    },
}

/// One step of a key: a field name, then any list indices after it (`campaigns[0]` is `campaigns`, then 0).
fn parse_key(key: &str) -> Option<Vec<(String, Vec<usize>)>> {
    key.split('.')
        .map(|part| {
            let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
            let mut indices = Vec::new();
            while let Some(inner) = rest.strip_prefix('[') {
                let close = inner.find(']')?;
                indices.push(inner[..close].parse().ok()?);
                rest = &inner[close + 1..];
            }
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            (valid_name && rest.is_empty()).then(|| (name.to_string(), indices))
        })
        .collect()
}

/// Applies `settings` in order (a later one wins) and checks that the result is still a config; validation of the
/// values' ranges is `SimConfig::validate`'s, after every layer.
pub fn apply_settings(config: SimConfig, settings: &[Setting]) -> Result<SimConfig, SetError> {
    if settings.is_empty() {
        return Ok(config);
    }
    let mut tree = serde_json::to_value(&config).expect("SimConfig always serialises");
    // An empty list of interventions is left out when the config is written; it is still a key `--set` may set.
    tree.as_object_mut()
        .expect("SimConfig is a struct")
        .entry("interventions")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    for setting in settings {
        let key = &setting.key;
        let steps = parse_key(key).ok_or_else(|| SetError::MalformedKey { key: key.clone() })?;
        let mut slot = &mut tree;
        let mut section = "the config".to_string();
        let mut at = String::new();
        for (name, indices) in steps {
            let object = slot.as_object_mut().ok_or_else(|| SetError::NotASection {
                key: key.clone(),
                section: section.clone(),
            })?;
            if !object.contains_key(&name) {
                let mut valid: Vec<String> = object.keys().cloned().collect();
                valid.sort_by_key(|candidate| {
                    (strsim::levenshtein(&name, candidate), candidate.clone())
                });
                return Err(SetError::UnknownKey {
                    key: key.clone(),
                    name,
                    section,
                    valid,
                });
            }
            at = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            slot = object.get_mut(&name).expect("checked above");
            for index in indices {
                let list = slot.as_array_mut().ok_or_else(|| SetError::NotASection {
                    key: key.clone(),
                    section: at.clone(),
                })?;
                let len = list.len();
                slot = list.get_mut(index).ok_or_else(|| SetError::NoSuchIndex {
                    key: key.clone(),
                    section: at.clone(),
                    index,
                    len,
                })?;
                at = format!("{at}[{index}]");
            }
            section = at.clone();
        }
        *slot = super::load::ron_value(&setting.value);
        serde_json::from_value::<SimConfig>(tree.clone()).map_err(|source| SetError::BadValue {
            key: key.clone(),
            value: setting.value.clone(),
            source,
        })?;
    }
    Ok(serde_json::from_value(tree).expect("checked after each setting"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConsensusRule, Topology};

    fn set(pairs: &[&str]) -> Result<SimConfig, SetError> {
        let settings: Vec<Setting> = pairs.iter().map(|p| p.parse().unwrap()).collect();
        apply_settings(SimConfig::default(), &settings)
    }

    #[test]
    fn any_key_is_set_by_its_dotted_path_and_a_later_one_wins() {
        let config = set(&[
            "consensus.rule=majority",
            "faults.byzantine_fraction=0.3",
            "network.topology=ring",
            "traffic.campaigns[0].intensity=0.6",
            "consensus.rule=bft",
        ])
        .unwrap();
        assert_eq!(config.consensus.rule, ConsensusRule::Bft);
        assert_eq!(config.faults.byzantine_fraction, 0.3);
        assert_eq!(config.network.topology, Topology::Ring);
        assert_eq!(config.traffic.campaigns[0].intensity, 0.6);
        assert_eq!(set(&[]).unwrap(), SimConfig::default());
    }

    #[test]
    fn variants_with_data_are_set_by_name() {
        let config = set(&[
            "network.latency_distribution=log_normal(median: 2.0, sigma: 0.5)",
            "faults.partitions=[(tick: 30, heal: 90, cut: bisection)]",
            "faults.targeted_crashes=[(tick: 10, target: hubs(3)), (tick: 20, target: agents([4, 5]))]",
        ])
        .unwrap();
        assert_eq!(
            config.network.latency_distribution,
            crate::config::LatencyDistribution::LogNormal {
                median: 2.0,
                sigma: 0.5
            }
        );
        assert_eq!(
            config.faults.partitions[0].cut,
            crate::config::Cut::Bisection
        );
        assert_eq!(
            config.faults.targeted_crashes[1].target,
            crate::config::CrashTarget::Agents(vec![4, 5])
        );
    }

    #[test]
    fn an_unknown_key_names_it_and_lists_its_section_closest_first() {
        let e = set(&["consensus.rul=bft"]).unwrap_err();
        assert!(
            matches!(&e, SetError::UnknownKey { name, section, valid, .. }
                if name == "rul" && section == "consensus" && valid[0] == "rule"),
            "{e:?}"
        );
        assert!(e.to_string().starts_with(
            "--set consensus.rul: unknown key \"rul\" in consensus; valid keys: rule, "
        ));
        let e = set(&["simulaton.agents=3"]).unwrap_err();
        assert!(
            matches!(&e, SetError::UnknownKey { valid, .. } if valid[0] == "simulation"),
            "{e}"
        );
    }

    #[test]
    fn bad_indices_values_and_keys_are_refused_by_name() {
        let campaigns = SimConfig::default().traffic.campaigns.len();
        let e = set(&["traffic.campaigns[9].intensity=0.5"]).unwrap_err();
        assert!(
            matches!(&e, SetError::NoSuchIndex { index: 9, len, .. } if *len == campaigns),
            "{e:?}"
        );
        let e = set(&["simulation.agents=many"]).unwrap_err();
        assert!(matches!(&e, SetError::BadValue { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("--set simulation.agents=many: "),
            "{e}"
        );
        let e = set(&["simulation.agents.x=1"]).unwrap_err();
        assert!(matches!(&e, SetError::NotASection { .. }), "{e:?}");
        let e = set(&["consensus..rule=bft"]).unwrap_err();
        assert!(matches!(&e, SetError::MalformedKey { .. }), "{e:?}");
        assert!("no-equals-sign".parse::<Setting>().is_err());
        assert!("=3".parse::<Setting>().is_err());
    }
}
