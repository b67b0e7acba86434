//! Traffic: each live agent observes a batch of feature vectors from its own normal profile. Where an attack
//! campaign has reached it, a share of the batch comes from the campaign's shifted distribution instead. Campaigns
//! spread like worms: each tick a compromised agent (attack traffic got through its blacklist) passes the campaign
//! to each neighbour with the campaign's probability. Every sample carries its ground-truth label.

use bevy::prelude::*;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::Pipeline;
use super::clock::{SimClock, advance_clock};
use super::components::*;
use super::network::Network;
use crate::config::{CampaignConfig, CampaignKind, FEATURE_COUNT, TrafficConfig};

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        FixedUpdate,
        (
            advance_clock,
            super::adversaries::act_insiders,
            evolve_campaigns,
            super::faults::churn_agents,
            super::interventions::apply_interventions,
            super::faults::crash_agents,
            super::faults::send_missed_decisions,
            spread_campaigns,
            draw_traffic.run_if(not(super::flows::from_flows)),
            super::flows::feed_flows.run_if(super::flows::from_flows),
            super::adversaries::poison_windows,
        )
            .chain()
            .in_set(Pipeline::Traffic),
    );
}

/// Names of the traffic features, in vector order. Values are in standard deviations of the network baseline.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "packet_size",
    "flow_duration",
    "bytes_in",
    "bytes_out",
    "connection_rate",
    "port_entropy",
    "failed_logins",
    "distinct_destinations",
];

/// The feature shift of each preset campaign kind, in standard deviations.
pub fn preset_shift(kind: CampaignKind) -> Features {
    match kind {
        //                        size  dur   in    out   rate  ports fails dests
        CampaignKind::PortScan => [-2.0, -1.5, 0.0, 0.0, 3.0, 4.0, 0.0, 3.5],
        CampaignKind::Ddos => [-1.5, -2.0, 4.0, 0.0, 5.0, 0.0, 0.0, 1.0],
        CampaignKind::Exfiltration => [2.0, 3.0, 0.0, 5.0, 0.0, 0.0, 0.0, -1.0],
        CampaignKind::BruteForce => [0.0, 0.0, 0.0, 0.0, 2.5, -1.5, 5.0, 0.0],
        // A flow file's rows are its samples: nothing to shift.
        CampaignKind::Recorded => [0.0; 8],
    }
}

/// A campaign as the simulation runs it. `shift` and `intensity` are this tick's: drift, a ramp or a mutation
/// (`evolve_campaigns`) move them from the configured ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Campaign {
    pub name: String,
    pub start_tick: u32,
    pub origins: Vec<usize>,
    pub intensity: f64,
    pub spread_probability: f64,
    pub shift: Features,
    /// The configured intensity, which a ramp climbs to.
    pub full_intensity: f64,
    pub ramp_ticks: u32,
    /// Shift per tick, if it drifts.
    pub drift: Option<Features>,
    pub evasion: Option<crate::config::EvasionConfig>,
    /// Mutations so far (0: the configured campaign), the tick the current variant began, and its shift then.
    pub variant: u32,
    pub variant_started: u32,
    pub variant_shift: Features,
    /// The first tick after which it spreads: its start, or earlier when an intervention started it somewhere.
    pub spreading_from: u32,
}

impl Campaign {
    pub fn from_config(config: &CampaignConfig) -> Self {
        let shift = if config.shift.is_empty() {
            preset_shift(config.kind)
        } else {
            std::array::from_fn(|i| config.shift[i])
        };
        Self {
            name: config.name.clone(),
            start_tick: config.start_tick,
            origins: config.origins.clone(),
            intensity: config.intensity,
            spread_probability: config.spread_probability,
            shift,
            full_intensity: config.intensity,
            ramp_ticks: config.ramp_ticks,
            drift: (!config.drift.is_empty()).then(|| std::array::from_fn(|i| config.drift[i])),
            evasion: config.evasion.clone(),
            variant: 0,
            variant_started: config.start_tick,
            variant_shift: shift,
            spreading_from: config.start_tick,
        }
    }

