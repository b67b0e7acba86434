//! Measure: per-tick metrics against ground truth. This is the only stage that reads sample labels (through the
//! agents' `TickCounts`) and signatures' true origin. Detection counts cover honest live agents; a sample counts
//! as caught when the forest flagged it or the blacklist blocked it. The README's "Metrics" section defines every
//! figure, with its population and whether it is per tick or cumulative.

use bevy::prelude::*;
use serde::Serialize;

use super::adversaries::{Insider, is_adversary};
use super::components::*;
use super::gossip::InFlight;
use super::signature::SignatureRegistry;
use super::traffic::Campaigns;
use super::{Pipeline, TickContext, TickEvents};
use crate::ledger::LedgerTotals;
use crate::model::Outcome;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<RunTotals>()
        .init_resource::<LatestMetrics>();
    app.add_systems(FixedUpdate, measure.in_set(Pipeline::Measure));
}

pub use crate::model::TickMetrics;

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The harmonic mean of precision and recall; `None` where either is undefined, 0 where both are 0.
pub fn f1(precision: Option<f64>, recall: Option<f64>) -> Option<f64> {
    let (p, r) = (precision?, recall?);
    Some(if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    })
}

/// One variant of a campaign, and when agents became immune to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct VariantImmunity {
    pub started: u32,
    pub immune_at: Option<u32>,
}

/// Totals over the run so far.
#[derive(Resource, Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunTotals {
    pub ticks: u32,
    pub attack_samples: u64,
    pub caught: u64,
    pub flagged: u64,
    pub attack_through: u64,
    /// Attack samples past the blacklist that the forest flagged.
    pub attack_through_flagged: u64,
    /// Normal samples at honest live agents, and those flagged or blocked (false positives).
    pub normal_samples: u64,
    pub normal_flagged: u64,
    /// Signatures by outcome, pending ones, ballots and decisions: what the ledger's closing row states.
    pub counts: LedgerTotals,
    pub messages: u64,
    /// Hops sent over the run by kind: announcements, ballots (with Snowball's queries and answers), decisions.
    pub messages_by_kind: [u64; 3],
    pub messages_lost: u64,
    /// Per campaign: the first tick at which `immunity.level` of honest live agents were immune to it.
    pub time_to_immunity: Vec<Option<u32>>,
    /// Per campaign, per variant (the configured campaign, then each mutation of an evasive one): the tick it
    /// began and the first tick `immunity.level` of honest live agents were immune to it.
    pub variant_immunity: Vec<Vec<VariantImmunity>>,
    /// Per campaign: the first tick a forest of an honest live agent flagged one of its samples.
    pub first_detection: Vec<Option<u32>>,
    /// Per campaign, per agent: the first tick the agent, honest and live, was immune to it.
    pub first_immune: Vec<Vec<Option<u32>>>,
    /// The largest share of honest live agents with a false signature in their blacklist, at any tick.
    pub false_blacklist_share_max: f64,
    /// The first tick at which every Byzantine agent's trust was below `consensus.reputation_threshold`.
    pub time_to_demote: Option<u32>,
    /// Per campaign: its samples at honest live agents and how many were blocked, over the whole run.
    pub campaign_samples: Vec<u64>,
    pub campaign_blocked: Vec<u64>,
    /// Per campaign, from its time to immunity on: agent-ticks of compromise (an honest agent with one of its
    /// samples past the blacklist in a tick), and its samples and blocked samples.
    pub compromised_after_immunity: Vec<u64>,
    pub samples_after_immunity: Vec<u64>,
    pub blocked_after_immunity: Vec<u64>,
}

