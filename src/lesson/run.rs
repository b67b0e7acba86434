//! A lesson being played: which step is current, whether it has fired, what the class answered. It reads plain
//! facts about the run ([`Facts`]) and says when a step fires; whoever shows the lesson does what the step asks
//! (pause, restart, highlight) and tells the runner when the class answers or continues.

use super::{DecisionKind, Lesson, Step, Trigger};
use crate::config::Intervention;
use crate::model::{Outcome, TickMetrics};

/// A published decision, as a lesson sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecisionFact {
    /// What honest agents took it as (a refused forgery is `Refused`).
    pub verdict: Outcome,
    /// Its signature's ground truth: 0 normal traffic.
    pub truth: u16,
}

impl DecisionKind {
    pub fn matches(self, decision: &DecisionFact) -> bool {
        match self {
            Self::Any => true,
            Self::Accepted => decision.verdict == Outcome::Accepted,
            Self::Rejected => decision.verdict == Outcome::Rejected,
            Self::Refused => decision.verdict == Outcome::Refused,
            Self::FalseAccepted => decision.verdict == Outcome::Accepted && decision.truth == 0,
        }
    }
}

/// What the run has done so far: the tick, its latest figures, every decision and every intervention (oldest
/// first, since the run started).
pub struct Facts<'a> {
    pub tick: u32,
    pub metrics: Option<&'a TickMetrics>,
    pub decisions: &'a [DecisionFact],
    pub interventions: &'a [(u32, Intervention)],
}

/// The current step's progress.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Waiting for its trigger.
    Waiting,
    /// Fired and on screen: the class may have answered (the choice), and may have made the intervention asked.
    Shown { answered: Option<usize> },
    /// Every step is done.
    Finished,
}

/// A step that has just fired, and what the view must do for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fired {
    pub index: usize,
    pub pause: bool,
    /// Start the run again with these extra settings.
    pub restart: Option<Vec<String>>,
}

pub struct LessonRun {
    pub lesson: Lesson,
    /// The current step (`lesson.steps.len()` once finished).
    pub step: usize,
    pub phase: Phase,
    /// Decisions and interventions already seen when the current step became current (or fired): events are
    /// counted from there.
    seen_decisions: usize,
    seen_interventions: usize,
}

impl LessonRun {
    pub fn new(lesson: Lesson) -> Self {
        Self {
            lesson,
            step: 0,
            phase: Phase::Waiting,
            seen_decisions: 0,
            seen_interventions: 0,
        }
    }

    pub fn current(&self) -> Option<&Step> {
        self.lesson.steps.get(self.step)
    }

    pub fn finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// The tick the run should stop at so the current step fires on its very tick, if it waits for one.
    pub fn stop_at(&self) -> Option<u32> {
        match (&self.phase, self.current().map(|s| &s.at)) {
            (Phase::Waiting, Some(Trigger::Tick(t))) => Some(*t),
            _ => None,
        }
    }

    /// Fires the current step if its trigger has happened.
    pub fn poll(&mut self, facts: &Facts) -> Option<Fired> {
        if self.phase != Phase::Waiting {
            return None;
        }
        let step = self.current()?;
        let metric = |per_campaign: fn(&TickMetrics) -> &Vec<f64>, c: usize| {
            facts
                .metrics
                .and_then(|m| per_campaign(m).get(c).copied())
                .unwrap_or(0.0)
        };
        let new_decisions = facts
            .decisions
            .get(self.seen_decisions..)
            .unwrap_or_default();
        let new_interventions = facts
            .interventions
            .get(self.seen_interventions..)
            .unwrap_or_default();
        let fired = match step.at {
            Trigger::Tick(t) => facts.tick >= t,
            Trigger::Reached { campaign, share } => {
                metric(|m| &m.reached_fraction, campaign) >= share
            }
            Trigger::Immune { campaign, share } => {
                metric(|m| &m.immune_fraction, campaign) >= share
            }
            Trigger::Decision(kind) => new_decisions.iter().any(|d| kind.matches(d)),
            Trigger::Intervention(kind) => new_interventions.iter().any(|(_, a)| kind.matches(a)),
        };
        if !fired {
            return None;
        }
        let fired = Fired {
            index: self.step,
            pause: step.pause || step.question.is_some() || step.wait_for.is_some(),
            restart: step.restart.clone(),
        };
        self.phase = Phase::Shown { answered: None };
        self.seen_decisions = facts.decisions.len();
        self.seen_interventions = facts.interventions.len();
        Some(fired)
    }

