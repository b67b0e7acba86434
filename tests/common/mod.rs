//! Helpers shared by the integration tests.
#![allow(dead_code)]

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use dais::config::SimConfig;
use dais::ledger::memory::MemoryLedger;
use dais::sim::metrics::RunTotals;
use dais::sim::signature::SignatureRegistry;

/// A test app as the view will run it: MinimalPlugins, with time advancing exactly one fixed step per update, so
/// each `app.update()` runs exactly one tick of `FixedUpdate`.
pub fn app_with_ledger(config: SimConfig) -> (App, MemoryLedger) {
    let ledger = MemoryLedger::default();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    app.insert_resource(TimeUpdateStrategy::FixedTimesteps(1));
    app.add_plugins(dais::sim::SimPlugin::new(config, Box::new(ledger.clone())));
    (app, ledger)
}

/// Runs a config to its last step and returns the totals and the signature registry.
pub fn run_to_end(config: SimConfig) -> (RunTotals, SignatureRegistry, MemoryLedger) {
    let steps = config.simulation.steps;
    let (mut app, ledger) = app_with_ledger(config);
    // The first update only starts the clock (no time has passed yet); every later one runs exactly one tick.
    app.update();
    for _ in 0..steps {
        app.update();
    }
    let world = app.world();
    assert_eq!(
        world.resource::<dais::sim::clock::SimClock>().tick,
        steps,
        "every update should run one tick"
    );
    (
        world.resource::<RunTotals>().clone(),
        world.resource::<SignatureRegistry>().clone(),
        ledger,
    )
}

/// Forged signatures that ended accepted.
pub fn forged_accepted(registry: &SignatureRegistry) -> usize {
    registry
        .records
        .iter()
        .filter(|r| {
            r.forged
                && matches!(
                    r.outcome,
                    Some((dais::sim::consensus::Outcome::Accepted, _))
                )
        })
        .count()
}
