//! Play, pause, speed and stepping, and the system that turns them into ticks: steps for a live run, a seek for a
//! replay.

use bevy::platform::time::Instant;
use bevy::prelude::*;

use super::{ViewData, ViewSource};
use crate::gui::ViewOptions;

/// The slowest and fastest playback speeds, in ticks per second.
pub const SPEED_RANGE: (f32, f32) = (0.5, 240.0);
/// At most this long per frame goes to simulating, so the window stays responsive when a tick is slow.
const STEP_BUDGET_SECS: f32 = 0.035;

/// Play, pause, speed and stepping.
#[derive(Resource, Debug)]
pub struct Playback {
    pub playing: bool,
    /// Ticks per second.
    pub speed: f32,
    /// Fraction of the current tick's animation already shown.
    pub phase: f32,
    pub step_once: bool,
    /// A replay tick to jump to.
    pub seek: Option<u32>,
    /// Holds the picture at the end of the tick (screenshots), so the same tick looks the same every time.
    pub freeze_phase: bool,
    /// Run the live simulation flat out to this tick (screenshots).
    pub run_to: Option<u32>,
    /// A live run steps no further than this tick (a lesson's next step fires there).
    pub stop_at: Option<u32>,
}

impl Playback {
    pub fn new(options: &ViewOptions) -> Self {
        Self {
            playing: options.play,
            speed: options
                .speed
                .unwrap_or(8.0)
                .clamp(SPEED_RANGE.0, SPEED_RANGE.1),
            phase: 1.0,
            step_once: false,
            seek: Some(options.start_at.max(1)),
            freeze_phase: options.screenshot.is_some(),
            run_to: None,
            stop_at: None,
        }
    }
}

/// Moves time forward: steps the live simulation, or moves the replay's tick. Exclusive, so it runs on the main
/// thread: the simulation's own multi-threaded schedule must not be started from a worker of the view's schedule,
/// where both wait on the same task pool and deadlock.
pub(super) fn advance(world: &mut World) {
    let delta = world.resource::<Time<Real>>().delta_secs();
    let shown_tick = world.resource::<ViewData>().tick;
    let last_tick = world.resource::<ViewData>().last_tick;
    world.resource_scope(|world, mut source: Mut<ViewSource>| {
        let mut playback = world.resource_mut::<Playback>();
        let mut ticks = 0u32;
        if playback.playing {
            playback.phase += playback.speed * delta;
            if playback.phase >= 1.0 {
                ticks = playback.phase.floor() as u32;
                playback.phase = playback.phase.fract();
            }
        }
        if playback.step_once {
            playback.step_once = false;
            ticks += 1;
            playback.phase = 0.0;
        }
        if playback.freeze_phase {
            playback.phase = 1.0;
        }
        match source.as_mut() {
            ViewSource::Live(run) => {
                let mut budget = STEP_BUDGET_SECS;
                if let Some(target) = playback.run_to {
                    ticks = ticks.max(target.saturating_sub(run.tick()));
                    budget = 0.25;
                    if ticks == 0 {
                        playback.run_to = None;
                    }
                }
                // Even a screenshot's flat-out run stops there, so each step fires on its own tick.
                if let Some(stop) = playback.stop_at {
                    ticks = ticks.min(stop.saturating_sub(run.tick()));
                }
                let started = Instant::now();
                for _ in 0..ticks {
                    if run.finished() {
                        break;
                    }
                    run.step();
                    if started.elapsed().as_secs_f32() > budget {
                        // Too slow for the chosen speed: show what we have instead of falling further behind.
                        break;
                    }
                }
                if run.finished() {
                    playback.playing = false;
                }
            }
            ViewSource::Replay(_) => {
                if ticks > 0 {
                    let target = (shown_tick + ticks).min(last_tick);
                    if target >= last_tick {
                        playback.playing = false;
                    }
                    playback.seek = Some(target);
                }
            }
        }
    });
}
