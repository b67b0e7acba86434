//! Each figure means what its name says, checked against ground truth: an "immune" agent really blocks that
//! campaign's traffic, every proposed signature is accounted for on every preset and under every fault, and the
//! ledger's closing row states exactly the totals the run computed.

use dais::config::{ByzantineStrategy, SimConfig};
use dais::ledger::sqlite::SqliteLedger;
use dais::model::TickMetrics;
use dais::sim::Simulation;
use dais::sim::components::{Agent, Blacklist, NormalProfile, Role};
use dais::sim::metrics::RunTotals;
use dais::sim::traffic::Campaigns;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// Runs `config` to its end, recording to a real SQLite file; returns the simulation, the verification report
/// and every tick's metrics.
fn run_recorded(
    config: SimConfig,
    dir: &std::path::Path,
    name: &str,
) -> (
    Simulation,
    dais::ledger::verify::VerifyReport,
    Vec<TickMetrics>,
) {
    let path = dir.join(name);
    let steps = config.simulation.steps;
    let mut simulation = Simulation::new(config, Box::new(SqliteLedger::create(&path).unwrap()));
    let mut history = Vec::new();
    for _ in 0..steps {
        simulation.step();
        history.extend(simulation.latest_metrics().cloned());
    }
    simulation.finish_ledger().unwrap();
    let conn = dais::ledger::sqlite::open_existing(&path).unwrap();
    let report = dais::ledger::verify::verify(&conn).unwrap_or_else(|p| panic!("{name}: {p}"));
    (simulation, report, history)
}

#[test]
fn an_immune_agent_blocks_that_campaigns_fresh_samples() {
    let config = dais::config::load::scenario("classroom").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut simulation, report, history) =
        run_recorded(config.clone(), dir.path(), "classroom.db");
    assert!(report.closed);
    let world = simulation.world_mut();
    let mut query = world.query::<(&Agent, &Role, &NormalProfile, &Blacklist)>();
    let world = simulation.world();
    let campaigns = world.resource::<Campaigns>();
    let radius = config.signatures.match_radius;
    // Fresh draws, never seen by the simulation or its probes.
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(0xF2E5);
    let mut checked = [0usize; 2];
    for (agent, role, profile, blacklist) in query.iter(world) {
        if !role.is_honest() {
            continue;
        }
        for c in 0..campaigns.list.len() {
            let immune = (blacklist.immune_to >> c) & 1 == 1;
            let draws = 2000;
            let blocked = (0..draws)
                .filter(|_| {
                    let draw = std::array::from_fn(|_| StandardNormal.sample(&mut rng));
                    let sample =
                        campaigns.list[c].sample_at(profile, campaigns.attack_noise, &draw);
                    blacklist.blocks(&sample, radius)
                })
                .count();
            let share = blocked as f64 / draws as f64;
            if immune {
                checked[0] += 1;
                assert!(
                    share >= 0.9,
                    "agent {} counted immune to campaign {c} blocks only {share:.3} of its samples",
                    agent.index
                );
            } else if share >= 0.99 {
                checked[1] += 1;
            }
        }
    }
    assert!(
        checked[0] >= 60,
        "too few immune agents checked: {checked:?}"
    );
    // At the end of the classroom lesson, both campaigns are beaten by the measured definition.
    let totals = world.resource::<RunTotals>();
    let level = config.immunity.level;
    for (c, tti) in totals.time_to_immunity.iter().enumerate() {
        let tick = tti.unwrap_or_else(|| panic!("campaign {c} never reached immunity"));
        // Time to immunity is the first tick at or above the level after the campaign started.
        let start = config.traffic.campaigns[c].start_tick;
        let first = history
            .iter()
            .find(|m| m.tick >= start && m.immune_fraction[c] >= level)
            .unwrap()
            .tick;
        assert_eq!(tick, first);
        // And blocking really holds afterwards.
        let after = totals.blocked_fraction_after_immunity(c).unwrap();
        assert!(after >= 0.95, "campaign {c}: {after}");
    }
}

