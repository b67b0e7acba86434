//! Faults and the network (issue 16, point 2), each shown to have the effect it claims: a partition holds immunity
//! back on its far side until it heals; agents back from churn catch up on the acceptances they missed; slower
//! links and narrow ones delay immunity. Each names what counters it.

use dais::config::{ChurnConfig, Cut, LatencyDistribution, PartitionConfig, SimConfig};
use dais::ledger::DiscardSink;
use dais::sim::AgentDirectory;
use dais::sim::Simulation;
use dais::sim::components::{Blacklist, Liveness};
use dais::sim::metrics::RunTotals;

/// Whether each agent's blacklist blocks campaign 0 now.
fn immune(simulation: &Simulation) -> Vec<bool> {
    let world = simulation.world();
    world
        .resource::<AgentDirectory>()
        .agents
        .iter()
        .map(|&e| {
            world
                .get::<Blacklist>(e)
                .is_some_and(|b| b.immune_to & 1 == 1)
        })
        .collect()
}

fn share(flags: &[bool], of: &[usize]) -> f64 {
    of.iter().filter(|&&a| flags[a]).count() as f64 / of.len() as f64
}

#[test]
fn a_partition_holds_immunity_back_on_its_far_side_until_it_heals() {
    let mut config = SimConfig::default();
    config.simulation.steps = 300;
    // The campaign starts at agent 0 at tick 40; agents 80 to 99, a stretch of the ring, are cut off from tick 30
    // to 150. The worm still reaches them (attack traffic is not gossip), but no signature or decision does. The
    // near side's 80 agents can still gather BFT's 2f+1 = 67 yes ballots.
    let far: Vec<usize> = (80..100).collect();
    let near: Vec<usize> = (0..80).collect();
    config.faults.partitions = vec![PartitionConfig {
        tick: 30,
        heal: 150,
        cut: Cut::Agents(far.clone()),
    }];
    let mut simulation = Simulation::new(config.clone(), Box::new(DiscardSink));
    for _ in 0..149 {
        simulation.step();
    }
    let before_heal = immune(&simulation);
    for _ in 149..300 {
        simulation.step();
    }
    let at_end = immune(&simulation);
    let (near_before, far_before, far_after) = (
        share(&before_heal, &near),
        share(&before_heal, &far),
        share(&at_end, &far),
    );
    assert!(
        near_before >= 0.8,
        "the near side immunises during the cut: {near_before}"
    );
    assert!(
        far_before <= 0.1,
        "the far side cannot, cut off: {far_before}"
    );
    assert!(far_after >= 0.8, "after the heal it does: {far_after}");

    // Without the cut, the far side is immune well before tick 150: the delay is the partition's.
    let mut whole_config = config.clone();
    whole_config.faults.partitions.clear();
    let mut whole = Simulation::new(whole_config, Box::new(DiscardSink));
    for _ in 0..149 {
        whole.step();
    }
    assert!(share(&immune(&whole), &far) >= 0.8);

    // Cut in half, neither side holds 2f+1 of the electorate, so BFT accepts nothing anywhere until the heal: it
    // gives up progress rather than safety.
    config.faults.partitions[0].cut = Cut::Agents((50..100).collect());
    let mut halves = Simulation::new(config, Box::new(DiscardSink));
    for _ in 0..149 {
        halves.step();
    }
    assert_eq!(share(&immune(&halves), &(0..100).collect::<Vec<_>>()), 0.0);
}

