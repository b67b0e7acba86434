//! A lesson in the view: the runner (`crate::lesson::run`) reads the run through [`ViewData`], and this plugin does
//! what a fired step asks: pause, start the run again with other settings, highlight and zoom. Its caption box and
//! the picker are panels (`panels::lesson`).

use bevy::prelude::*;

use super::ViewSet;
use super::camera::Focus;
use super::graph_view::SceneLayout;
use super::source::{PendingRestart, Playback, ViewData};
use crate::lesson::run::{DecisionFact, Facts, LessonRun};
use crate::lesson::{Highlight, Lesson, highlighted_agents};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<PendingLesson>();
    app.add_systems(
        Update,
        (start_lesson, drive_lesson).chain().in_set(ViewSet::Input),
    );
}

/// Logical pixels the caption box takes at the bottom of the scene.
pub const CAPTION_BOX_HEIGHT: f32 = 210.0;

/// A lesson the picker (or the page) asked to start.
#[derive(Resource, Default)]
pub struct PendingLesson(pub Option<Lesson>);

/// The lesson being taught, if any.
#[derive(Resource, Default)]
pub struct ActiveLesson(pub Option<LessonView>);

pub struct LessonView {
    pub run: LessonRun,
    /// The step whose caption is on screen.
    pub shown: Option<usize>,
    /// The shown step paused the run; it plays on when the class continues.
    pub paused: bool,
    pub highlight_agents: Vec<u32>,
    pub highlight_links: Vec<(u32, u32)>,
    /// Bumps whenever the highlight changes (the overlay redraws).
    pub highlight_generation: u64,
    /// The class pressed Next.
    pub continue_requested: bool,
    /// A step's restart is under way: the run generation it replaces (its facts are not the lesson's any more).
    awaiting_restart: Option<u64>,
}

impl LessonView {
    pub fn new(lesson: Lesson) -> Self {
        Self {
            run: LessonRun::new(lesson),
            shown: None,
            paused: false,
            highlight_agents: Vec::new(),
            highlight_links: Vec::new(),
            highlight_generation: 0,
            continue_requested: false,
            awaiting_restart: None,
        }
    }
}

/// Starts a picked lesson: its run replaces the one on screen.
fn start_lesson(
    mut pending: ResMut<PendingLesson>,
    mut active: ResMut<ActiveLesson>,
    mut restart: ResMut<PendingRestart>,
    mut data: ResMut<ViewData>,
) {
    let Some(lesson) = pending.0.take() else {
        return;
    };
    match lesson.config() {
        Ok(config) => {
            restart.0 = Some(config);
            let mut view = LessonView::new(lesson);
            view.awaiting_restart = Some(data.run_generation);
            active.0 = Some(view);
        }
        Err((field, message)) => {
            data.problem = Some(format!("cannot start the lesson: {field}: {message}"))
        }
    }
}

/// The decisions so far as a lesson reads them.
fn decision_facts(data: &ViewData) -> Vec<DecisionFact> {
    data.feed
        .iter()
        .map(|entry| DecisionFact {
            verdict: entry.verdict(),
            truth: entry.truth,
        })
        .collect()
}

