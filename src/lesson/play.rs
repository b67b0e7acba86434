//! A lesson played through without a window: the run steps until each step fires, a chooser answers the
//! questions, and the class's interventions are made on the highlighted agent or link. `dais lesson` does this
//! where there is no display (printing the captions), and the tests play every shipped lesson to its end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::run::{DecisionFact, Facts, LessonRun};
use super::{Highlight, InterventionKind, Lesson, Question, highlighted_agents};
use crate::config::{ByzantineStrategy, Intervention, SimConfig};
use crate::ledger::{LedgerError, LedgerSink, RunInfo, TickRecord};
use crate::sim::Simulation;

/// Keeps what a lesson reads from the ledger: each decision's verdict and its signature's ground truth.
#[derive(Clone, Default)]
struct DecisionLog {
    decisions: Arc<Mutex<Vec<DecisionFact>>>,
    edges: Arc<Mutex<Vec<(u32, u32)>>>,
    truth: BTreeMap<u32, u16>,
}

impl LedgerSink for DecisionLog {
    fn begin(&mut self, run: &RunInfo) -> Result<(), LedgerError> {
        let mut edges = self.edges.lock().map_err(|_| LedgerError::Poisoned)?;
        edges.clear();
        for agent in &run.agents {
            edges.extend(
                agent
                    .neighbours
                    .iter()
                    .filter(|&&b| b > agent.index)
                    .map(|&b| (agent.index, b)),
            );
        }
        Ok(())
    }

    fn append(&mut self, record: TickRecord) -> Result<(), LedgerError> {
        for s in &record.signatures {
            self.truth.insert(s.sig, s.truth);
        }
        let mut decisions = self.decisions.lock().map_err(|_| LedgerError::Poisoned)?;
        for d in &record.decisions {
            decisions.push(DecisionFact {
                verdict: d.verdict(),
                truth: self.truth.get(&d.sig).copied().unwrap_or(0),
            });
        }
        Ok(())
    }
}

/// What a play-through did.
#[derive(Debug, PartialEq)]
pub struct Transcript {
    /// For each step, in order: the tick it fired at.
    pub fired_at: Vec<u32>,
    /// For each step: the run's figures when it fired (what its caption may claim), if a tick had run.
    pub metrics_at: Vec<Option<crate::model::TickMetrics>>,
    /// Questions answered right, of those asked.
    pub right_answers: (usize, usize),
}

fn start(config: SimConfig) -> (Simulation, DecisionLog) {
    let log = DecisionLog::default();
    (Simulation::new(config, Box::new(log.clone())), log)
}

/// Runs `f` on the run's facts as they stand, borrowed rather than copied.
fn with_facts<R>(simulation: &Simulation, log: &DecisionLog, f: impl FnOnce(&Facts) -> R) -> R {
    let decisions = log.decisions.lock().expect("decision log");
    f(&Facts {
        tick: simulation.tick(),
        metrics: simulation.latest_metrics(),
        decisions: &decisions,
        interventions: &simulation.config().interventions,
    })
}

/// The intervention a scripted class makes for `kind`: on the step's first highlighted agent or link.
fn class_action(
    kind: InterventionKind,
    highlight: &[Highlight],
    config: &SimConfig,
    edges: &[(u32, u32)],
) -> Intervention {
    let agent = highlight
        .iter()
        .flat_map(|h| highlighted_agents(h, config, edges))
        .next()
        .unwrap_or(0) as usize;
    let link = highlight
        .iter()
        .find_map(|h| match h {
            Highlight::Links(list) => list.first().copied(),
            _ => None,
        })
        .or_else(|| edges.first().map(|&(a, b)| (a as usize, b as usize)))
        .unwrap_or((0, 1));
    match kind {
        InterventionKind::Any | InterventionKind::Crash => Intervention::Crash(agent),
        InterventionKind::Revive => Intervention::Revive(agent),
        InterventionKind::Byzantine => Intervention::Byzantine(agent, ByzantineStrategy::Collude),
        InterventionKind::Honest => Intervention::Honest(agent),
        InterventionKind::Attack => Intervention::StartCampaign {
            campaign: 0,
            at: agent,
        },
        InterventionKind::Cut => Intervention::Cut(link.0, link.1),
        InterventionKind::Restore => Intervention::Restore(link.0, link.1),
    }
}