#[test]
fn agents_back_from_churn_catch_up_on_the_acceptances_they_missed() {
    let mut config = SimConfig::default();
    config.simulation.steps = 300;
    config.faults.churn = ChurnConfig {
        crash_probability: 0.01,
        mean_downtime: 30,
    };
    let mut simulation = Simulation::new(config, Box::new(DiscardSink));
    let agents = 100;
    // Ticks at which each agent was down.
    let mut down: Vec<Vec<u32>> = vec![Vec::new(); agents];
    let mut first_immune: Vec<Option<u32>> = vec![None; agents];
    for tick in 1..=300u32 {
        simulation.step();
        let world = simulation.world();
        let directory = world.resource::<AgentDirectory>().agents.clone();
        for (a, &e) in directory.iter().enumerate() {
            if !world.get::<Liveness>(e).is_some_and(|l| l.is_up()) {
                down[a].push(tick);
            }
        }
        for (a, &flag) in immune(&simulation).iter().enumerate() {
            if flag && first_immune[a].is_none() {
                first_immune[a] = Some(tick);
            }
        }
    }
    let churned = down.iter().filter(|d| !d.is_empty()).count();
    assert!(
        churned >= 30,
        "churn took {churned} agents down at some point"
    );
    // The campaign's acceptances flood out around the time the first agents become immune. An agent that was down
    // then, and came back, heard none of that flood: it can only have caught up from its neighbours on return.
    let flood = first_immune
        .iter()
        .flatten()
        .min()
        .copied()
        .expect("some agent immunises");
    let missed: Vec<usize> = (0..agents)
        .filter(|&a| (flood..flood + 5).all(|t| down[a].contains(&t)))
        .filter(|&a| !down[a].contains(&300))
        .collect();
    assert!(
        !missed.is_empty(),
        "some agent was down through the flood (tick {flood})"
    );
    let caught_up = missed
        .iter()
        .filter(|&&a| first_immune[a].is_some())
        .count();
    assert_eq!(
        caught_up,
        missed.len(),
        "every agent down through the flood at tick {flood} and back by the end is immune: {missed:?}, \
         first immune at {:?}",
        missed.iter().map(|&a| first_immune[a]).collect::<Vec<_>>()
    );
    // ...and became so within a few ticks of coming back, not by waiting for a new signature.
    for &a in &missed {
        let back = (flood..=300)
            .find(|t| !down[a].contains(t))
            .expect("back by the end");
        let immune_at = first_immune[a].expect("checked above");
        assert!(
            immune_at <= back + 3,
            "agent {a} back at {back} but immune only at {immune_at}"
        );
    }
}

fn time_to_immunity(config: SimConfig) -> Option<u32> {
    let steps = config.simulation.steps;
    let mut simulation = Simulation::new(config, Box::new(DiscardSink));
    for _ in 0..steps {
        simulation.step();
    }
    simulation.world().resource::<RunTotals>().time_to_immunity[0]
}

#[test]
fn slower_links_and_narrower_ones_delay_immunity() {
    let base = SimConfig::default();
    let on_time = time_to_immunity(base.clone()).expect("the default run immunises");
    let mut slow = base.clone();
    slow.network.latency_distribution = LatencyDistribution::LogNormal {
        median: 3.0,
        sigma: 0.5,
    };
    let slow_time = time_to_immunity(slow).expect("slow links still immunise");
    assert!(
        slow_time > on_time,
        "log-normal links (median 3): {slow_time} vs {on_time}"
    );

    let mut narrow = base;
    narrow.network.bandwidth = 2;
    let narrow_time = time_to_immunity(narrow);
    assert!(
        narrow_time.is_none_or(|t| t > on_time),
        "2 messages per link per tick: {narrow_time:?} vs {on_time}"
    );
}

#[test]
fn a_scale_free_network_shrugs_off_random_crashes_but_not_an_attack_on_its_hubs() {
    let config = |faults: &str| {
        let mut config = SimConfig::default();
        config.simulation.agents = 300;
        config.simulation.steps = 300;
        config.simulation.seed = 1;
        config.network.topology = dais::config::Topology::BarabasiAlbert;
        match faults {
            "hubs" => {
                config.faults.targeted_crashes = vec![dais::config::TargetedCrash {
                    tick: 45,
                    target: dais::config::CrashTarget::Hubs(10),
                }]
            }
            "random" => {
                config.faults.crash_fraction = 10.0 / 300.0;
                config.faults.crash_tick = 45;
            }
            _ => {}
        }
        config
    };
    let intact = time_to_immunity(config("none")).expect("immunises");
    let random = time_to_immunity(config("random")).expect("immunises despite random crashes");
    let hubs = time_to_immunity(config("hubs"));
    assert!(
        random <= intact + 5,
        "10 random crashes: {random} vs {intact}"
    );
    assert!(
        hubs.is_none_or(|t| t >= intact + 30),
        "10 hubs crashed: {hubs:?} vs {intact}"
    );
}
