//! Guided lessons (thesecretlivesofdata, in DAIS): a scenario plus steps, written in RON in `assets/lessons/`, so a
//! teacher can write their own. A step fires at a tick or on an event (a campaign reaching a share of the agents,
//! a decision, an intervention by the class) and can pause, show a caption, highlight and zoom to nodes or links,
//! ask a question with choices and reveal the answer, wait for the class to intervene, or start the run again
//! with other settings ("now the same with BFT").
//!
//! No Bevy here: [`run::LessonRun`] decides when steps fire from plain facts about the run, so the view
//! (`gui::lesson`) and a headless play-through ([`play`]) share it.

pub mod play;
pub mod run;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::set::{Setting, apply_settings};
use crate::config::{Intervention, SimConfig, load};

/// The lessons that ship with DAIS, by name: also what `?lesson=NAME` opens in the page, where there are no files.
pub const BUILTIN: &[(&str, &str)] = &[
    ("worm", include_str!("../../assets/lessons/worm.ron")),
    (
        "single-point-of-failure",
        include_str!("../../assets/lessons/single-point-of-failure.ron"),
    ),
    ("liars", include_str!("../../assets/lessons/liars.ron")),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub title: String,
    /// The preset the run starts from (`dais run --scenario`).
    pub scenario: String,
    /// `--set KEY=VALUE` overrides on the scenario, as a sweep's `set`.
    #[serde(default)]
    pub set: Vec<String>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// When the step fires, counted from when the previous step finished.
    pub at: Trigger,
    /// Pause the run when the step fires (it plays on when the class continues).
    #[serde(default)]
    pub pause: bool,
    /// Start the run again from the lesson's settings plus these `--set` overrides when the step fires.
    #[serde(default)]
    pub restart: Option<Vec<String>>,
    /// The text the class reads.
    #[serde(default)]
    pub caption: String,
    #[serde(default)]
    pub highlight: Vec<Highlight>,
    /// Zoom the view to the highlighted nodes and links.
    #[serde(default)]
    pub zoom: bool,
    #[serde(default)]
    pub question: Option<Question>,
    /// The step waits until the class makes this intervention.
    #[serde(default)]
    pub wait_for: Option<InterventionKind>,
}

/// What makes a step fire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The run has reached this tick (0: at once).
    Tick(u32),
    /// Campaign `campaign` has reached at least `share` of all agents.
    Reached { campaign: usize, share: f64 },
    /// At least `share` of honest live agents are immune to campaign `campaign`.
    Immune { campaign: usize, share: f64 },
    /// A decision of this kind is published.
    Decision(DecisionKind),
    /// The class makes an intervention of this kind.
    Intervention(InterventionKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Any,
    Accepted,
    Rejected,
    Refused,
    /// A signature of normal traffic accepted: a forgery got through.
    FalseAccepted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterventionKind {
    Any,
    Crash,
    Revive,
    Byzantine,
    Honest,
    Attack,
    Cut,
    Restore,
}

impl InterventionKind {
    pub fn matches(self, action: &Intervention) -> bool {
        matches!(
            (self, action),
            (Self::Any, _)
                | (Self::Crash, Intervention::Crash(_))
                | (Self::Revive, Intervention::Revive(_))
                | (Self::Byzantine, Intervention::Byzantine(..))
                | (Self::Honest, Intervention::Honest(_))
                | (Self::Attack, Intervention::StartCampaign { .. })
                | (Self::Cut, Intervention::Cut(..))
                | (Self::Restore, Intervention::Restore(..))
        )
    }

    /// How the view asks for it: "crash a node".
    pub fn request(self) -> &'static str {
        match self {
            Self::Any => "intervene: pick a node or a link and use a button",
            Self::Crash => "crash a node: pick it and press C",
            Self::Revive => "revive a crashed node: pick it and press C",
            Self::Byzantine => "turn a node Byzantine: pick it and press B",
            Self::Honest => "turn a Byzantine node honest: pick it and press B",
            Self::Attack => "start an attack: pick a node and press A",
            Self::Cut => "cut a link: click it and press X",
            Self::Restore => "restore a cut link: click it and press X",
        }
    }
}