/// Plays `lesson` to its end: `choose` answers each question, `say` hears each caption (with its tick). Fails
/// with the step whose trigger never happened before the run ended.
pub fn play(
    lesson: &Lesson,
    mut choose: impl FnMut(&Question) -> usize,
    mut say: impl FnMut(u32, &str),
) -> Result<Transcript, String> {
    let config = lesson
        .config()
        .map_err(|(field, e)| format!("{field}: {e}"))?;
    let (mut simulation, mut log) = start(config);
    let mut run = LessonRun::new(lesson.clone());
    let mut transcript = Transcript {
        fired_at: Vec::new(),
        metrics_at: Vec::new(),
        right_answers: (0, 0),
    };
    loop {
        if let Some(fired) = with_facts(&simulation, &log, |facts| run.poll(facts)) {
            if let Some(more) = &fired.restart {
                let config = lesson
                    .config_with(more)
                    .map_err(|(field, e)| format!("{field}: {e}"))?;
                (simulation, log) = start(config);
                run.restarted();
            }
            let step = lesson.steps[fired.index].clone();
            transcript.fired_at.push(simulation.tick());
            transcript
                .metrics_at
                .push(simulation.latest_metrics().cloned());
            if !step.caption.is_empty() {
                say(simulation.tick(), &step.caption);
            }
            if let Some(question) = &step.question {
                let choice = choose(question);
                run.answer(choice);
                transcript.right_answers.1 += 1;
                transcript.right_answers.0 += usize::from(choice == question.answer);
                say(
                    simulation.tick(),
                    &format!("{} -> {}", question.ask, question.choices[question.answer]),
                );
            }
            if let Some(kind) = step.wait_for {
                let edges = log.edges.lock().expect("edge log").clone();
                let action = class_action(kind, &step.highlight, simulation.config(), &edges);
                simulation
                    .intervene(action.clone())
                    .map_err(|e| e.to_string())?;
                say(
                    simulation.tick(),
                    &format!("the class: {}", action.describe(&[])),
                );
            }
            with_facts(&simulation, &log, |facts| run.next(facts));
            continue;
        }
        if run.finished() {
            return Ok(transcript);
        }
        if simulation.finished() {
            return Err(format!(
                "step {} never fired: {:?} did not happen in the run's {} ticks",
                run.step,
                run.current().map(|s| &s.at),
                simulation.steps()
            ));
        }
        simulation.step();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_lesson_plays_to_its_end_with_scripted_answers() {
        for (name, _) in super::super::BUILTIN {
            let lesson = Lesson::open(name).unwrap();
            let mut captions = Vec::new();
            // The scripted class answers right at every other question, wrong otherwise.
            let mut asked = 0;
            let transcript = play(
                &lesson,
                |q| {
                    asked += 1;
                    if asked % 2 == 1 {
                        q.answer
                    } else {
                        (q.answer + 1) % q.choices.len()
                    }
                },
                |tick, text| captions.push(format!("{tick}: {text}")),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(transcript.fired_at.len(), lesson.steps.len(), "{name}");
            assert_eq!(
                transcript.right_answers.0,
                transcript.right_answers.1.div_ceil(2),
                "{name}"
            );
            // What the captions claim holds in the run they are shown on.
            let at = |step: usize| transcript.metrics_at[step].clone().unwrap_or_default();
            match *name {
                "single-point-of-failure" => {
                    let crashed = at(3);
                    assert_eq!(crashed.tick, 120);
                    assert_eq!(
                        crashed.immune_fraction[0], 0.0,
                        "nobody immune with the authority down"
                    );
                    assert!(
                        crashed.reached_fraction[0] > 0.5,
                        "the worm spread unopposed"
                    );
                    assert!(
                        at(5).immune_fraction[0] >= 0.9,
                        "BFT immune despite the crash"
                    );
                }
                "liars" => {
                    assert_eq!(
                        at(1).signatures_accepted_false,
                        1,
                        "it fired on the first forgery"
                    );
                    let piled = at(2).false_blacklist_share.unwrap_or(0.0);
                    assert!(piled > 0.5, "honest agents block normal traffic: {piled}");
                    assert!(at(4).signatures_refused >= 1 && at(4).signatures_accepted_false == 0);
                }
                "worm" => assert!(at(5).immune_fraction[0] >= 0.9),
                _ => {}
            }
            assert!(transcript.right_answers.1 >= 1, "{name} asks a question");
            assert!(!captions.is_empty());
        }
    }
}