    /// Whether anything about it changes while it runs.
    fn evolves(&self) -> bool {
        self.ramp_ticks > 0 || self.drift.is_some() || self.evasion.is_some()
    }

    /// One of this campaign's samples at an agent with the given profile, for a given standard-normal draw: the
    /// same formula `fill_batch` draws attack traffic with.
    pub fn sample_at(&self, profile: &NormalProfile, noise: f32, draw: &Features) -> Features {
        std::array::from_fn(|i| profile.mean[i] + self.shift[i] + noise * draw[i])
    }
}

/// All campaigns, and the tick each one reached each agent.
#[derive(Resource, Debug)]
pub struct Campaigns {
    pub list: Vec<Campaign>,
    /// `reached[c][agent]`: the tick campaign c reached the agent.
    pub reached: Vec<Vec<Option<u32>>>,
    pub attack_noise: f32,
    /// Standard-normal draws, fixed for the run, that turn into each campaign's probe samples at an agent
    /// (`Campaign::sample_at`). Immunity is measured on them, so it tracks the campaign's whole distribution, not
    /// its centre alone.
    pub probe_draws: Vec<Features>,
    /// Per campaign of a flow file: rows of it, as samples, that immunity is measured on instead (empty for
    /// generated campaigns).
    pub recorded_probes: Vec<Vec<Features>>,
    rng: ChaCha8Rng,
}

impl Campaigns {
    pub fn new(
        config: &TrafficConfig,
        agents: usize,
        rng: ChaCha8Rng,
        probes: usize,
        probe_rng: &mut ChaCha8Rng,
    ) -> Self {
        let list: Vec<Campaign> = config.campaigns.iter().map(Campaign::from_config).collect();
        let reached = vec![vec![None; agents]; list.len()];
        let probe_draws = (0..probes)
            .map(|_| std::array::from_fn(|_| probe_rng.sample::<f32, _>(StandardNormal)))
            .collect();
        Self {
            list,
            reached,
            attack_noise: config.attack_noise,
            probe_draws,
            recorded_probes: Vec::new(),
            rng,
        }
    }

    /// Campaign c's probe samples at an agent with this profile.
    pub fn probes<'a>(
        &'a self,
        c: usize,
        profile: &'a NormalProfile,
    ) -> impl Iterator<Item = Features> + 'a {
        let campaign = &self.list[c];
        let recorded = self.recorded_probes.get(c).filter(|p| !p.is_empty());
        let generated = recorded.is_none().then(|| {
            self.probe_draws
                .iter()
                .map(move |draw| campaign.sample_at(profile, self.attack_noise, draw))
        });
        generated
            .into_iter()
            .flatten()
            .chain(recorded.into_iter().flatten().copied())
    }

    pub fn reached_count(&self, campaign: usize) -> usize {
        self.reached[campaign]
            .iter()
            .filter(|r| r.is_some())
            .count()
    }
}

/// Draws one normal profile per agent: a mean offset from the baseline and a per-feature spread.
pub fn draw_profile(rng: &mut ChaCha8Rng, profile_spread: f32) -> NormalProfile {
    NormalProfile {
        mean: std::array::from_fn(|_| profile_spread * rng.sample::<f32, _>(StandardNormal)),
        std: std::array::from_fn(|_| rng.random_range(0.8f32..1.2)),
    }
}