impl RunTotals {
    pub fn detection_precision(&self) -> Option<f64> {
        ratio(self.caught, self.flagged)
    }
    pub fn detection_recall(&self) -> Option<f64> {
        ratio(self.caught, self.attack_samples)
    }
    pub fn detection_f1(&self) -> Option<f64> {
        f1(self.detection_precision(), self.detection_recall())
    }
    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(self.normal_flagged, self.normal_samples)
    }
    /// Messages of every kind per accepted signature; `None` before one was accepted.
    pub fn messages_per_accepted_signature(&self) -> Option<f64> {
        ratio(self.messages, self.accepted())
    }
    /// Per campaign: for each honest agent that became immune to it, the ticks from the campaign's start until it
    /// did, sorted; and how many agents never did.
    pub fn times_to_blacklist(&self, c: usize, start: u32, agents: usize) -> (Vec<u32>, usize) {
        let firsts = self.first_immune.get(c).map_or(&[][..], Vec::as_slice);
        let mut times: Vec<u32> = firsts
            .iter()
            .flatten()
            .map(|&t| t.saturating_sub(start))
            .collect();
        times.sort_unstable();
        let never = agents.saturating_sub(times.len());
        (times, never)
    }
    pub fn accepted(&self) -> u64 {
        self.counts.accepted()
    }
    pub fn settled(&self) -> u64 {
        self.counts.settled()
    }
    /// Proposed but not settled yet: proposed = accepted + rejected + expired + refused + pending, always.
    pub fn pending(&self) -> u64 {
        self.counts.unsettled()
    }
    /// `count` per proposed signature; `None` before any was proposed.
    pub fn per_signature(&self, count: u64) -> Option<f64> {
        ratio(count, self.counts.signatures_proposed)
    }
    /// Share of campaign c's samples blocked over the run; `None` before it sent any.
    pub fn blocked_fraction(&self, c: usize) -> Option<f64> {
        let at = |v: &[u64]| v.get(c).copied().unwrap_or(0);
        ratio(at(&self.campaign_blocked), at(&self.campaign_samples))
    }
    /// The same share from the campaign's time to immunity on.
    pub fn blocked_fraction_after_immunity(&self, c: usize) -> Option<f64> {
        let at = |v: &[u64]| v.get(c).copied().unwrap_or(0);
        ratio(
            at(&self.blocked_after_immunity),
            at(&self.samples_after_immunity),
        )
    }

    fn add(
        &mut self,
        m: &TickMetrics,
        campaigns: &Campaigns,
        level: f64,
        per_campaign: &[CampaignCounts],
    ) {
        self.ticks = m.tick;
        self.attack_samples += m.attack_samples;
        self.caught += m.caught();
        self.flagged += m.flagged();
        self.attack_through += m.attack_through;
        self.attack_through_flagged += m.true_positive;
        self.normal_samples += m.false_positive + m.true_negative + m.normal_blocked;
        self.normal_flagged += m.false_positive + m.normal_blocked;
        self.false_blacklist_share_max = self
            .false_blacklist_share_max
            .max(m.false_blacklist_share.unwrap_or(0.0));
        let c = &mut self.counts;
        c.signatures_proposed += m.signatures_proposed;
        c.signatures_accepted_true += m.signatures_accepted_true;
        c.signatures_accepted_false += m.signatures_accepted_false;
        c.signatures_rejected += m.signatures_rejected;
        c.signatures_expired += m.signatures_expired;
        c.signatures_refused += m.signatures_refused;
        c.ballots += m.ballots_cast;
        self.counts.signatures_pending = self.pending();
        self.messages += m.messages_sent;
        for (total, sent) in self.messages_by_kind.iter_mut().zip([
            m.messages_announce,
            m.messages_ballot,
            m.messages_decision,
        ]) {
            *total += sent;
        }
        self.messages_lost += m.messages_lost;
        let n = campaigns.list.len();
        for v in [
            &mut self.campaign_samples,
            &mut self.campaign_blocked,
            &mut self.compromised_after_immunity,
            &mut self.samples_after_immunity,
            &mut self.blocked_after_immunity,
        ] {
            v.resize(n, 0);
        }
        self.time_to_immunity.resize(n, None);
        self.first_detection.resize(n, None);
        self.variant_immunity.resize(n, Vec::new());
        for (c, campaign) in campaigns.list.iter().enumerate() {
            if m.tick >= campaign.start_tick {
                let variants = &mut self.variant_immunity[c];
                if variants.len() <= campaign.variant as usize {
                    variants.push(VariantImmunity {
                        started: campaign.variant_started,
                        immune_at: None,
                    });
                }
                let current = variants.last_mut().expect("pushed above");
                if current.immune_at.is_none() && m.immune_fraction[c] >= level {
                    current.immune_at = Some(m.tick);
                    // The campaign's time to immunity is its first variant to be beaten.
                    self.time_to_immunity[c].get_or_insert(m.tick);
                }
            }
            if self.first_detection[c].is_none() && m.detected_by[c] > 0 {
                self.first_detection[c] = Some(m.tick);
            }
            let counts = per_campaign[c];
            self.campaign_samples[c] += u64::from(counts.samples);
            self.campaign_blocked[c] += u64::from(counts.blocked);
            if self.time_to_immunity[c].is_some() {
                self.compromised_after_immunity[c] += m.compromised_by[c];
                self.samples_after_immunity[c] += u64::from(counts.samples);
                self.blocked_after_immunity[c] += u64::from(counts.blocked);
            }
        }
    }
}

