//! Interventions are part of the run: each one scripted in the config takes effect at the start of its tick (a
//! crashed agent is drawn crashed, a cut link carries nothing), a teacher's click through the facade is recorded in
//! the hash-chained `interventions` table, `ledger verify` checks it, and `replay --verify` re-simulates the
//! recording, clicks included, to the same state hashes.

mod common;

use common::dais;
use dais::config::{ByzantineStrategy, Intervention, SimConfig};
use dais::ledger::memory::MemoryLedger;
use dais::model::AgentState;
use dais::sim::Simulation;

fn small_run() -> SimConfig {
    let mut config = SimConfig::default();
    config.simulation.agents = 40;
    config.simulation.steps = 80;
    config
}

/// A message in flight as (from, to, ticks since sent).
type Hop = (u32, u32, u8);

/// The agent states drawn at every tick, and every tick's messages in flight.
fn run_frames(config: SimConfig) -> (Vec<Vec<AgentState>>, Vec<Vec<Hop>>) {
    let ledger = MemoryLedger::default();
    let mut simulation = Simulation::new(config, Box::new(ledger.clone()));
    while !simulation.finished() {
        simulation.step();
    }
    let ticks = ledger.contents().ticks;
    (
        ticks.iter().map(|t| t.frame.agents.clone()).collect(),
        ticks
            .iter()
            .map(|t| {
                t.frame
                    .messages
                    .iter()
                    .map(|m| (m.from, m.to, m.elapsed))
                    .collect()
            })
            .collect(),
    )
}

/// The agent with the most links, and one of its neighbours.
fn busy_link(config: &SimConfig) -> (usize, usize) {
    let simulation = Simulation::new(config.clone(), Box::new(dais::ledger::DiscardSink));
    let network = simulation.world().resource::<dais::sim::network::Network>();
    let hub = dais::sim::faults::hubs(network, 1)[0];
    (hub, network.neighbours(hub as u32)[0] as usize)
}

#[test]
fn each_scripted_intervention_shows_at_its_tick() {
    let mut config = small_run();
    let start = config.traffic.campaigns[0].start_tick;
    let (a, b) = busy_link(&config);
    let on_link = |messages: &[Hop]| {
        messages
            .iter()
            .filter(|&&(from, to, elapsed)| {
                elapsed == 0
                    && ((from, to) == (a as u32, b as u32) || (from, to) == (b as u32, a as u32))
            })
            .count()
    };
    let (_, baseline_messages) = run_frames(config.clone());
    let sent_before: usize = baseline_messages[5..].iter().map(|m| on_link(m)).sum();
    assert!(
        sent_before > 0,
        "the busy link carries messages without a cut"
    );

    config.interventions = vec![
        (5, Intervention::Cut(a, b)),
        (10, Intervention::Crash(3)),
        (15, Intervention::Byzantine(9, ByzantineStrategy::AlwaysNo)),
        (20, Intervention::Revive(3)),
        (25, Intervention::Honest(9)),
        (
            start - 10,
            Intervention::StartCampaign {
                campaign: 0,
                at: 17,
            },
        ),
        (45, Intervention::Restore(b, a)),
    ];
    let (states, messages) = run_frames(config);
    let at = |tick: u32, agent: usize| states[tick as usize - 1][agent];
    assert_ne!(at(9, 3), AgentState::Crashed);
    assert_eq!(
        at(10, 3),
        AgentState::Crashed,
        "crashed at the start of tick 10"
    );
    assert_eq!(at(19, 3), AgentState::Crashed, "and stays down");
    assert_ne!(at(20, 3), AgentState::Crashed, "revived at tick 20");
    assert_ne!(at(14, 9), AgentState::Byzantine);
    assert_eq!(at(15, 9), AgentState::Byzantine);
    assert_ne!(at(25, 9), AgentState::Byzantine, "honest again");
    assert_eq!(at(start - 11, 17), AgentState::Healthy);
    assert!(
        matches!(
            at(start - 10, 17),
            AgentState::UnderAttack | AgentState::Compromised
        ),
        "the campaign reached agent 17 ten ticks before its start: {:?}",
        at(start - 10, 17)
    );
    // Frames are 0-based: messages[t] is tick t + 1. Cut from tick 5 to tick 44, restored at tick 45.
    let cut_sent: usize = messages[5..44].iter().map(|m| on_link(m)).sum();
    assert_eq!(cut_sent, 0, "nothing leaves over the cut link");
    let restored_sent: usize = messages[44..].iter().map(|m| on_link(m)).sum();
    assert!(restored_sent > 0, "the restored link carries again");
}

