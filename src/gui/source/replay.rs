//! A recording the view scrubs: frames come from the ledger by tick, and a recording the page hands over replaces
//! whatever is on screen.

use std::sync::Mutex;

use bevy::prelude::*;

use super::{FeedEntry, PendingOpen, Playback, ViewData, ViewSource, open_view};

/// A recording the view scrubs.
pub struct ReplayRun {
    /// A SQLite connection is not `Sync`; the lock makes the resource shareable.
    pub source: Mutex<crate::replay::ReplaySource>,
}

pub(super) fn show_new_replay(
    source: &crate::replay::ReplaySource,
    data: &mut ViewData,
) -> Result<(), crate::replay::ReplayError> {
    let agents = source.agents()?;
    let metrics = source.metrics_history()?;
    let feed = source
        .decisions()?
        .into_iter()
        .map(|d| FeedEntry::new(d.tick, d.sig_id, d.truth, &d.row))
        .collect();
    open_view(data, source.config().clone(), agents, source.ticks());
    data.metrics = metrics;
    data.feed = feed;
    data.interventions = source.interventions()?;
    Ok(())
}

/// Opens a recording the page handed over in place of what is on screen, at its first tick and paused. A file
/// that is not a ledger leaves the view as it was and says why.
pub(super) fn open_recording(
    mut pending: ResMut<PendingOpen>,
    mut source: ResMut<ViewSource>,
    mut data: ResMut<ViewData>,
    mut playback: ResMut<Playback>,
) {
    let Some((name, bytes)) = pending.0.take() else {
        return;
    };
    let opened = crate::replay::ReplaySource::from_bytes(&name, &bytes).and_then(|replay| {
        let mut shown = ViewData {
            run_generation: data.run_generation,
            ..default()
        };
        show_new_replay(&replay, &mut shown)?;
        Ok((replay, shown))
    });
    match opened {
        Ok((replay, shown)) => {
            if let ViewSource::Live(run) = source.as_mut() {
                run.finish();
            }
            *source = ViewSource::Replay(Box::new(ReplayRun {
                source: Mutex::new(replay),
            }));
            *data = shown;
            playback.playing = false;
            playback.phase = 1.0;
            playback.seek = Some(1);
        }
        Err(e) => data.problem = Some(e.to_string()),
    }
}

/// When the frame on screen was last asked for a replay tick: the frame-time statistics time a seek from here to
/// the end of the frame's scene systems (reading and decoding the frame, then filling the nodes and messages).
#[derive(Resource, Default)]
pub struct SeekClock(pub Option<bevy::platform::time::Instant>);

pub(super) fn show_replay_tick(
    source: Res<ViewSource>,
    mut playback: ResMut<Playback>,
    mut data: ResMut<ViewData>,
    mut clock: ResMut<SeekClock>,
) {
    let ViewSource::Replay(replay) = source.as_ref() else {
        return;
    };
    let Some(tick) = playback.seek.take() else {
        return;
    };
    let tick = tick.clamp(1.min(data.last_tick), data.last_tick);
    if tick == data.tick || tick == 0 {
        return;
    }
    clock.0 = Some(bevy::platform::time::Instant::now());
    let frame = replay.source.lock().expect("replay lock").frame(tick);
    match frame {
        Ok(frame) => {
            data.frame = frame;
            data.tick = tick;
            data.frame_generation += 1;
        }
        Err(e) => data.problem = Some(e.to_string()),
    }
}
