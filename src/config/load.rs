//! Config layering, later wins: built-in defaults, then a file (`--config FILE`) or a named preset
//! (`--scenario NAME`), then `DAIS_<SECTION>__<KEY>` environment variables, then command-line flags.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::set::{self, SetError, Setting};
use super::{InvalidField, SimConfig};

/// The presets shipped in `config/`, compiled in so the binary finds them from any directory.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("default", include_str!("../../config/default.ron")),
    ("classroom", include_str!("../../config/classroom.ron")),
    ("research", include_str!("../../config/research.ron")),
    ("stress", include_str!("../../config/stress.ron")),
    ("scale", include_str!("../../config/scale.ron")),
    ("partition", include_str!("../../config/partition.ron")),
    ("churn", include_str!("../../config/churn.ron")),
    ("hub-attack", include_str!("../../config/hub-attack.ron")),
    (
        "uneven-links",
        include_str!("../../config/uneven-links.ron"),
    ),
    ("drift", include_str!("../../config/drift.ron")),
    (
        "low-and-slow",
        include_str!("../../config/low-and-slow.ron"),
    ),
    ("evasion", include_str!("../../config/evasion.ron")),
    ("betrayal", include_str!("../../config/betrayal.ron")),
    ("on-off", include_str!("../../config/on-off.ron")),
    ("sybil", include_str!("../../config/sybil.ron")),
    (
        "selective-forwarding",
        include_str!("../../config/selective-forwarding.ron"),
    ),
    (
        "whitewashing",
        include_str!("../../config/whitewashing.ron"),
    ),
    ("poisoning", include_str!("../../config/poisoning.ron")),
];

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed config file {path}: {}", describe_parse_error(field.as_deref(), source))]
    Parse {
        path: PathBuf,
        /// The dotted path of the field whose value is wrong, when the text parsed that far.
        field: Option<String>,
        // Boxed: a RON error carries its span and message, and a config error travels up through every caller.
        #[source]
        source: Box<ron::error::SpannedError>,
    },
    #[error("unknown scenario {name:?}: expected one of {expected}")]
    UnknownScenario { name: String, expected: String },
    #[error("environment variable {var}: bad value {value:?}: {source}")]
    EnvValue {
        var: String,
        value: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Set(#[from] SetError),
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    #[error(transparent)]
    Flows(#[from] crate::flows::FlowError),
}

/// Where the file layer comes from.
#[derive(Clone, Debug, Default)]
pub enum ConfigSource {
    #[default]
    Defaults,
    File(PathBuf),
    Scenario(String),
}

/// The last layers: `--set KEY=VALUE` in order, then the dedicated flags, which win.
#[derive(Clone, Debug, Default)]
pub struct FlagOverrides {
    pub settings: Vec<super::set::Setting>,
    pub agents: Option<usize>,
    pub steps: Option<u32>,
    pub seed: Option<u64>,
}

/// Parses a RON config text; `origin` names it in errors.
pub fn parse_config(text: &str, origin: &Path) -> Result<SimConfig, ConfigError> {
    parse_ron_naming_field(text).map_err(|(field, source)| ConfigError::Parse {
        path: origin.to_path_buf(),
        field,
        source,
    })
}

/// Parses a whole RON text into `T`. A wrong value comes back with the dotted path of its field (config files and
/// lesson files alike); a syntax error before any field, or text after the value, without one.
pub fn parse_ron_naming_field<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, (Option<String>, Box<ron::error::SpannedError>)> {
    let mut deserializer = ron::Deserializer::from_str(text).map_err(|e| (None, Box::new(e)))?;
    // serde_path_to_error tracks where in the text the deserializer was, so a wrong value names its field.
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        // A syntax error inside a section has no field name yet ("?"): name the section.
        let path = e.path().to_string();
        let field = path
            .trim_end_matches(".?")
            .trim_end_matches('?')
            .to_string();
        let spanned = deserializer.span_error(e.into_inner());
        (
            (!field.is_empty() && field != ".").then_some(field),
            Box::new(spanned),
        )
    })?;
    deserializer
        .end()
        .map_err(|e| (None, Box::new(deserializer.span_error(e))))?;
    Ok(value)
}

/// `line:column: field: what is wrong`, or without the field when the text did not parse that far.
fn describe_parse_error(field: Option<&str>, source: &ron::error::SpannedError) -> String {
    match field {
        Some(field) => format!("{}: {field}: {}", source.span.start, source.code),
        None => source.to_string(),
    }
}

pub fn read_config_file(path: &Path) -> Result<SimConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config(&text, path)
}