/// The last tick's metrics. Only the last: `metrics.csv`, the ledger and the view take each tick's as it comes, so
/// the simulation's memory does not grow with the run's length.
#[derive(Resource, Clone, Debug, Default)]
pub struct LatestMetrics {
    pub tick: Option<TickMetrics>,
}

/// The run's figures so far, which Measure adds each tick to.
#[derive(bevy::ecs::system::SystemParam)]
struct Figures<'w> {
    totals: ResMut<'w, RunTotals>,
    latest: ResMut<'w, LatestMetrics>,
}

/// What Measure reads of one agent.
type MeasuredAgent = (
    &'static Agent,
    &'static Role,
    &'static Liveness,
    &'static TickCounts,
    &'static Blacklist,
    &'static Reputation,
    Option<&'static Insider>,
);

fn measure(
    context: TickContext,
    campaigns: Res<Campaigns>,
    registry: Res<SignatureRegistry>,
    in_flight: Res<InFlight>,
    events: Res<TickEvents>,
    mut figures: Figures,
    agents: Query<MeasuredAgent>,
) {
    let Figures {
        ref mut totals,
        ref mut latest,
    } = figures;
    let campaign_count = campaigns.list.len();
    let mut m = TickMetrics {
        tick: context.now(),
        immune_fraction: vec![0.0; campaign_count],
        compromised_by: vec![0; campaign_count],
        immune_leaking: vec![0; campaign_count],
        ..Default::default()
    };
    let mut immune = vec![0u64; campaign_count];
    let mut per_campaign = vec![CampaignCounts::default(); campaign_count];
    let agent_count = context.config().population();
    totals
        .first_immune
        .resize_with(campaign_count, || vec![None; agent_count]);
    // Trust of honest and of Byzantine agents, live or not: (sum, count, the highest Byzantine trust).
    let (mut honest_trust, mut byzantine_trust) = ((0.0, 0u64), (0.0, 0u64));
    let mut highest_byzantine_trust = f64::NEG_INFINITY;
    for (agent, role, liveness, counts, blacklist, reputation, insider) in &agents {
        let trust = reputation.trust();
        // Ground truth: an insider counts as an adversary even while it acts honestly (a betrayer before its
        // tick, a poisoner, a selective forwarder).
        let honest = !is_adversary(*role, insider);
        if honest {
            honest_trust = (honest_trust.0 + trust, honest_trust.1 + 1);
        } else {
            byzantine_trust = (byzantine_trust.0 + trust, byzantine_trust.1 + 1);
            highest_byzantine_trust = highest_byzantine_trust.max(trust);
        }
        if !honest || !liveness.is_up() {
            continue;
        }
        m.honest_live_agents += 1;
        m.attack_samples += u64::from(counts.attack_samples);
        m.true_positive += u64::from(counts.true_positive);
        m.false_positive += u64::from(counts.false_positive);
        m.false_negative += u64::from(counts.false_negative);
        m.true_negative += u64::from(counts.true_negative);
        m.attack_blocked += u64::from(counts.attack_blocked);
        m.normal_blocked += u64::from(counts.normal_blocked);
        m.attack_through += u64::from(counts.attack_through);
        m.compromised_agents += u64::from(counts.attack_through > 0);
        m.false_blacklist_agents += u64::from(blacklist.holds_false_signature());
        for c in 0..campaign_count {
            let is_immune = c < 64 && (blacklist.immune_to >> c) & 1 == 1;
            immune[c] += u64::from(is_immune);
            if is_immune {
                totals.first_immune[c][agent.index as usize].get_or_insert(m.tick);
            }
            if let Some(k) = counts.by_campaign.get(c) {
                per_campaign[c].samples += k.samples;
                per_campaign[c].blocked += k.blocked;
                per_campaign[c].flagged += k.flagged;
            }
            if counts.leaked(c) {
                m.compromised_by[c] += 1;
                m.immune_leaking[c] += u64::from(is_immune);
            }
        }
    }
    m.detection_precision = ratio(m.caught(), m.flagged());
    m.detection_recall = ratio(m.caught(), m.attack_samples);
    m.detection_f1 = f1(m.detection_precision, m.detection_recall);
    m.false_positive_rate = ratio(
        m.false_positive + m.normal_blocked,
        m.false_positive + m.true_negative + m.normal_blocked,
    );
    m.false_blacklist_share = ratio(m.false_blacklist_agents, m.honest_live_agents);
    m.detected_by = per_campaign.iter().map(|k| u64::from(k.flagged)).collect();
    m.variant_of = campaigns
        .list
        .iter()
        .map(|c| u64::from(c.variant))
        .collect();
    if honest_trust.1 > 0 && byzantine_trust.1 > 0 {
        m.trust_gap = Some(
            honest_trust.0 / honest_trust.1 as f64 - byzantine_trust.0 / byzantine_trust.1 as f64,
        );
        if totals.time_to_demote.is_none()
            && highest_byzantine_trust < context.config().consensus.reputation_threshold
        {
            totals.time_to_demote = Some(m.tick);
        }
    }
    for (c, count) in immune.iter().enumerate() {
        m.immune_fraction[c] = *count as f64 / m.honest_live_agents.max(1) as f64;
    }
    m.blocked_fraction = per_campaign
        .iter()
        .map(|k| ratio(u64::from(k.blocked), u64::from(k.samples)))
        .collect();
    m.reached_fraction = (0..campaign_count)
        .map(|c| campaigns.reached_count(c) as f64 / campaigns.reached[c].len().max(1) as f64)
        .collect();
    m.signatures_proposed = events.proposals.len() as u64;
    m.ballots_cast = events.ballots.len() as u64;
    for settlement in &events.settled {
        let truthful = registry.get(settlement.sig).signature.truth != NORMAL;
        match (settlement.outcome, truthful) {
            (Outcome::Accepted, true) => m.signatures_accepted_true += 1,
            (Outcome::Accepted, false) => m.signatures_accepted_false += 1,
            (Outcome::Rejected, _) => m.signatures_rejected += 1,
            (Outcome::Expired, _) => m.signatures_expired += 1,
            (Outcome::Refused, _) => m.signatures_refused += 1,
        }
    }
    let [announce, ballot, decision] = in_flight.sent;
    m.messages_announce = announce;
    m.messages_ballot = ballot;
    m.messages_decision = decision;
    m.messages_sent = announce + ballot + decision;
    m.messages_lost = in_flight.lost;
    m.messages_in_flight = in_flight.pending_count() as u64;
    totals.add(
        &m,
        &campaigns,
        context.config().immunity.level,
        &per_campaign,
    );
    totals.counts.decisions += events.decisions.len() as u64;
    m.signatures_pending = totals.pending();
    latest.tick = Some(m);
}