#[test]
fn a_clicked_intervention_is_recorded_verified_and_re_simulated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lesson.db");
    let mut config = small_run();
    config.interventions = vec![(12, Intervention::Crash(4))];
    let sink = dais::ledger::sqlite::SqliteLedger::create(&path).unwrap();
    let mut simulation = Simulation::new(config.clone(), Box::new(sink));
    for _ in 0..30 {
        simulation.step();
    }
    // The teacher clicks at tick 30: it applies at tick 31.
    assert_eq!(simulation.intervene(Intervention::Crash(7)), Ok(31));
    let refused = simulation.intervene(Intervention::Crash(400)).unwrap_err();
    assert_eq!(refused.field, "interventions[2].agent");
    while !simulation.finished() {
        simulation.step();
    }
    simulation.finish_ledger().unwrap();
    assert!(
        simulation.intervene(Intervention::Revive(7)).is_err(),
        "nothing can be scheduled after the last tick"
    );
    drop(simulation);

    let source = dais::replay::ReplaySource::open(&path).unwrap();
    assert_eq!(
        source.interventions().unwrap(),
        vec![(12, Intervention::Crash(4)), (31, Intervention::Crash(7))]
    );
    assert_eq!(
        source.config().interventions,
        config.interventions,
        "the run row keeps the config as it started"
    );
    assert_eq!(
        source.frame(31).unwrap().agents[7],
        AgentState::Crashed,
        "the click took effect"
    );

    let verify = dais(&["ledger", "verify", path.to_str().unwrap()]);
    let line = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && line.starts_with("ledger ok"),
        "{line}"
    );
    let replay = dais(&["replay", path.to_str().unwrap(), "--verify"]);
    let line = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success() && line.contains("80 ticks re-simulated"),
        "{line}{}",
        String::from_utf8_lossy(&replay.stderr)
    );

    // Without the click, the re-simulation would diverge at the tick it was applied: the recording proves it.
    let mut without_click = source.config().clone();
    without_click.interventions = vec![(12, Intervention::Crash(4))];
    let mut plain = Simulation::new(without_click, Box::new(dais::ledger::DiscardSink));
    let hashes = source.state_hashes().unwrap();
    for tick in 1..=31 {
        plain.step();
        assert_eq!(
            plain.state_hash_hex() == hashes[tick - 1],
            tick < 31,
            "tick {tick}"
        );
    }
}

#[test]
fn a_headless_run_scripts_interventions_and_verify_checks_the_script_was_applied() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = dais(&[
        "run",
        "--no-render",
        "--quiet",
        "--agents",
        "30",
        "--steps",
        "60",
        "--set",
        "interventions=[(8, crash(2)), (9, cut(0, 1)), (20, revive(2))]",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let ledger = out.join("ledger.db");
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let rows: Vec<(u32, String)> = conn
        .prepare("SELECT tick, action FROM interventions ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (8, "crash(2)".to_string()),
            (9, "cut(0,1)".to_string()),
            (20, "revive(2)".to_string())
        ]
    );
    let verify = dais(&["ledger", "verify", ledger.to_str().unwrap()]);
    assert!(verify.status.success());

    // A bad intervention is refused before the run, naming its place in the list.
    let bad = dais(&[
        "run",
        "--no-render",
        "--agents",
        "30",
        "--set",
        "interventions=[(8, crash(99))]",
    ]);
    common::assert_one_line_error(&bad, "interventions[0].agent");
}

#[test]
fn verify_reports_a_scripted_intervention_the_rows_do_not_record() {
    use dais::ledger::{ClosingRow, LedgerSink, RunInfo, TickRecord};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.db");
    let mut config = small_run();
    config.simulation.agents = 2;
    config.simulation.steps = 1;
    config.interventions = vec![(1, Intervention::Crash(1))];
    let mut sink = dais::ledger::sqlite::SqliteLedger::create(&path).unwrap();
    sink.begin(&RunInfo {
        config_ron: config.to_ron(),
        config_hash: config.hash_hex(),
        seed: config.simulation.seed,
        version: "test".into(),
        agents: (0..2)
            .map(|i| dais::ledger::AgentRow {
                index: i,
                role: "honest".into(),
                neighbours: vec![1 - i],
            })
            .collect(),
    })
    .unwrap();
    sink.append(TickRecord {
        interventions: Vec::new(),
        tick: 1,
        state_hash: "00".into(),
        signatures: Vec::new(),
        ballots: Vec::new(),
        decisions: Vec::new(),
        outcomes: Vec::new(),
        metrics: dais::model::TickMetrics {
            tick: 1,
            ..Default::default()
        },
        frame: dais::ledger::Frame {
            agents: vec![AgentState::Healthy; 2],
            messages: Vec::new(),
        },
        closing: Some(ClosingRow {
            ticks: 1,
            steps: 1,
            totals: Default::default(),
        }),
    })
    .unwrap();
    sink.finish().unwrap();
    let verify = dais(&["ledger", "verify", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(!verify.status.success());
    assert!(
        stderr.contains("ticks seq") && stderr.contains("the config scripts crash(1)"),
        "{stderr}"
    );
}