#[test]
fn immunity_is_not_granted_for_blocking_a_campaigns_centre_alone() {
    // A signature centred on the campaign with a tiny spread blocks the probe at the campaign's centre, which the
    // first release called immunity, but almost none of the noisy samples around it.
    let config = SimConfig::default();
    let mut probe_rng = rand::rngs::ChaCha8Rng::seed_from_u64(5);
    let campaigns = Campaigns::new(
        &config.traffic,
        1,
        rand::rngs::ChaCha8Rng::seed_from_u64(6),
        config.immunity.probes,
        &mut probe_rng,
    );
    let profile = NormalProfile {
        mean: [0.0; 8],
        std: [1.0; 8],
    };
    let centre = campaigns.list[0].sample_at(&profile, 0.0, &[0.0; 8]);
    let mut blacklist = Blacklist::new(config.signatures.min_spread);
    let tight = dais::sim::components::Signature {
        id: 1,
        centroid: centre,
        spread: [0.001; 8],
        count: 6,
        origin: 0,
        tick: 1,
        truth: 1,
    };
    blacklist.insert(0, &tight);
    assert!(blacklist.blocks(&centre, config.signatures.match_radius));
    assert_eq!(
        dais::sim::learn::immunity_mask(&blacklist, &profile, &campaigns, &config),
        0
    );
    let wide = dais::sim::components::Signature {
        spread: [0.5; 8],
        id: 2,
        ..tight
    };
    blacklist.insert(1, &wide);
    assert_eq!(
        dais::sim::learn::immunity_mask(&blacklist, &profile, &campaigns, &config),
        1
    );
}

/// A preset shrunk to test size, keeping its shape: at most 80 agents, and steps that leave room after the last
/// campaign starts.
fn shrunk(mut config: SimConfig) -> SimConfig {
    let agents = config.simulation.agents.min(80);
    config.simulation.agents = agents;
    let last_start = config
        .traffic
        .campaigns
        .iter()
        .map(|c| c.start_tick)
        .max()
        .unwrap_or(0);
    config.simulation.steps = config.simulation.steps.min(last_start + 90);
    for c in &mut config.traffic.campaigns {
        c.origins.retain(|&o| o < agents);
        if c.origins.is_empty() {
            c.origins.push(0);
        }
    }
    config.faults.crash_tick = config.faults.crash_tick.min(config.simulation.steps / 2);
    config
}

#[test]
fn every_signature_is_accounted_for_on_every_preset_and_under_every_fault() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, SimConfig)> = dais::config::load::SCENARIOS
        .iter()
        .map(|(name, _)| {
            (
                name.to_string(),
                shrunk(dais::config::load::scenario(name).unwrap()),
            )
        })
        .collect();
    let base = shrunk(SimConfig::default());
    for strategy in [
        ByzantineStrategy::AlwaysYes,
        ByzantineStrategy::AlwaysNo,
        ByzantineStrategy::Forge,
        ByzantineStrategy::Collude,
    ] {
        let mut c = base.clone();
        c.faults.byzantine_fraction = 0.2;
        c.faults.byzantine_strategy = strategy;
        cases.push((format!("byzantine {strategy:?}"), c));
    }
    let mut crashed = base.clone();
    crashed.faults.crash_fraction = 0.3;
    crashed.faults.crash_tick = 60;
    cases.push(("crashes".into(), crashed));
    for rule in [
        dais::config::ConsensusRule::Committee,
        dais::config::ConsensusRule::Snowball,
    ] {
        let mut c = base.clone();
        c.consensus.rule = rule;
        c.consensus.committee_size = 12;
        c.faults.byzantine_fraction = 0.2;
        cases.push((format!("{rule:?} with colluders"), c));
    }
    let mut authority_down = base.clone();
    authority_down.consensus.rule = dais::config::ConsensusRule::CentralAuthority;
    authority_down.faults.crash_fraction = 0.3;
    cases.push(("central authority with crashes".into(), authority_down));

    let mut refused_seen = 0;
    for (i, (name, config)) in cases.into_iter().enumerate() {
        config.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let (simulation, report, history) =
            run_recorded(config.clone(), dir.path(), &format!("case-{i}.db"));
        assert!(report.closed, "{name}: the finished run has a closing row");
        let world = simulation.world();
        let totals = world.resource::<RunTotals>();
        // Every tick, cumulatively: proposed = accepted + rejected + expired + refused + pending.
        let mut proposed = 0;
        let mut settled = 0;
        for m in &history {
            proposed += m.signatures_proposed;
            settled += m.signatures_accepted_true
                + m.signatures_accepted_false
                + m.signatures_rejected
                + m.signatures_expired
                + m.signatures_refused;
            assert_eq!(
                proposed,
                settled + m.signatures_pending,
                "{name}, tick {}",
                m.tick
            );
        }
        assert_eq!(
            totals.counts.signatures_proposed,
            totals.accepted()
                + totals.counts.signatures_rejected
                + totals.counts.signatures_expired
                + totals.counts.signatures_refused
                + totals.pending(),
            "{name}"
        );
        assert!(
            totals.counts.signatures_proposed > 0,
            "{name}: nothing proposed"
        );
        refused_seen += totals.counts.signatures_refused;
        // The ledger's rows say the same: one outcome row per settled signature, refusals included.
        let conn =
            dais::ledger::sqlite::open_existing(&dir.path().join(format!("case-{i}.db"))).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64;
        assert_eq!(
            count("SELECT count(*) FROM outcomes"),
            totals.settled(),
            "{name}"
        );
        assert_eq!(
            count("SELECT count(*) FROM outcomes WHERE outcome = 'refused'"),
            totals.counts.signatures_refused,
            "{name}"
        );
        assert_eq!(
            count("SELECT count(*) FROM outcomes WHERE outcome = 'expired'"),
            totals.counts.signatures_expired,
            "{name}"
        );
        // A forged certificate is never "accepted" in the decisions honest agents act on.
        assert_eq!(
            count(
                "SELECT count(*) FROM outcomes o JOIN decisions d ON d.decision = o.decision \
                 WHERE o.outcome = 'accepted' AND d.outcome <> 'accepted'"
            ),
            0,
            "{name}"
        );
        let closing: String = conn
            .query_row("SELECT totals FROM closing", [], |r| r.get(0))
            .unwrap();
        let closing: dais::ledger::LedgerTotals = serde_json::from_str(&closing).unwrap();
        assert_eq!(closing, totals.counts, "{name}");
    }
    assert!(refused_seen > 0, "no case refused a forged certificate");
}

