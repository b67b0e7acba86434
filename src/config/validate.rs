//! Validation: every value of a `SimConfig` is checked before a run starts, and the first impossible one is named
//! with its field path, the value, and what is accepted.

use thiserror::Error;

use super::*;

/// One rejected value: the field, what it was, and what is accepted.
#[derive(Debug, Error, PartialEq, Clone)]
#[error("invalid config: {field} = {value}: {expected}")]
pub struct InvalidField {
    pub field: String,
    pub value: String,
    pub expected: String,
}

fn invalid(
    field: impl Into<String>,
    value: impl std::fmt::Display,
    expected: impl Into<String>,
) -> InvalidField {
    InvalidField {
        field: field.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

fn check_fraction(field: &str, value: f64) -> Result<(), InvalidField> {
    if !(0.0..=1.0).contains(&value) {
        return Err(invalid(field, value, "must be a fraction between 0 and 1"));
    }
    Ok(())
}

fn check_range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    value: T,
    lo: T,
    hi: T,
) -> Result<(), InvalidField> {
    if value < lo || value > hi {
        return Err(invalid(
            field,
            value,
            format!("must be between {lo} and {hi}"),
        ));
    }
    Ok(())
}

impl SimConfig {
    /// Checks every value; the first impossible one is reported.
    pub fn validate(&self) -> Result<(), InvalidField> {
        let s = &self.simulation;
        check_range("simulation.agents", s.agents, 1, MAX_AGENTS)?;
        check_range("simulation.steps", s.steps, 1, MAX_STEPS)?;
        check_range("simulation.samples_per_tick", s.samples_per_tick, 1, 1024)?;
        let n = &self.network;
        match n.topology {
            Topology::WattsStrogatz => {
                if n.neighbours < 2
                    || !n.neighbours.is_multiple_of(2)
                    || n.neighbours >= s.agents.max(3)
                {
                    return Err(invalid(
                        "network.neighbours",
                        n.neighbours,
                        format!(
                            "must be even, at least 2 and below simulation.agents ({})",
                            s.agents
                        ),
                    ));
                }
                check_fraction("network.rewire_probability", n.rewire_probability)?;
            }
            Topology::ErdosRenyi => check_fraction("network.edge_probability", n.edge_probability)?,
            Topology::BarabasiAlbert => check_range(
                "network.attach",
                n.attach,
                1,
                s.agents.saturating_sub(1).max(1),
            )?,
            // n(n-1)/2 links: past this the adjacency alone would not fit in memory on this kind of machine.
            Topology::FullMesh if s.agents > MAX_FULL_MESH_AGENTS => {
                return Err(invalid(
                    "simulation.agents",
                    s.agents,
                    format!(
                        "must be at most {MAX_FULL_MESH_AGENTS} with network.topology = full_mesh"
                    ),
                ));
            }
            _ => {}
        }
        check_range("network.latency", n.latency, 1, 1000)?;
        match n.latency_distribution {
            LatencyDistribution::Constant => {}
            LatencyDistribution::Uniform { min, max } => {
                check_range("network.latency_distribution.min", min, 1, 1000)?;
                check_range("network.latency_distribution.max", max, min, 1000)?;
            }
            LatencyDistribution::LogNormal { median, sigma } => {
                check_range("network.latency_distribution.median", median, 1.0, 1000.0)?;
                check_range("network.latency_distribution.sigma", sigma, 0.0, 3.0)?;
            }
        }
        if !(0.0..1.0).contains(&n.loss) {
            return Err(invalid(
                "network.loss",
                n.loss,
                "must be at least 0 and below 1",
            ));
        }
        check_range("network.ttl", n.ttl, 1, 100_000)?;
        check_range("network.fan_out", n.fan_out, 0, MAX_AGENTS)?;
        let t = &self.traffic;
        check_range("traffic.profile_spread", t.profile_spread, 0.0, 5.0)?;
        let flows = match &t.source {
            TrafficSource::Generator => None,
            TrafficSource::Flows(source) => Some(source),
        };
        if let Some(source) = flows {
            if source.path.is_empty() {
                return Err(invalid(
                    "traffic.source.path",
                    "\"\"",
                    "must name a CSV file of flow records",
                ));
            }
            match &source.resolved {
                None => {
                    return Err(invalid(
                        "traffic.source.resolved",
                        "None",
                        "is filled when dais loads the config; the file has not been read",
                    ));
                }
                Some(r) if r.labels.len() != t.campaigns.len() => {
                    return Err(invalid(
                        "traffic.campaigns",
                        format!("{} campaigns", t.campaigns.len()),
                        format!(
                            "must be the flow file's {} attack labels (they are made from it)",
                            r.labels.len()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        check_range("traffic.attack_noise", t.attack_noise, 0.01, 5.0)?;
        for (i, c) in t.campaigns.iter().enumerate() {
            let field = |name: &str| format!("traffic.campaigns[{i}].{name}");
            // The name is a metrics.csv column suffix and a summary.json key: one spelling everywhere.
            let well_formed = !c.name.is_empty()
                && c.name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
            if !well_formed {
                return Err(invalid(
                    field("name"),
                    format!("{:?}", c.name),
                    "must be lowercase letters, digits and _ (it names metrics.csv columns)",
                ));
            }
            if t.campaigns[..i].iter().any(|other| other.name == c.name) {
                return Err(invalid(
                    field("name"),
                    format!("{:?}", c.name),
                    "must differ from the other campaigns' names",
                ));
            }
            if (c.kind == CampaignKind::Recorded) != flows.is_some() {
                return Err(invalid(
                    field("kind"),
                    format!("{:?}", c.kind),
                    "recorded campaigns come from a flow file (traffic.source = flows(...)), and only from one",
                ));
            }
            // A label first seen in the last tick's rows starts there.
            if c.start_tick >= s.steps && !(flows.is_some() && c.start_tick == s.steps) {
                return Err(invalid(
                    field("start_tick"),
                    c.start_tick,
                    format!(
                        "must be before the last step (simulation.steps = {})",
                        s.steps
                    ),
                ));
            }
            if c.origins.is_empty() {
                return Err(invalid(
                    field("origins"),
                    "[]",
                    "must name at least one agent",
                ));
            }
            if let Some(&bad) = c.origins.iter().find(|&&o| o >= s.agents) {
                return Err(invalid(
                    field("origins"),
                    bad,
                    format!("must be an agent index between 0 and {}", s.agents - 1),
                ));
            }
            check_fraction(&field("intensity"), c.intensity)?;
            check_fraction(&field("spread_probability"), c.spread_probability)?;
            if !c.shift.is_empty() && c.shift.len() != FEATURE_COUNT {
                return Err(invalid(
                    field("shift"),
                    format!("{} values", c.shift.len()),
                    format!("must be empty (use the kind's preset) or hold {FEATURE_COUNT} values"),
                ));
            }
            if !c.drift.is_empty() && c.drift.len() != FEATURE_COUNT {
                return Err(invalid(
                    field("drift"),
                    format!("{} values", c.drift.len()),
                    format!("must be empty (no drift) or hold {FEATURE_COUNT} values"),
                ));
            }
            check_range(&field("ramp_ticks"), c.ramp_ticks, 0, MAX_STEPS)?;
            if let Some(e) = &c.evasion {
                check_fraction(&field("evasion.at_share"), e.at_share)?;
                check_range(&field("evasion.distance"), e.distance, 0.1, 50.0)?;
                check_range(&field("evasion.mutations"), e.mutations, 1, 1000)?;
            }
        }
        let d = &self.detector;
        check_range("detector.trees", d.trees, 1, 1000)?;
        check_range("detector.subsample", d.subsample, 2, 4096)?;
        if let ContaminationSetting::Fraction(f) = d.contamination
            && !(f > 0.0 && f <= 0.5)
        {
            return Err(invalid(
                "detector.contamination",
                f,
                "must be \"auto\" or a fraction in (0, 0.5]",
            ));
        }
        check_range("detector.retrain_period", d.retrain_period, 1, MAX_STEPS)?;
        check_range("detector.warmup", d.warmup, 1, s.steps)?;
        check_range("detector.window", d.window, 2, 65_536)?;
        let g = &self.signatures;
        check_range("signatures.min_support", g.min_support, 1, 100_000)?;
        check_range("signatures.merge_similarity", g.merge_similarity, -1.0, 1.0)?;
        check_range("signatures.cluster_ttl", g.cluster_ttl, 1, MAX_STEPS)?;
        check_range("signatures.match_radius", g.match_radius, 0.0, 100.0)?;
        check_range("signatures.min_spread", g.min_spread, 0.001, 100.0)?;
        let v = &self.vote;
        check_range("vote.anomaly_margin", v.anomaly_margin, -1.0, 1.0)?;
        check_range("vote.similarity", v.similarity, -1.0, 1.0)?;
        check_range("vote.evidence_memory", v.evidence_memory, 1, 4096)?;
        let c = &self.consensus;
        check_range("consensus.voting_window", c.voting_window, 1, MAX_STEPS)?;
        if c.rule == ConsensusRule::Quorum {
            check_range("consensus.quorum", c.quorum, 1, s.agents).map_err(|mut e| {
                e.expected = format!(
                    "must be between 1 and the electorate, simulation.agents = {}",
                    s.agents
                );
                e
            })?;
        }
        check_fraction("consensus.min_turnout", c.min_turnout)?;
        check_fraction("consensus.reputation_threshold", c.reputation_threshold)?;
        if let TrustModel::Dirichlet { forgetting } = c.trust
            && !(forgetting > 0.0 && forgetting <= 1.0)
        {
            return Err(invalid(
                "consensus.trust.forgetting",
                forgetting,
                "must be a fraction in (0, 1] (1 forgets nothing)",
            ));
        }
        if c.rule == ConsensusRule::CentralAuthority {
            check_range("consensus.authority", c.authority, 0, s.agents - 1)?;
        }
        check_range("consensus.committee_size", c.committee_size, 1, MAX_AGENTS)?;
        let b = &c.snowball;
        check_range("consensus.snowball.k", b.k, 1, 1024)?;
        if 2 * b.alpha <= b.k || b.alpha > b.k {
            return Err(invalid(
                "consensus.snowball.alpha",
                b.alpha,
                format!(
                    "must be a majority of consensus.snowball.k ({}): between {} and {}",
                    b.k,
                    b.k / 2 + 1,
                    b.k
                ),
            ));
        }
        check_range("consensus.snowball.beta", b.beta, 1, 10_000)?;
        let m = &self.immunity;
        check_range("immunity.probes", m.probes, 1, 4096)?;
        if !(m.block_share > 0.0 && m.block_share <= 1.0) {
            return Err(invalid(
                "immunity.block_share",
                m.block_share,
                "must be a fraction in (0, 1]",
            ));
        }
        if !(m.level > 0.0 && m.level <= 1.0) {
            return Err(invalid(
                "immunity.level",
                m.level,
                "must be a fraction in (0, 1]",
            ));
        }
        let f = &self.faults;
        check_fraction("faults.byzantine_fraction", f.byzantine_fraction)?;
        check_fraction("faults.crash_fraction", f.crash_fraction)?;
        if f.byzantine_fraction + f.crash_fraction > 1.0 {
            return Err(invalid(
                "faults.crash_fraction",
                f.crash_fraction,
                format!(
                    "plus faults.byzantine_fraction ({}) must not exceed 1",
                    f.byzantine_fraction
                ),
            ));
        }
        check_fraction("faults.churn.crash_probability", f.churn.crash_probability)?;
        check_range(
            "faults.churn.mean_downtime",
            f.churn.mean_downtime,
            1,
            MAX_STEPS,
        )?;
        let agents = self.simulation.agents;
        let agent_list = |field: String, list: &[usize]| -> Result<(), InvalidField> {
            match list.iter().find(|&&a| a >= agents) {
                Some(&a) => Err(invalid(
                    field,
                    a,
                    format!("must name agents below simulation.agents ({agents})"),
                )),
                None => Ok(()),
            }
        };
        for (i, crash) in f.targeted_crashes.iter().enumerate() {
            let field = |name: &str| format!("faults.targeted_crashes[{i}].{name}");
            check_range(&field("tick"), crash.tick, 1, MAX_STEPS)?;
            match &crash.target {
                CrashTarget::Hubs(k) => check_range(&field("target"), *k, 1, agents)?,
                CrashTarget::Authority => {}
                CrashTarget::Agents(list) => agent_list(field("target"), list)?,
            }
        }
        let mut drawn = ((f.byzantine_fraction * agents as f64).round()
            + (f.crash_fraction * agents as f64).round()) as usize;
        for (i, group) in f.adversaries.iter().enumerate() {
            let field = |name: &str| format!("faults.adversaries[{i}].{name}");
            check_fraction(&field("fraction"), group.fraction)?;
            let size = group.size(agents);
            if size == 0 {
                return Err(invalid(
                    field("count"),
                    group.count,
                    "the group is empty: give it a count or a fraction",
                ));
            }
            drawn += size;
            if drawn > agents {
                return Err(invalid(
                    field("count"),
                    size,
                    format!(
                        "the groups, Byzantine and crashing agents together take {drawn} agents, more than simulation.agents ({agents})"
                    ),
                ));
            }
            match &group.strategy {
                Adversary::Betrayal { at, .. } => {
                    check_range(&field("strategy.at"), *at, 1, MAX_STEPS)?
                }
                Adversary::OnOff {
                    honest, malicious, ..
                } => {
                    check_range(&field("strategy.honest"), *honest, 1, MAX_STEPS)?;
                    check_range(&field("strategy.malicious"), *malicious, 1, MAX_STEPS)?;
                }
                Adversary::Sybil { at, identities, .. } => {
                    check_range(&field("strategy.at"), *at, 1, MAX_STEPS)?;
                    check_range(&field("strategy.identities"), *identities, 1, MAX_AGENTS)?;
                }
                // A newcomer's trust is 0.5: a threshold at or above it would rejoin every tick.
                Adversary::Whitewashing { threshold, .. }
                    if !(*threshold > 0.0 && *threshold < 0.5) =>
                {
                    return Err(invalid(
                        field("strategy.threshold"),
                        threshold,
                        "must be a trust level in (0, 0.5), below a newcomer's",
                    ));
                }
                Adversary::Poisoning { .. } if flows.is_some() => {
                    return Err(invalid(
                        field("strategy"),
                        "poisoning",
                        "needs generated traffic: a flow file's campaigns have no distribution to draw poison from",
                    ));
                }
                Adversary::Poisoning {
                    campaign,
                    samples_per_tick,
                } => {
                    let campaigns = self.traffic.campaigns.len();
                    if *campaign >= campaigns {
                        return Err(invalid(
                            field("strategy.campaign"),
                            campaign,
                            format!("must name one of the {campaigns} campaigns (counting from 0)"),
                        ));
                    }
                    check_range(
                        &field("strategy.samples_per_tick"),
                        *samples_per_tick,
                        1,
                        self.detector.window,
                    )?;
                }
                _ => {}
            }
        }
        if self.population() > MAX_AGENTS {
            return Err(invalid(
                "faults.adversaries",
                self.population(),
                format!("agents plus Sybil identities must not exceed {MAX_AGENTS}"),
            ));
        }
        for (i, partition) in f.partitions.iter().enumerate() {
            let field = |name: &str| format!("faults.partitions[{i}].{name}");
            check_range(&field("tick"), partition.tick, 1, MAX_STEPS)?;
            if partition.heal <= partition.tick {
                return Err(invalid(
                    field("heal"),
                    partition.heal,
                    format!("must come after the cut (tick {})", partition.tick),
                ));
            }
            if let Cut::Agents(list) = &partition.cut {
                agent_list(field("cut"), list)?;
            }
        }
        self.validate_interventions()
    }

    /// Checks the interventions alone (each names an agent and campaign of the run, at a tick of it).
    pub fn validate_interventions(&self) -> Result<(), InvalidField> {
        let population = self.population();
        for (i, (tick, action)) in self.interventions.iter().enumerate() {
            let field = |name: &str| format!("interventions[{i}].{name}");
            check_range(&field("tick"), *tick, 1, self.simulation.steps)?;
            for agent in action.agents() {
                if agent >= population {
                    return Err(invalid(
                        field("agent"),
                        agent,
                        format!("must name an agent below {population}"),
                    ));
                }
            }
            match *action {
                Intervention::StartCampaign { campaign, .. }
                    if campaign >= self.traffic.campaigns.len() =>
                {
                    return Err(invalid(
                        field("campaign"),
                        campaign,
                        format!(
                            "must name one of the {} campaigns (0 to {})",
                            self.traffic.campaigns.len(),
                            self.traffic.campaigns.len().saturating_sub(1)
                        ),
                    ));
                }
                Intervention::Cut(a, b) | Intervention::Restore(a, b) if a == b => {
                    return Err(invalid(
                        field("link"),
                        format!("({a}, {b})"),
                        "must join two different agents",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(config: &SimConfig) -> String {
        config.validate().expect_err("should be rejected").field
    }

    #[test]
    fn an_impossible_intervention_names_its_place_in_the_list() {
        let with = |interventions: Vec<(u32, Intervention)>| SimConfig {
            interventions,
            ..Default::default()
        };
        let c = with(vec![
            (5, Intervention::Crash(3)),
            (0, Intervention::Crash(3)),
        ]);
        assert_eq!(field_of(&c), "interventions[1].tick");
        let c = with(vec![(5, Intervention::Revive(100))]);
        assert_eq!(field_of(&c), "interventions[0].agent");
        let c = with(vec![(
            5,
            Intervention::StartCampaign { campaign: 9, at: 1 },
        )]);
        assert_eq!(field_of(&c), "interventions[0].campaign");
        let c = with(vec![(5, Intervention::Cut(4, 4))]);
        assert_eq!(field_of(&c), "interventions[0].link");
        assert!(
            with(vec![(300, Intervention::Cut(4, 5))])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn each_impossible_value_names_its_field() {
        let mut c = SimConfig::default();
        c.simulation.agents = 0;
        assert_eq!(field_of(&c), "simulation.agents");

        let mut c = SimConfig::default();
        c.faults.byzantine_fraction = 1.5;
        let err = c.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config: faults.byzantine_fraction = 1.5: must be a fraction between 0 and 1"
        );

        let mut c = SimConfig::default();
        c.consensus.rule = ConsensusRule::Quorum;
        c.consensus.quorum = 101;
        assert_eq!(field_of(&c), "consensus.quorum");

        let mut c = SimConfig::default();
        c.traffic.campaigns[0].start_tick = 300;
        assert_eq!(field_of(&c), "traffic.campaigns[0].start_tick");

        let mut c = SimConfig::default();
        c.traffic.campaigns[0].origins = vec![100];
        assert_eq!(field_of(&c), "traffic.campaigns[0].origins");

        let mut c = SimConfig::default();
        c.network.loss = 1.0;
        assert_eq!(field_of(&c), "network.loss");

        let mut c = SimConfig::default();
        c.network.neighbours = 3;
        assert_eq!(field_of(&c), "network.neighbours");

        let mut c = SimConfig::default();
        c.detector.contamination = ContaminationSetting::Fraction(0.7);
        assert_eq!(field_of(&c), "detector.contamination");

        let mut c = SimConfig::default();
        c.detector.trees = 0;
        assert_eq!(field_of(&c), "detector.trees");

        let mut c = SimConfig::default();
        c.faults.byzantine_fraction = 0.6;
        c.faults.crash_fraction = 0.6;
        assert_eq!(field_of(&c), "faults.crash_fraction");

        let mut c = SimConfig::default();
        c.consensus.rule = ConsensusRule::CentralAuthority;
        c.consensus.authority = 100;
        assert_eq!(field_of(&c), "consensus.authority");

        let mut c = SimConfig::default();
        c.traffic.campaigns[0].shift = vec![1.0];
        assert_eq!(field_of(&c), "traffic.campaigns[0].shift");

        let mut c = SimConfig::default();
        c.consensus.committee_size = 0;
        assert_eq!(field_of(&c), "consensus.committee_size");

        let mut c = SimConfig::default();
        c.network.latency_distribution = LatencyDistribution::Uniform { min: 4, max: 2 };
        assert_eq!(field_of(&c), "network.latency_distribution.max");
        c.network.latency_distribution = LatencyDistribution::LogNormal {
            median: 0.5,
            sigma: 0.5,
        };
        assert_eq!(field_of(&c), "network.latency_distribution.median");

        let mut c = SimConfig::default();
        c.traffic.campaigns[0].drift = vec![0.1; 3];
        assert_eq!(field_of(&c), "traffic.campaigns[0].drift");
        c.traffic.campaigns[0].drift = vec![0.1; 8];
        c.traffic.campaigns[0].evasion = Some(EvasionConfig {
            at_share: 1.5,
            ..EvasionConfig::default()
        });
        assert_eq!(field_of(&c), "traffic.campaigns[0].evasion.at_share");

        let mut c = SimConfig::default();
        c.consensus.trust = TrustModel::Dirichlet { forgetting: 0.0 };
        assert_eq!(field_of(&c), "consensus.trust.forgetting");

        let mut c = SimConfig::default();
        c.faults.churn.crash_probability = 1.5;
        assert_eq!(field_of(&c), "faults.churn.crash_probability");

        let mut c = SimConfig::default();
        c.faults.targeted_crashes = vec![TargetedCrash {
            tick: 10,
            target: CrashTarget::Agents(vec![3, 100]),
        }];
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "faults.targeted_crashes[0].target");
        assert_eq!(err.value, "100");

        let mut c = SimConfig::default();
        c.faults.partitions = vec![PartitionConfig {
            tick: 50,
            heal: 50,
            cut: Cut::Bisection,
        }];
        assert_eq!(field_of(&c), "faults.partitions[0].heal");

        let mut c = SimConfig::default();
        c.consensus.snowball.alpha = 5;
        let err = c.validate().unwrap_err();
        assert_eq!(err.field, "consensus.snowball.alpha");
        assert!(err.expected.contains("between 6 and 10"), "{err}");

        let mut c = SimConfig::default();
        c.consensus.snowball.beta = 0;
        assert_eq!(field_of(&c), "consensus.snowball.beta");

        let mut c = SimConfig::default();
        c.simulation.steps = 0;
        assert_eq!(field_of(&c), "simulation.steps");

        let mut c = SimConfig::default();
        c.network.topology = Topology::FullMesh;
        c.simulation.agents = 50_000;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("with network.topology = full_mesh")
        );

        let mut c = SimConfig::default();
        c.simulation.samples_per_tick = 0;
        assert_eq!(field_of(&c), "simulation.samples_per_tick");

        let mut c = SimConfig::default();
        c.detector.warmup = 400;
        assert_eq!(field_of(&c), "detector.warmup");

        let mut c = SimConfig::default();
        c.network.topology = Topology::ErdosRenyi;
        c.network.edge_probability = -0.1;
        assert_eq!(field_of(&c), "network.edge_probability");

        let mut c = SimConfig::default();
        c.network.latency = 0;
        assert_eq!(field_of(&c), "network.latency");

        let mut c = SimConfig::default();
        c.traffic.campaigns[0].intensity = 1.2;
        assert_eq!(field_of(&c), "traffic.campaigns[0].intensity");

        let mut c = SimConfig::default();
        c.traffic.campaigns[0].origins.clear();
        assert_eq!(field_of(&c), "traffic.campaigns[0].origins");
        // One spelling everywhere: a campaign's name is a metrics.csv column suffix as it stands.
        let mut c = SimConfig::default();
        c.traffic.campaigns[0].name = "port-scan".into();
        assert_eq!(field_of(&c), "traffic.campaigns[0].name");
        let mut c = SimConfig::default();
        c.traffic.campaigns.push(c.traffic.campaigns[0].clone());
        c.traffic.campaigns[1].start_tick = 50;
        assert_eq!(field_of(&c), "traffic.campaigns[1].name");
        let mut c = SimConfig::default();
        c.immunity.block_share = 0.0;
        assert_eq!(field_of(&c), "immunity.block_share");

        let mut c = SimConfig::default();
        c.consensus.min_turnout = 1.5;
        assert_eq!(field_of(&c), "consensus.min_turnout");
    }

    #[test]
    fn a_bad_adversary_group_names_its_index_and_field() {
        let with = |group: &str| {
            let mut c = SimConfig::default();
            c.faults.adversaries =
                ron::from_str(&format!("[(count: 5, strategy: collude), {group}]")).unwrap();
            c.validate().expect_err("should be rejected")
        };
        let e = with("(count: 0, strategy: collude)");
        assert_eq!(e.field, "faults.adversaries[1].count");
        let e = with("(fraction: 0.99, strategy: collude)");
        assert_eq!(e.field, "faults.adversaries[1].count");
        assert!(e.expected.contains("more than simulation.agents"), "{e}");
        let e = with("(count: 1, strategy: poisoning(campaign: 3, samples_per_tick: 4))");
        assert_eq!(e.field, "faults.adversaries[1].strategy.campaign");
        let e = with("(count: 1, strategy: whitewashing(threshold: 1.5, strategy: forge))");
        assert_eq!(e.field, "faults.adversaries[1].strategy.threshold");
        let e = with("(count: 1, strategy: on_off(honest: 0, malicious: 5, strategy: forge))");
        assert_eq!(e.field, "faults.adversaries[1].strategy.honest");
        let e = with("(count: 1, strategy: sybil(at: 5, identities: 999999, strategy: forge))");
        assert_eq!(e.field, "faults.adversaries");
    }
}
