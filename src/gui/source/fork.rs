//! Forking a replay (Raft Scope's "fork playback, discarding future"): "Continue live from here" at any tick starts
//! a live run from the recording's config and interventions up to that tick, re-simulates to the tick, checks the
//! state hash there against the recording's, and goes on live, where the class can intervene differently.

use bevy::prelude::*;

use super::live::{LiveRun, in_memory_recording, show_new_live_run};
use super::{Playback, ViewData, ViewSource};

/// The tick of the replay on screen to continue live from, asked by the panels.
#[derive(Resource, Default, Debug)]
pub struct PendingFork(pub Option<u32>);

/// Where a live run forked off a recording: the plots mark the tick, and the top bar names the recording.
#[derive(Clone, Debug, PartialEq)]
pub struct ForkPoint {
    pub tick: u32,
    /// The recording's path or name.
    pub from: String,
    /// The recording's state hash at `tick`, which the re-simulation must reach.
    pub recorded_hash: String,
    /// Whether the re-simulation has reached `tick` and matched the hash.
    pub reached: bool,
}

/// Replaces the replay with a live run started from its config and the interventions recorded up to the tick; the
/// live run then plays flat out to the tick (`Playback::run_to`) and stops there, paused.
pub(super) fn fork_replay(
    mut pending: ResMut<PendingFork>,
    mut source: ResMut<ViewSource>,
    mut data: ResMut<ViewData>,
    mut playback: ResMut<Playback>,
) {
    let Some(tick) = pending.0.take() else {
        return;
    };
    let ViewSource::Replay(replay) = source.as_ref() else {
        return;
    };
    let prepared = {
        let recording = replay.source.lock().expect("replay lock");
        recording.config_through(tick).and_then(|config| {
            let hashes = recording.state_hashes()?;
            Ok((config, recording.name().to_string(), hashes))
        })
    };
    let (config, from, hashes) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            data.problem = Some(format!("cannot continue live: {e}"));
            return;
        }
    };
    let Some(recorded_hash) = hashes.get(tick as usize - 1).cloned() else {
        return;
    };
    let run = LiveRun::start(config, in_memory_recording());
    show_new_live_run(&run, &mut data);
    data.fork = Some(ForkPoint {
        tick,
        from,
        recorded_hash,
        reached: false,
    });
    *source = ViewSource::Live(Box::new(run));
    playback.playing = false;
    playback.seek = None;
    playback.run_to = Some(tick);
}

/// Once the forked run reaches its tick, its state hash must be the recording's: otherwise the fork is not the
/// recorded run, and the view says so.
pub(super) fn check_fork(source: Res<ViewSource>, mut data: ResMut<ViewData>) {
    let ViewSource::Live(run) = source.as_ref() else {
        return;
    };
    let Some(fork) = data.fork.as_ref().filter(|f| !f.reached) else {
        return;
    };
    if run.tick() < fork.tick {
        return;
    }
    let hash = run.simulation.state_hash_hex();
    let problem = (run.tick() == fork.tick && hash != fork.recorded_hash).then(|| {
        format!(
            "the fork diverged from {} at tick {}: recorded state hash {}, re-simulated {hash}",
            fork.from, fork.tick, fork.recorded_hash
        )
    });
    if let Some(fork) = data.fork.as_mut() {
        fork.reached = true;
    }
    if problem.is_some() {
        data.problem = problem;
    }
}

#[cfg(test)]
mod tests {
    use bevy::ecs::system::RunSystemOnce;

    use super::*;
    use crate::config::{Intervention, SimConfig};
    use crate::gui::ViewOptions;

    /// A 12-agent run recorded in memory, with a scripted crash at tick 5 and a click at tick 15.
    fn recording() -> crate::replay::ReplaySource {
        let mut config = SimConfig::default();
        config.simulation.agents = 12;
        config.simulation.steps = 60;
        config.interventions = vec![(5, Intervention::Crash(2)), (40, Intervention::Crash(9))];
        let ledger = crate::ledger::sqlite::SqliteLedger::in_memory().unwrap();
        let mut run = LiveRun::start(config, Some(Box::new(ledger)));
        for tick in 1..=30 {
            if tick == 15 {
                run.simulation.intervene(Intervention::Cut(0, 1)).unwrap();
            }
            run.step();
        }
        let (name, bytes) = ViewSource::Live(Box::new(run)).recording().unwrap();
        crate::replay::ReplaySource::from_bytes(&name, &bytes).unwrap()
    }

    fn live(world: &mut World) -> &mut LiveRun {
        match world.resource_mut::<ViewSource>().into_inner() {
            ViewSource::Live(run) => run,
            ViewSource::Replay(_) => panic!("still a replay"),
        }
    }

    #[test]
    fn a_fork_re_simulates_to_its_tick_and_goes_on_live() {
        let mut world = World::new();
        world.insert_resource(ViewSource::Replay(Box::new(super::super::ReplayRun {
            source: std::sync::Mutex::new(recording()),
        })));
        world.insert_resource(Playback::new(&ViewOptions::default()));
        world.init_resource::<ViewData>();
        world.insert_resource(PendingFork(Some(20)));
        world.run_system_once(fork_replay).unwrap();
        assert_eq!(world.resource::<Playback>().run_to, Some(20));
        let run = live(&mut world);
        // The recording's clicks up to the fork, and the config's script after it, not the clicks after it.
        assert_eq!(
            run.simulation.config().interventions,
            vec![
                (5, Intervention::Crash(2)),
                (15, Intervention::Cut(0, 1)),
                (40, Intervention::Crash(9))
            ]
        );
        for _ in 0..20 {
            run.step();
        }
        world.run_system_once(check_fork).unwrap();
        let data = world.resource::<ViewData>();
        let fork = data.fork.clone().unwrap();
        assert!(fork.reached && data.problem.is_none(), "{:?}", data.problem);
        assert_eq!(fork.tick, 20);

        // Live from here: the class does something else, and the run goes on past the fork.
        let run = live(&mut world);
        assert_eq!(
            run.simulation.intervene(Intervention::Restore(0, 1)),
            Ok(21)
        );
        run.step();
        assert_eq!(run.tick(), 21);
    }

    #[test]
    fn a_fork_that_does_not_reach_the_recorded_state_says_so() {
        let mut world = World::new();
        let mut run = LiveRun::start(SimConfig::default(), None);
        run.step();
        world.insert_resource(ViewSource::Live(Box::new(run)));
        world.insert_resource(ViewData {
            fork: Some(ForkPoint {
                tick: 1,
                from: "lesson.db".into(),
                recorded_hash: "00".into(),
                reached: false,
            }),
            ..Default::default()
        });
        world.run_system_once(check_fork).unwrap();
        let problem = world.resource::<ViewData>().problem.clone().unwrap();
        assert!(
            problem.starts_with("the fork diverged from lesson.db at tick 1"),
            "{problem}"
        );
    }
}