    /// The run started again (a step's `restart`): its decisions and interventions count from zero.
    pub fn restarted(&mut self) {
        self.seen_decisions = 0;
        self.seen_interventions = 0;
    }

    /// The class picked a choice of the current step's question (the first pick stands).
    pub fn answer(&mut self, choice: usize) {
        if let Phase::Shown { answered: None } = self.phase {
            self.phase = Phase::Shown {
                answered: Some(choice),
            };
        }
    }

    /// Whether the class has done what the step waits for, since it fired.
    pub fn intervention_made(&self, facts: &Facts) -> bool {
        match self.current().and_then(|s| s.wait_for) {
            None => true,
            Some(kind) => facts
                .interventions
                .get(self.seen_interventions..)
                .unwrap_or_default()
                .iter()
                .any(|(_, a)| kind.matches(a)),
        }
    }

    /// Whether the class may go on: the step is shown, its question answered and its intervention made.
    pub fn can_continue(&self, facts: &Facts) -> bool {
        let answered = match (
            &self.phase,
            self.current().and_then(|s| s.question.as_ref()),
        ) {
            (Phase::Shown { .. }, None) => true,
            (Phase::Shown { answered }, Some(_)) => answered.is_some(),
            _ => false,
        };
        answered && self.intervention_made(facts)
    }

    /// On to the next step (the view calls it when the class continues).
    pub fn next(&mut self, facts: &Facts) {
        if self.can_continue(facts) {
            self.skip(facts);
        }
    }

    /// On to the next step whether or not the class has answered or acted (a screenshot passing through).
    pub fn skip(&mut self, facts: &Facts) {
        if self.phase == Phase::Finished {
            return;
        }
        self.step += 1;
        self.seen_decisions = facts.decisions.len();
        self.seen_interventions = facts.interventions.len();
        self.phase = if self.step < self.lesson.steps.len() {
            Phase::Waiting
        } else {
            Phase::Finished
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson() -> Lesson {
        Lesson::parse(
            r#"(title: "t", scenario: "classroom", steps: [
                (at: tick(3), caption: "three"),
                (at: decision(false_accepted), caption: "forged", question: Some((ask: "?", choices: ["a", "b"], answer: 1))),
                (at: tick(0), caption: "crash one", wait_for: Some(crash)),
            ])"#,
            "t.ron",
        )
        .unwrap()
    }

    #[test]
    fn steps_fire_on_their_trigger_and_wait_for_the_class() {
        let mut run = LessonRun::new(lesson());
        let facts = |tick,
                     decisions: &'static [DecisionFact],
                     interventions: &'static [(u32, Intervention)]| Facts {
            tick,
            metrics: None,
            decisions,
            interventions,
        };
        assert_eq!(run.stop_at(), Some(3));
        assert_eq!(run.poll(&facts(2, &[], &[])), None);
        let fired = run.poll(&facts(3, &[], &[])).unwrap();
        assert_eq!((fired.index, fired.pause), (0, false));
        assert!(run.can_continue(&facts(3, &[], &[])));
        run.next(&facts(3, &[], &[]));

        // A true acceptance does not fire "false accepted"; a forged one does, and the question holds the step.
        const TRUE: &[DecisionFact] = &[DecisionFact {
            verdict: Outcome::Accepted,
            truth: 1,
        }];
        const FORGED: &[DecisionFact] = &[
            DecisionFact {
                verdict: Outcome::Accepted,
                truth: 1,
            },
            DecisionFact {
                verdict: Outcome::Accepted,
                truth: 0,
            },
        ];
        assert_eq!(run.poll(&facts(9, TRUE, &[])), None);
        assert!(run.poll(&facts(10, FORGED, &[])).unwrap().pause);
        assert!(!run.can_continue(&facts(10, FORGED, &[])));
        run.answer(0);
        run.answer(1);
        assert_eq!(
            run.phase,
            Phase::Shown { answered: Some(0) },
            "the first pick stands"
        );
        run.next(&facts(10, FORGED, &[]));

        // The last step waits for a crash made after it fired.
        const EARLIER: &[(u32, Intervention)] = &[(4, Intervention::Crash(1))];
        const CRASH: &[(u32, Intervention)] =
            &[(4, Intervention::Crash(1)), (11, Intervention::Crash(2))];
        run.poll(&facts(10, FORGED, EARLIER)).unwrap();
        assert!(
            !run.can_continue(&facts(10, FORGED, EARLIER)),
            "a crash before the step does not count"
        );
        assert!(run.can_continue(&facts(10, FORGED, CRASH)));
        run.next(&facts(10, FORGED, CRASH));
        assert!(run.finished());
    }
}
