//! The simulation clock: a tick counter advanced once at the start of each pass. No wall-clock time ever enters
//! the simulation, which is what makes a seeded run reproducible.

use bevy::prelude::*;

/// The current tick (1-based once the first pass has started) and the run length.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimClock {
    pub tick: u32,
    pub steps: u32,
}

impl SimClock {
    pub fn finished(&self) -> bool {
        self.tick >= self.steps
    }
}

/// Run condition: the pipeline stops after the configured number of steps.
pub fn run_not_finished(clock: Res<SimClock>) -> bool {
    !clock.finished()
}

/// Starts the next pass; the first system of the Traffic stage.
pub(super) fn advance_clock(mut clock: ResMut<SimClock>) {
    clock.tick += 1;
}