/// Nodes or links a step points at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Highlight {
    Agents(Vec<usize>),
    Links(Vec<(usize, usize)>),
    /// The `k` agents with the most links.
    Hubs(usize),
    /// `consensus.authority`.
    Authority,
    /// Where campaign `c` starts (its configured origins).
    Origins(usize),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub ask: String,
    pub choices: Vec<String>,
    /// The right choice, counted from 0.
    pub answer: usize,
    /// Shown with the answer.
    #[serde(default)]
    pub explain: String,
}

/// Why a lesson cannot be opened. Each names the file, and the step and field where there is one.
#[derive(Debug, Error)]
pub enum LessonError {
    #[error(
        "unknown lesson {name:?}: expected a lesson file or one of {}",
        builtin_names()
    )]
    Unknown { name: String },
    #[error("cannot read lesson {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid lesson {origin}: {}{message}", field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Invalid {
        origin: String,
        field: Option<String>,
        message: String,
    },
}

pub fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Lesson {
    /// A shipped lesson by name, or a lesson file by path; parsed and validated.
    pub fn open(name_or_path: &str) -> Result<Self, LessonError> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(text, &format!("assets/lessons/{name}.ron"));
        }
        let path = std::path::Path::new(name_or_path);
        if !path.exists() {
            return Err(LessonError::Unknown {
                name: name_or_path.to_string(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| LessonError::Read {
            path: name_or_path.to_string(),
            source,
        })?;
        Self::parse(&text, name_or_path)
    }

    /// Parses and validates a lesson's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, LessonError> {
        let invalid = |field: Option<String>, message: String| LessonError::Invalid {
            origin: origin.to_string(),
            field,
            message,
        };
        let lesson: Lesson =
            load::parse_ron_naming_field(text).map_err(|(field, spanned)| match field {
                Some(_) => invalid(field, format!("{}: {}", spanned.span.start, spanned.code)),
                None => invalid(None, spanned.to_string()),
            })?;
        lesson
            .validate()
            .map_err(|(field, message)| invalid(Some(field), message))?;
        Ok(lesson)
    }

    /// The run the lesson starts with: its scenario and `set`.
    pub fn config(&self) -> Result<SimConfig, (String, String)> {
        self.config_with(&[])
    }

    /// The run a step's `restart` starts: the lesson's settings, then the step's.
    pub fn config_with(&self, more: &[String]) -> Result<SimConfig, (String, String)> {
        let base =
            load::scenario(&self.scenario).map_err(|e| ("scenario".to_string(), e.to_string()))?;
        let settings = self
            .set
            .iter()
            .chain(more)
            .map(|s| s.parse::<Setting>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ("set".to_string(), e))?;
        let config =
            apply_settings(base, &settings).map_err(|e| ("set".to_string(), e.to_string()))?;
        config
            .validate()
            .map_err(|e| ("set".to_string(), e.to_string()))?;
        Ok(config)
    }

    /// Every step's fields against the run it plays on; the first problem as (field path, what is wrong).
    fn validate(&self) -> Result<(), (String, String)> {
        let mut config = self.config()?;
        if self.steps.is_empty() {
            return Err(("steps".into(), "a lesson needs at least one step".into()));
        }
        for (i, step) in self.steps.iter().enumerate() {
            let field = |name: &str| format!("steps[{i}].{name}");
            if let Some(more) = &step.restart {
                config = self
                    .config_with(more)
                    .map_err(|(_, message)| (field("restart"), message))?;
            }
            let agents = config.population();
            let campaigns = config.traffic.campaigns.len();
            match step.at {
                Trigger::Reached { campaign, share } | Trigger::Immune { campaign, share } => {
                    if campaign >= campaigns {
                        return Err((
                            field("at.campaign"),
                            format!(
                                "{campaign}: the run has {campaigns} campaigns (0 to {})",
                                campaigns.saturating_sub(1)
                            ),
                        ));
                    }
                    if !(0.0..=1.0).contains(&share) {
                        return Err((
                            field("at.share"),
                            format!("{share}: must be a fraction between 0 and 1"),
                        ));
                    }
                }
                Trigger::Tick(tick) if tick > config.simulation.steps => {
                    return Err((
                        field("at"),
                        format!(
                            "tick {tick} is past the run's last ({})",
                            config.simulation.steps
                        ),
                    ));
                }
                _ => {}
            }
            for (h, highlight) in step.highlight.iter().enumerate() {
                let at = format!("steps[{i}].highlight[{h}]");
                let named: Vec<usize> = match highlight {
                    Highlight::Agents(list) => list.clone(),
                    Highlight::Links(list) => list.iter().flat_map(|&(a, b)| [a, b]).collect(),
                    Highlight::Origins(c) if *c >= campaigns => {
                        return Err((
                            at,
                            format!("campaign {c}: the run has {campaigns} campaigns"),
                        ));
                    }
                    _ => Vec::new(),
                };
                if let Some(bad) = named.into_iter().find(|&a| a >= agents) {
                    return Err((
                        at,
                        format!("agent {bad}: the run has agents 0 to {}", agents - 1),
                    ));
                }
            }
            if let Some(q) = &step.question {
                if q.choices.len() < 2 {
                    return Err((
                        field("question.choices"),
                        "a question needs at least two choices".into(),
                    ));
                }
                if q.answer >= q.choices.len() {
                    return Err((
                        field("question.answer"),
                        format!(
                            "{}: must be one of the {} choices (0 to {})",
                            q.answer,
                            q.choices.len(),
                            q.choices.len() - 1
                        ),
                    ));
                }
            }
            if step.caption.trim().is_empty() && step.question.is_none() {
                return Err((
                    field("caption"),
                    "a step needs a caption or a question".into(),
                ));
            }
        }
        Ok(())
    }
}