/// Campaigns that fight back: a ramp raises the intensity, drift moves the shift a step each tick, and an evasive
/// campaign mutates to a new shift (a jump of `evasion.distance` in a direction drawn from the run seed) once
/// `evasion.at_share` of honest live agents are immune to it, as the previous tick left them. Whenever a shift
/// moves, every agent's immunity is measured again against the campaign as it now is.
fn evolve_campaigns(
    clock: Res<SimClock>,
    settings: Res<super::SimSettings>,
    mut campaigns: ResMut<Campaigns>,
    mut agents: Query<(&Role, &Liveness, &mut Blacklist)>,
) {
    let now = clock.tick;
    if !campaigns.list.iter().any(Campaign::evolves) {
        return;
    }
    let evading: Vec<usize> = (0..campaigns.list.len())
        .filter(|&c| campaigns.list[c].evasion.is_some() && now > campaigns.list[c].start_tick)
        .collect();
    let mut immune = vec![0usize; campaigns.list.len()];
    let mut honest_live = 0usize;
    if !evading.is_empty() {
        for (role, liveness, blacklist) in &agents {
            if role.is_honest() && liveness.is_up() {
                honest_live += 1;
                for &c in &evading {
                    immune[c] += usize::from(c < 64 && (blacklist.immune_to >> c) & 1 == 1);
                }
            }
        }
    }
    let seed = settings.config.simulation.seed;
    let mut moved = false;
    for (c, campaign) in campaigns.list.iter_mut().enumerate() {
        if now < campaign.start_tick || !campaign.evolves() {
            continue;
        }
        if campaign.ramp_ticks > 0 {
            let progress =
                f64::from(now - campaign.start_tick + 1) / f64::from(campaign.ramp_ticks);
            campaign.intensity = campaign.full_intensity * progress.min(1.0);
        }
        if let Some(evasion) = &campaign.evasion
            && campaign.variant < evasion.mutations
            && honest_live > 0
            && immune[c] as f64 >= evasion.at_share * honest_live as f64
        {
            let mut rng = super::rng::stream(
                seed,
                super::rng::STREAM_EVASION + ((c as u64) << 20) + u64::from(campaign.variant),
            );
            let direction: Features = std::array::from_fn(|_| rng.sample::<f32, _>(StandardNormal));
            let norm = direction
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(f32::EPSILON);
            campaign.variant_shift =
                std::array::from_fn(|i| campaign.shift[i] + evasion.distance * direction[i] / norm);
            campaign.variant += 1;
            campaign.variant_started = now;
            campaign.shift = campaign.variant_shift;
            moved = true;
        }
        if let Some(drift) = campaign.drift {
            let ticks = (now - campaign.variant_started) as f32;
            campaign.shift = std::array::from_fn(|i| campaign.variant_shift[i] + drift[i] * ticks);
            moved = true;
        }
    }
    if moved {
        for (_, _, mut blacklist) in &mut agents {
            blacklist.immunity_stale = true;
        }
    }
}

/// Starts campaigns at their start tick, then lets each compromised, live agent infect its neighbours.
fn spread_campaigns(
    clock: Res<SimClock>,
    network: Res<Network>,
    partitions: Res<super::links::Partitions>,
    mut campaigns: ResMut<Campaigns>,
    agents: Query<(&Agent, &TickCounts, &Liveness)>,
) {
    let now = clock.tick;
    let mut compromised = vec![false; network.agents()];
    for (agent, counts, liveness) in &agents {
        compromised[agent.index as usize] = liveness.is_up() && counts.attack_through > 0;
    }
    let Campaigns {
        list, reached, rng, ..
    } = &mut *campaigns;
    for (campaign, reached) in list.iter().zip(reached.iter_mut()) {
        if now == campaign.start_tick.max(1) {
            for &origin in &campaign.origins {
                reached[origin].get_or_insert(now);
            }
        }
        if now <= campaign.spreading_from {
            continue;
        }
        // Infections found this tick take effect next tick, so the scan order cannot chain them within one tick.
        let mut newly: Vec<u32> = Vec::new();
        for agent in 0..reached.len() {
            if reached[agent].is_none() || !compromised[agent] {
                continue;
            }
            for &neighbour in network.neighbours(agent as u32) {
                if reached[neighbour as usize].is_none()
                    && !partitions.link_cut(agent as AgentIdx, neighbour)
                    && rng.random_bool(campaign.spread_probability)
                {
                    newly.push(neighbour);
                }
            }
        }
        for agent in newly {
            reached[agent as usize].get_or_insert(now + 1);
        }
    }
}

