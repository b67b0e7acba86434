//! Screenshots for tests and handouts (`--screenshot`), a timed exit (`--quit-after`), and frame-time statistics
//! that the binary prints when the window closes.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};

use super::source::{Playback, SeekClock, ViewData, ViewSource};
use super::{SharedFrameStats, ViewSet};

/// Frames shown and the time they took, after the first few (startup compiles shaders and is not representative).
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameStats {
    pub frames: u64,
    pub seconds: f64,
    pub slowest: f64,
    pub agents: usize,
    /// Replay seeks timed (`SeekClock`), their total and slowest time.
    pub seeks: u64,
    pub seek_seconds: f64,
    pub slowest_seek: f64,
}

impl FrameStats {
    pub fn mean_ms(&self) -> Option<f64> {
        (self.frames > 0).then(|| 1000.0 * self.seconds / self.frames as f64)
    }

    pub fn report(&self) -> Option<String> {
        let mean = self.mean_ms()?;
        let mut report = format!(
            "{} agents: mean frame time {mean:.2} ms ({:.1} FPS) over {} frames, slowest {:.1} ms",
            self.agents,
            1000.0 / mean,
            self.frames,
            self.slowest * 1000.0
        );
        if self.seeks > 0 {
            report += &format!(
                "; frame seek {:.1} ms mean over {} seeks, slowest {:.1} ms",
                1000.0 * self.seek_seconds / self.seeks as f64,
                self.seeks,
                1000.0 * self.slowest_seek
            );
        }
        Some(report)
    }
}

#[derive(Resource)]
pub struct StatsHandle(pub SharedFrameStats);

/// A screenshot to take once a tick is on screen.
#[derive(Resource)]
struct CapturePlan {
    path: PathBuf,
    tick: u32,
    /// Frames to wait once the tick is shown: meshes upload and egui lays out twice before the picture is final.
    settle: u32,
    requested: bool,
    /// Captures thrown away because the window had not been drawn yet.
    retries: u32,
}

/// Frames shown before any capture: the first frames of a new window can reach the screen before the renderer has
/// drawn into it (seen as an all-black PNG under Xvfb).
pub(super) const MIN_FRAMES_BEFORE_CAPTURE: u32 = 20;
pub(super) const MAX_RETRIES: u32 = 10;

#[derive(Resource)]
struct QuitAfter(f32);

const WARM_UP_FRAMES: u32 = 30;

pub(super) fn plugin(
    screenshot: Option<(PathBuf, u32)>,
    quit_after: Option<f32>,
) -> impl Fn(&mut App) {
    move |app: &mut App| {
        if let Some((path, tick)) = &screenshot {
            app.insert_resource(CapturePlan {
                path: path.clone(),
                tick: *tick,
                settle: 4,
                requested: false,
                retries: 0,
            });
            app.add_systems(Startup, seek_to_capture_tick);
            app.add_systems(Update, capture_when_shown.in_set(ViewSet::Capture));
        }
        if let Some(seconds) = quit_after {
            app.insert_resource(QuitAfter(seconds));
            app.add_systems(Update, quit_when_due.in_set(ViewSet::Capture));
        }
        app.add_systems(
            Update,
            (count_frame, screenshot_on_key).in_set(ViewSet::Capture),
        );
    }
}

/// F12 saves the window as `dais-tick-N.png` in the working directory: a handout in one key press.
fn screenshot_on_key(mut commands: Commands, keys: Res<ButtonInput<KeyCode>>, data: Res<ViewData>) {
    if keys.just_pressed(KeyCode::F12) {
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(format!("dais-tick-{}.png", data.tick)));
    }
}

/// A live run plays flat out to the tick; a replay jumps there.
fn seek_to_capture_tick(
    plan: Res<CapturePlan>,
    source: Res<ViewSource>,
    mut playback: ResMut<Playback>,
) {
    if source.is_replay() {
        playback.seek = Some(plan.tick);
        playback.playing = false;
    } else {
        playback.run_to = Some(plan.tick);
    }
}

fn capture_when_shown(
    mut commands: Commands,
    mut plan: ResMut<CapturePlan>,
    mut playback: ResMut<Playback>,
    data: Res<ViewData>,
    mut frames: Local<u32>,
) {
    *frames += 1;
    if plan.requested || *frames < MIN_FRAMES_BEFORE_CAPTURE {
        return;
    }
    let reached = data.tick >= plan.tick || (data.tick >= data.last_tick && data.last_tick > 0);
    if !reached && data.problem.is_none() {
        return;
    }
    playback.playing = false;
    if plan.settle > 0 {
        plan.settle -= 1;
        return;
    }
    plan.requested = true;
    if let Some(problem) = &data.problem {
        error!("{problem}");
    }
    let path = plan.path.clone();
    commands.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>,
              mut plan: ResMut<CapturePlan>,
              mut exit: MessageWriter<AppExit>| {
            if is_uniform(&captured.image) && plan.retries < MAX_RETRIES {
                // Not drawn yet: wait a few frames and take it again.
                plan.retries += 1;
                plan.requested = false;
                plan.settle = 5;
                return;
            }
            save_to_disk(path.clone())(captured);
            exit.write(AppExit::Success);
        },
    );
}

/// Every pixel the same: a window the renderer has not drawn into (the view always has panels and a scene).
pub(super) fn is_uniform(image: &Image) -> bool {
    image.data.as_ref().is_none_or(|bytes| {
        let first = bytes.get(..4).unwrap_or(&[]);
        bytes.chunks_exact(4).all(|pixel| pixel == first)
    })
}

fn quit_when_due(time: Res<Time<Real>>, quit: Res<QuitAfter>, mut exit: MessageWriter<AppExit>) {
    if time.elapsed_secs() >= quit.0 {
        exit.write(AppExit::Success);
    }
}

fn count_frame(
    time: Res<Time<Real>>,
    stats: Res<StatsHandle>,
    data: Res<ViewData>,
    mut seek: ResMut<SeekClock>,
    mut seen: Local<u32>,
) {
    *seen += 1;
    // Runs after the scene systems, so a seek's time covers the new frame's nodes and messages as well.
    let seek_took = seek.0.take().map(|started| started.elapsed().as_secs_f64());
    if *seen <= WARM_UP_FRAMES {
        return;
    }
    let dt = time.delta_secs_f64();
    let mut stats = stats.0.lock().expect("frame stats");
    stats.frames += 1;
    stats.seconds += dt;
    stats.slowest = stats.slowest.max(dt);
    stats.agents = data.agents.len();
    if let Some(took) = seek_took {
        stats.seeks += 1;
        stats.seek_seconds += took;
        stats.slowest_seek = stats.slowest_seek.max(took);
    }
}