/// The figures papers report, each recomputed here from ground truth (every honest live agent's labelled batch,
/// forest scores, blacklist and reputation, tick by tick) and compared with what `metrics.csv` and `summary.json`
/// say.
#[test]
fn the_papers_figures_agree_with_ground_truth() {
    use dais::config::ConsensusRule;
    use dais::headless::export::Summary;
    use dais::sim::AgentDirectory;
    use dais::sim::components::{Detector, Liveness, NORMAL, Reputation, TrafficBatch};

    let mut config = SimConfig::default();
    config.simulation.steps = 200;
    config.consensus.rule = ConsensusRule::ReputationWeighted;
    config.faults.byzantine_fraction = 0.2;
    config.faults.byzantine_strategy = ByzantineStrategy::Forge;
    let radius = config.signatures.match_radius;
    let start = config.traffic.campaigns[0].start_tick;
    let threshold = config.consensus.reputation_threshold;
    let mut simulation = Simulation::new(config.clone(), Box::new(dais::ledger::DiscardSink));
    let (mut normal, mut normal_flagged, mut attack, mut caught, mut flagged) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut first_detection = None;
    let mut first_immune: Vec<Option<u32>> = vec![None; config.simulation.agents];
    let mut demoted = None;
    let mut history = Vec::new();
    // Each agent's blacklist as Detect saw it: as the previous tick left it.
    let mut blacklists_before: Vec<Blacklist> =
        vec![Blacklist::new(config.signatures.min_spread); config.simulation.agents];
    // And its threshold (Learn may refit the forest after Detect scored the batch).
    let mut thresholds_before: Vec<f64> = vec![f64::INFINITY; config.simulation.agents];
    for tick in 1..=config.simulation.steps {
        simulation.step();
        let world = simulation.world();
        let (mut honest_trust, mut byzantine_trust, mut highest_byzantine) =
            (vec![], vec![], 0.0f64);
        let (mut live, mut false_blacklists) = (0u64, 0u64);
        for &entity in &world.resource::<AgentDirectory>().agents {
            let role = world.get::<Role>(entity).unwrap();
            let trust = world.get::<Reputation>(entity).unwrap().trust();
            if role.is_honest() {
                honest_trust.push(trust);
            } else {
                byzantine_trust.push(trust);
                highest_byzantine = highest_byzantine.max(trust);
                continue;
            }
            if !world.get::<Liveness>(entity).unwrap().is_up() {
                continue;
            }
            live += 1;
            let blacklist = world.get::<Blacklist>(entity).unwrap();
            let agent = world.get::<Agent>(entity).unwrap().index as usize;
            false_blacklists += u64::from(blacklist.signatures().iter().any(|s| s.truth == NORMAL));
            if blacklist.immune_to & 1 == 1 {
                first_immune[agent].get_or_insert(tick);
            }
            let batch = world.get::<TrafficBatch>(entity).unwrap();
            let now = world
                .get::<Detector>(entity)
                .unwrap()
                .threshold()
                .unwrap_or(f64::INFINITY);
            let cut = std::mem::replace(&mut thresholds_before[agent], now);
            let seen_by = std::mem::replace(&mut blacklists_before[agent], blacklist.clone());
            for (i, (sample, &label)) in batch.samples.iter().zip(&batch.labels).enumerate() {
                let blocked = seen_by.blocks(sample, radius);
                let scored = !blocked && batch.scores.get(i).is_some_and(|&s| s > cut);
                let raised = blocked || scored;
                if label == NORMAL {
                    normal += 1;
                    normal_flagged += u64::from(raised);
                } else {
                    attack += 1;
                    caught += u64::from(raised);
                    if scored {
                        first_detection.get_or_insert(tick);
                    }
                }
                flagged += u64::from(raised);
            }
        }
        let m = simulation.latest_metrics().unwrap().clone();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let gap = mean(&honest_trust) - mean(&byzantine_trust);
        assert!(
            (m.trust_gap.unwrap() - gap).abs() < 1e-12,
            "tick {tick}: trust gap"
        );
        if highest_byzantine < threshold {
            demoted.get_or_insert(tick);
        }
        assert_eq!(
            m.false_blacklist_share,
            Some(false_blacklists as f64 / live as f64)
        );
        if let (Some(p), Some(r)) = (m.detection_precision, m.detection_recall) {
            assert!((m.detection_f1.unwrap() - 2.0 * p * r / (p + r)).abs() < 1e-12);
        }
        history.push(m);
    }
    let totals = simulation.world().resource::<RunTotals>().clone();
    let summary = Summary::new(
        &config,
        &totals,
        history.last(),
        (String::new(), None),
        1.0,
        false,
        1,
    );
    let (p, r) = (
        caught as f64 / flagged as f64,
        caught as f64 / attack as f64,
    );
    let f1 = 2.0 * p * r / (p + r);
    assert!(
        (summary.detection_f1.unwrap() - f1).abs() < 1e-12,
        "{:?} vs {f1}",
        summary.detection_f1
    );
    assert_eq!(
        summary.false_positive_rate,
        Some(normal_flagged as f64 / normal as f64)
    );
    assert!(summary.false_positive_rate.unwrap() < 0.05);
    let campaign = &summary.campaigns[0];
    assert_eq!(campaign.time_to_first_detection, first_detection);
    assert!(first_detection.is_some_and(|t| t >= start));
    // Time to blacklist over the honest agents, those that never did last.
    let honest = config.simulation.agents - 20;
    let mut times: Vec<u32> = first_immune.iter().flatten().map(|t| t - start).collect();
    times.sort_unstable();
    assert_eq!(campaign.agents_never_blacklisted, honest - times.len());
    assert_eq!(
        campaign.time_to_blacklist_median,
        times.get(honest / 2 - 1).copied()
    );
    assert_eq!(
        campaign.time_to_blacklist_p90,
        times.get(honest * 9 / 10 - 1).copied()
    );
    assert!(
        campaign.time_to_blacklist_median.is_some(),
        "most agents blacklisted the campaign"
    );
    // The immunity threshold (90% of agents immune) falls between the median and the 90th percentile.
    let tti = campaign.time_to_immunity.unwrap() - start;
    assert!(campaign.time_to_blacklist_median.unwrap() <= tti);
    let sent: u64 = history.iter().map(|m| m.messages_sent).sum();
    let accepted =
        summary.counts.signatures_accepted_true + summary.counts.signatures_accepted_false;
    assert_eq!(
        summary.messages_per_accepted_signature,
        Some(sent as f64 / accepted as f64)
    );
    assert_eq!(summary.time_to_demote, demoted);
    assert!(demoted.is_some(), "reputation demotes the forgers");
    assert!(
        summary.trust_gap.unwrap() > 0.2,
        "honest agents end up trusted more: {:?}",
        summary.trust_gap
    );
}