pub fn scenario(name: &str) -> Result<SimConfig, ConfigError> {
    let (_, text) =
        SCENARIOS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ConfigError::UnknownScenario {
                name: name.to_string(),
                expected: SCENARIOS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
    parse_config(text, Path::new(&format!("config/{name}.ron")))
}

/// `DAIS_` variables that belong to the project's scripts, not to the config.
pub const NON_CONFIG_VARS: &[&str] = &["DAIS_SKIP_WEB"];

/// Every variable name that sets a config key: `DAIS_<SECTION>__<KEY>`, upper case.
pub fn env_keys() -> Vec<String> {
    let tree = serde_json::to_value(SimConfig::default()).expect("SimConfig always serialises");
    let mut keys = Vec::new();
    for (section, value) in tree.as_object().expect("a struct") {
        for key in value.as_object().map(|o| o.keys()).into_iter().flatten() {
            keys.push(format!("DAIS_{section}__{key}").to_ascii_uppercase());
        }
    }
    keys
}

/// A `DAIS_` variable that names no config key, with the closest key there is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownEnvVar {
    pub var: String,
    pub closest: String,
}

impl std::fmt::Display for UnknownEnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "environment variable {} names no config key (closest: {})",
            self.var, self.closest
        )
    }
}

/// The `DAIS_` variables among `vars` that `apply_env` would ignore, sorted by name.
pub fn unknown_env_vars(vars: &[(String, String)]) -> Vec<UnknownEnvVar> {
    let keys = env_keys();
    let mut unknown: Vec<UnknownEnvVar> = vars
        .iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("DAIS_") && !NON_CONFIG_VARS.contains(&k.as_str()))
        .filter(|k| !keys.contains(&k.to_ascii_uppercase()))
        .map(|var| {
            let upper = var.to_ascii_uppercase();
            let closest = keys
                .iter()
                .min_by_key(|key| strsim::levenshtein(&upper, key))
                .cloned()
                .unwrap_or_default();
            UnknownEnvVar {
                var: var.clone(),
                closest,
            }
        })
        .collect();
    unknown.sort_by(|a, b| a.var.cmp(&b.var));
    unknown
}

/// Applies `DAIS_<SECTION>__<KEY>=VALUE` pairs. VALUE is read as RON (numbers, booleans, lists, structs) and
/// otherwise taken as a plain string, so `DAIS_NETWORK__TOPOLOGY=ring` works unquoted. Variables that name no key
/// are skipped here; [`unknown_env_vars`] lists them for a warning.
pub fn apply_env(config: SimConfig, vars: &[(String, String)]) -> Result<SimConfig, ConfigError> {
    let keys = env_keys();
    let mut vars: Vec<_> = vars
        .iter()
        .filter(|(k, _)| keys.contains(&k.to_ascii_uppercase()))
        .collect();
    if vars.is_empty() {
        return Ok(config);
    }
    // Sorted, so that the outcome never depends on the order the OS lists variables in.
    vars.sort();
    // Each variable is a `--set` of `section.key`: one mechanism walks the config tree and checks the value.
    let mut config = config;
    for (var, raw) in vars {
        let path = var["DAIS_".len()..].to_ascii_lowercase();
        let setting = Setting {
            key: path.replacen("__", ".", 1),
            value: raw.clone(),
        };
        config = set::apply_settings(config, &[setting]).map_err(|e| match e {
            SetError::BadValue { source, .. } => ConfigError::EnvValue {
                var: var.clone(),
                value: raw.clone(),
                source,
            },
            // Unreachable in practice: `vars` holds only variables that name a key.
            other => ConfigError::Set(other),
        })?;
    }
    Ok(config)
}

/// RON where the text is RON (numbers, booleans, lists, structs, `None`), a plain string otherwise. A bare word
/// such as `ring` or `auto` parses as a RON unit value, so only an explicit `None` or `()` means "nothing".
pub(super) fn ron_value(raw: &str) -> serde_json::Value {
    // Variant names first (see `ron_json`); then RON as `ron` reads it; then a plain string.
    if let Some(value) = super::ron_json::parse(raw)
        && (!value.is_null() || matches!(raw.trim(), "None" | "()"))
    {
        return value;
    }
    match ron::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Null) if !matches!(raw.trim(), "None" | "()") => {
            serde_json::Value::String(raw.to_string())
        }
        Ok(value) => value,
        Err(_) => serde_json::Value::String(raw.to_string()),
    }
}

pub fn apply_flags(mut config: SimConfig, flags: &FlagOverrides) -> SimConfig {
    if let Some(agents) = flags.agents {
        config.simulation.agents = agents;
    }
    if let Some(steps) = flags.steps {
        config.simulation.steps = steps;
    }
    if let Some(seed) = flags.seed {
        config.simulation.seed = seed;
    }
    config
}