/// Fills one agent's batch: `samples` draws, each normal or from a campaign that has reached the agent.
pub fn fill_batch(
    batch: &mut TrafficBatch,
    profile: &NormalProfile,
    active: &[&Campaign],
    active_labels: &[Label],
    samples: usize,
    attack_noise: f32,
    rng: &mut ChaCha8Rng,
) {
    batch.samples.clear();
    batch.labels.clear();
    batch.anomalies.clear();
    for _ in 0..samples {
        let mut label = NORMAL;
        if !active.is_empty() {
            let pick = if active.len() == 1 {
                0
            } else {
                rng.random_range(0..active.len())
            };
            if rng.random_bool(active[pick].intensity) {
                label = active_labels[pick];
            }
        }
        let sample: Features = if label == NORMAL {
            std::array::from_fn(|i| {
                profile.mean[i] + profile.std[i] * rng.sample::<f32, _>(StandardNormal)
            })
        } else {
            let campaign = active[(active_labels.iter().position(|&l| l == label)).unwrap_or(0)];
            let draw: Features = std::array::from_fn(|_| rng.sample::<f32, _>(StandardNormal));
            campaign.sample_at(profile, attack_noise, &draw)
        };
        batch.samples.push(sample);
        batch.labels.push(label);
    }
}

fn draw_traffic(
    clock: Res<SimClock>,
    settings: Res<super::SimSettings>,
    campaigns: Res<Campaigns>,
    mut agents: Query<(
        &Agent,
        &Liveness,
        &NormalProfile,
        &mut AgentRng,
        &mut TrafficBatch,
        &mut TickCounts,
    )>,
) {
    let now = clock.tick;
    let samples = settings.config.simulation.samples_per_tick;
    let campaign_count = campaigns.list.len();
    agents
        .par_iter_mut()
        .batching_strategy(super::agent_batches())
        .for_each(
            |(agent, liveness, profile, mut rng, mut batch, mut counts)| {
                counts.reset(campaign_count);
                if !liveness.is_up() {
                    batch.samples.clear();
                    batch.labels.clear();
                    batch.anomalies.clear();
                    return;
                }
                // At most a handful of campaigns: small stack-free vectors are fine here, but avoid them when idle.
                let mut active: Vec<&Campaign> = Vec::new();
                let mut labels: Vec<Label> = Vec::new();
                for (c, campaign) in campaigns.list.iter().enumerate() {
                    if campaigns.reached[c][agent.index as usize].is_some_and(|t| t <= now) {
                        active.push(campaign);
                        labels.push(c as Label + 1);
                    }
                }
                fill_batch(
                    &mut batch,
                    profile,
                    &active,
                    &labels,
                    samples,
                    campaigns.attack_noise,
                    &mut rng.0,
                );
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::agent_rng;

    #[test]
    fn batches_are_labelled_by_ground_truth() {
        let mut rng = agent_rng(1, 0);
        let profile = draw_profile(&mut rng, 0.3);
        let campaign = Campaign::from_config(&CampaignConfig {
            intensity: 0.5,
            ..Default::default()
        });
        let mut batch = TrafficBatch::default();
        fill_batch(
            &mut batch,
            &profile,
            &[&campaign],
            &[1],
            2000,
            0.5,
            &mut rng,
        );
        let attacks: Vec<&Features> = batch
            .samples
            .iter()
            .zip(&batch.labels)
            .filter(|(_, l)| **l == 1)
            .map(|(s, _)| s)
            .collect();
        assert!((900..1100).contains(&attacks.len()), "{}", attacks.len());
        // Port scans push port entropy (feature 5) up by 4 standard deviations.
        let mean_entropy: f32 = attacks.iter().map(|s| s[5]).sum::<f32>() / attacks.len() as f32;
        assert!(
            (mean_entropy - (profile.mean[5] + 4.0)).abs() < 0.1,
            "{mean_entropy}"
        );
        fill_batch(&mut batch, &profile, &[], &[], 100, 0.5, &mut rng);
        assert!(batch.labels.iter().all(|&l| l == NORMAL));
    }
}