/// Each frame: fire the current step when its trigger has happened, do what it asks, and move on when the class
/// continues (or, for a step that only waits for an intervention, as soon as the class has made it).
fn drive_lesson(
    mut active: ResMut<ActiveLesson>,
    mut playback: ResMut<Playback>,
    mut restart: ResMut<PendingRestart>,
    mut focus: ResMut<Focus>,
    mut data: ResMut<ViewData>,
    scene: Res<SceneLayout>,
) {
    let Some(view) = active.0.as_mut() else {
        playback.stop_at = None;
        focus.keep_clear(0.0);
        return;
    };
    // The caption box covers the bottom of the scene: the network is framed above it.
    focus.keep_clear(CAPTION_BOX_HEIGHT);
    if let Some(replaced) = view.awaiting_restart {
        if data.run_generation == replaced {
            return;
        }
        view.awaiting_restart = None;
        view.run.restarted();
    }
    let decisions = decision_facts(&data);
    let facts = Facts {
        tick: data.tick,
        metrics: data.metrics.last(),
        decisions: &decisions,
        interventions: &data.interventions,
    };
    if let Some(fired) = view.run.poll(&facts) {
        view.shown = Some(fired.index);
        view.paused = fired.pause;
        if fired.pause {
            playback.playing = false;
        }
        let step = view.run.lesson.steps[fired.index].clone();
        view.highlight_agents = step
            .highlight
            .iter()
            .flat_map(|h| highlighted_agents(h, &data.config, &data.edges))
            .collect();
        view.highlight_links = step
            .highlight
            .iter()
            .flat_map(|h| match h {
                Highlight::Links(list) => list.iter().map(|&(a, b)| (a as u32, b as u32)).collect(),
                _ => Vec::new(),
            })
            .collect();
        view.highlight_generation += 1;
        let points: Vec<Vec2> = view
            .highlight_agents
            .iter()
            .filter_map(|&a| scene.positions.get(a as usize).map(|p| Vec2::from(*p)))
            .collect();
        if step.zoom && !points.is_empty() {
            let min = points.iter().fold(Vec2::MAX, |m, p| m.min(*p));
            let max = points.iter().fold(Vec2::MIN, |m, p| m.max(*p));
            focus.on(Some((min, max)));
        } else if focus.area.is_some() {
            focus.on(None);
        }
        if let Some(more) = &fired.restart {
            match view.run.lesson.config_with(more) {
                Ok(config) => {
                    restart.0 = Some(config);
                    view.awaiting_restart = Some(data.run_generation);
                }
                Err((field, message)) => {
                    data.problem = Some(format!("lesson step {}: {field}: {message}", fired.index))
                }
            }
        }
        return;
    }
    // A screenshot's flat-out run passes through the steps before its tick, as if the class went on at once.
    if playback.run_to.is_some_and(|target| data.tick < target) && view.shown.is_some() {
        view.run.skip(&facts);
        view.shown = None;
    }
    let waits_only = view
        .run
        .current()
        .is_some_and(|s| s.wait_for.is_some() && s.question.is_none());
    if view.shown.is_some() && waits_only && view.run.intervention_made(&facts) {
        view.continue_requested = true;
    }
    if std::mem::take(&mut view.continue_requested) && view.run.can_continue(&facts) {
        view.run.next(&facts);
        view.shown = None;
        // Back to the whole network once the class has seen what the step zoomed to.
        if focus.area.is_some() {
            focus.on(None);
        }
        view.highlight_agents.clear();
        view.highlight_links.clear();
        view.highlight_generation += 1;
        if view.paused && !view.run.finished() {
            playback.playing = true;
        }
        view.paused = false;
    }
    playback.stop_at = view.run.stop_at();
}

#[cfg(test)]
mod tests {
    use bevy::ecs::system::RunSystemOnce;

    use super::*;
    use crate::gui::ViewOptions;
    use crate::gui::source::{LiveRun, ViewSource};

    #[test]
    fn a_step_pauses_highlights_and_goes_on_when_the_class_continues() {
        let lesson = Lesson::open("single-point-of-failure").unwrap();
        let config = lesson.config().unwrap();
        let mut world = World::new();
        let run = LiveRun::start(config.clone(), None);
        let mut data = ViewData::default();
        crate::gui::source::show_new_live_run(&run, &mut data);
        world.insert_resource(ViewSource::Live(Box::new(run)));
        world.insert_resource(data);
        world.insert_resource(Playback::new(&ViewOptions {
            play: true,
            ..Default::default()
        }));
        world.init_resource::<PendingRestart>();
        world.init_resource::<Focus>();
        world.insert_resource(SceneLayout {
            positions: (0..40).map(|i| [i as f32, 0.0]).collect(),
            node_radius: 10.0,
            ..Default::default()
        });
        world.insert_resource(ActiveLesson(Some(LessonView::new(lesson))));

        // Tick 0: the first step waits for tick 1, and the run may step only that far.
        world.run_system_once(drive_lesson).unwrap();
        assert_eq!(world.resource::<Playback>().stop_at, Some(1));
        world.resource_mut::<ViewData>().tick = 1;
        world.run_system_once(drive_lesson).unwrap();
        let view = world.resource::<ActiveLesson>().0.as_ref().unwrap();
        assert_eq!(view.shown, Some(0));
        assert_eq!(view.highlight_agents, vec![20], "the authority");
        assert!(
            !world.resource::<Playback>().playing,
            "the step paused the run"
        );
        let focus = *world.resource::<Focus>();
        assert!(focus.area.is_some(), "and zoomed to it");
        assert_eq!(
            focus.bottom_inset, CAPTION_BOX_HEIGHT,
            "above the caption box"
        );

        world
            .resource_mut::<ActiveLesson>()
            .0
            .as_mut()
            .unwrap()
            .continue_requested = true;
        world.run_system_once(drive_lesson).unwrap();
        let view = world.resource::<ActiveLesson>().0.as_ref().unwrap();
        assert_eq!((view.shown, view.run.step), (None, 1));
        assert!(world.resource::<Playback>().playing, "plays on");
        assert_eq!(world.resource::<Playback>().stop_at, Some(38));
    }
}