/// Builds the effective config from all layers and validates it.
pub fn load_config(
    source: &ConfigSource,
    env: &[(String, String)],
    flags: &FlagOverrides,
) -> Result<SimConfig, ConfigError> {
    let base = match source {
        ConfigSource::Defaults => SimConfig::default(),
        ConfigSource::File(path) => read_config_file(path)?,
        ConfigSource::Scenario(name) => scenario(name)?,
    };
    let config = apply_env(base, env)?;
    let mut config = apply_flags(super::set::apply_settings(config, &flags.settings)?, flags);
    // A flow file is read once the agents and steps are final: they decide which rows the run uses.
    if let Some(report) = crate::flows::resolve(&mut config)? {
        eprintln!("{report}");
    }
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Topology;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_shipped_scenario_parses_and_validates() {
        for (name, _) in SCENARIOS {
            scenario(name)
                .unwrap()
                .validate()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(scenario("default").unwrap(), SimConfig::default());
    }

    #[test]
    fn layers_apply_in_order_later_wins() {
        let vars = env(&[
            ("DAIS_SIMULATION__AGENTS", "70"),
            ("DAIS_SIMULATION__STEPS", "90"),
            ("HOME", "/x"),
        ]);
        // Env beats the preset (agents), flags beat env (steps).
        let flags = FlagOverrides {
            steps: Some(300),
            ..Default::default()
        };
        let config =
            load_config(&ConfigSource::Scenario("classroom".into()), &vars, &flags).unwrap();
        assert_eq!(config.simulation.agents, 70);
        assert_eq!(config.simulation.steps, 300);
    }

    #[test]
    fn env_reads_enums_lists_and_contamination() {
        let vars = env(&[
            ("DAIS_NETWORK__TOPOLOGY", "ring"),
            ("DAIS_DETECTOR__CONTAMINATION", "auto"),
            ("DAIS_OUTPUT__DIR", "runs/a"),
        ]);
        let config = apply_env(SimConfig::default(), &vars).unwrap();
        assert_eq!(config.network.topology, Topology::Ring);
        assert_eq!(
            config.detector.contamination,
            crate::config::ContaminationSetting::Auto
        );
        assert_eq!(config.output.dir.as_deref(), Some("runs/a"));
    }

    #[test]
    fn env_errors_name_the_variable() {
        let e = apply_env(
            SimConfig::default(),
            &env(&[("DAIS_NETWORK__TOPOLOGY", "hypercube")]),
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::EnvValue { var, value, .. }
                if var == "DAIS_NETWORK__TOPOLOGY" && value == "hypercube"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("environment variable DAIS_NETWORK__TOPOLOGY: bad value"),
            "{e}"
        );
        let typo = env(&[
            ("DAIS_NETWORK__COLOUR", "1"),
            ("DAIS_CONSENSUS_RULE", "majority"),
        ]);
        assert_eq!(
            apply_env(SimConfig::default(), &typo).unwrap(),
            SimConfig::default()
        );
        let unknown = unknown_env_vars(&typo);
        assert_eq!(unknown.len(), 2);
        assert_eq!(unknown[0].var, "DAIS_CONSENSUS_RULE");
        assert_eq!(unknown[0].closest, "DAIS_CONSENSUS__RULE");
        assert_eq!(
            unknown[1].to_string(),
            "environment variable DAIS_NETWORK__COLOUR names no config key (closest: DAIS_NETWORK__LOSS)"
        );
        assert!(unknown_env_vars(&env(&[("DAIS_SKIP_WEB", "1")])).is_empty());
        let e = apply_env(
            SimConfig::default(),
            &env(&[("DAIS_SIMULATION__AGENTS", "many")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("DAIS_SIMULATION__AGENTS"), "{e}");
    }

    #[test]
    fn file_errors_name_the_file() {
        let e = read_config_file(Path::new("/no/such/file.ron")).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("cannot read config file /no/such/file.ron"),
            "{e}"
        );
        let e = parse_config("(simulation: (agents: \"x\"))", Path::new("bad.ron")).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Parse { field: Some(field), source, .. }
                if field == "simulation.agents" && source.span.start.line == 1),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("malformed config file bad.ron: 1:22: simulation.agents: "),
            "{e}"
        );
        let e = parse_config("(simulation: (agents: 3", Path::new("cut.ron")).unwrap_err();
        assert!(e.to_string().contains(": simulation: "), "{e}");
        let e = parse_config("(network: (topology: hypercube))", Path::new("t.ron")).unwrap_err();
        assert!(e.to_string().contains("hypercube"), "{e}");
        let e = scenario("nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown scenario \"nope\": expected one of default, classroom, research, stress, scale, partition, churn, \
             hub-attack, uneven-links, drift, low-and-slow, evasion, betrayal, on-off, sybil, selective-forwarding, \
             whitewashing, poisoning"
        );
    }
}