/// The agents a highlight names in a run with this config and these links.
pub fn highlighted_agents(
    highlight: &Highlight,
    config: &SimConfig,
    edges: &[(u32, u32)],
) -> Vec<u32> {
    match highlight {
        Highlight::Agents(list) => list.iter().map(|&a| a as u32).collect(),
        Highlight::Links(list) => list
            .iter()
            .flat_map(|&(a, b)| [a as u32, b as u32])
            .collect(),
        Highlight::Hubs(k) => {
            let mut degree = vec![0usize; config.population()];
            for &(a, b) in edges {
                degree[a as usize] += 1;
                degree[b as usize] += 1;
            }
            let mut order: Vec<u32> = (0..degree.len() as u32).collect();
            order.sort_by_key(|&a| (std::cmp::Reverse(degree[a as usize]), a));
            order.truncate(*k);
            order
        }
        Highlight::Authority => vec![config.consensus.authority as u32],
        Highlight::Origins(c) => config
            .traffic
            .campaigns
            .get(*c)
            .map(|c| c.origins.iter().map(|&a| a as u32).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_lesson_parses_and_validates() {
        for (name, _) in BUILTIN {
            let lesson = Lesson::open(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(lesson.steps.len() >= 4, "{name}");
        }
    }

    #[test]
    fn a_bad_lesson_names_the_step_and_field() {
        let base =
            r#"(title: "t", scenario: "classroom", steps: [(at: tick(1), caption: "hi"), STEP])"#;
        let bad = |step: &str| {
            Lesson::parse(&base.replace("STEP", step), "mine.ron")
                .unwrap_err()
                .to_string()
        };
        let e = bad(r#"(at: tick(2), question: Some((ask: "?", choices: ["a", "b"], answer: 2)))"#);
        assert!(
            e.starts_with(
                "invalid lesson mine.ron: steps[1].question.answer: 2: must be one of the 2 choices"
            ),
            "{e}"
        );
        let e = bad(r#"(at: reached(campaign: 5, share: 0.5), caption: "x")"#);
        assert!(e.contains("steps[1].at.campaign: 5"), "{e}");
        let e = bad(r#"(at: tick(2), caption: "x", highlight: [agents([1, 400])])"#);
        assert!(e.contains("steps[1].highlight[0]: agent 400"), "{e}");
        let e = bad(r#"(at: tick(2), caption: "x", restart: Some(["consensus.rule=nope"]))"#);
        assert!(
            e.contains("steps[1].restart: --set consensus.rule=nope"),
            "{e}"
        );
        let e = bad(r#"(at: tick(2), caption: 7)"#);
        assert!(e.contains("steps[1].caption"), "{e}");
        let e = bad(r#"(at: tick(2))"#);
        assert!(
            e.contains("steps[1].caption: a step needs a caption or a question"),
            "{e}"
        );
        let e = Lesson::open("no-such-lesson").unwrap_err().to_string();
        assert!(
            e.contains("expected a lesson file or one of worm, single-point-of-failure, liars"),
            "{e}"
        );
    }
}
