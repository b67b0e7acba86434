//! Learn: a decision that reaches an agent is passed on, and, when its certificate holds and it accepts, the
//! signature enters an honest agent's blacklist. Agents fit their forest when warm-up ends and retrain it
//! periodically (staggered by index so the work spreads over ticks) on their training window, with blacklisted
//! samples removed.

use bevy::prelude::*;

use super::clock::SimClock;
use super::components::*;
use super::signature::SignatureRegistry;
use super::traffic::Campaigns;
use super::{Pipeline, SimSettings};
use crate::config::SimConfig;
use crate::ml::IsolationForest;
use bevy::ecs::query::QueryData;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(FixedUpdate, learn_from_decisions.in_set(Pipeline::Learn));
}

/// Handles the decisions in one agent's inbox; returns whether its blacklist grew.
pub fn apply_decisions(
    now: u32,
    role: Role,
    inbox: &Inbox,
    registry: &SignatureRegistry,
    book: &mut VoteBook,
    blacklist: &mut Blacklist,
    outbox: &mut Outbox,
) -> bool {
    let mut grew = false;
    for &(from, payload) in &inbox.messages {
        let Payload::Decision {
            sig,
            certified_acceptance,
            ttl,
        } = payload
        else {
            continue;
        };
        let known = book.entry(sig);
        if known.decided {
            continue;
        }
        known.decided = true;
        if ttl > 1 {
            outbox.messages.push(Outgoing {
                made_at: now,
                to: Destination::Neighbours { except: Some(from) },
                payload: Payload::Decision {
                    sig,
                    certified_acceptance,
                    ttl: ttl - 1,
                },
            });
        }
        if role.is_honest() && certified_acceptance {
            grew |= blacklist.insert(sig, &registry.get(sig).signature);
        }
    }
    grew
}

/// Which campaigns this agent is immune to, as a bit mask: campaign c's bit is set when the blacklist blocks at
/// least `immunity.block_share` of c's probe samples at this agent's profile. The probes come from the campaign's
/// own distribution, noise included, so "immune" means the agent really blocks that campaign's traffic, not just
/// its centre.
pub fn immunity_mask(
    blacklist: &Blacklist,
    profile: &NormalProfile,
    campaigns: &Campaigns,
    config: &SimConfig,
) -> u64 {
    if blacklist.signatures().is_empty() {
        return 0;
    }
    let radius = config.signatures.match_radius;
    let probes = campaigns.probe_draws.len();
    let needed = (config.immunity.block_share * probes as f64).ceil() as usize;
    (0..campaigns.list.len().min(64))
        .filter(|&c| {
            let blocked = campaigns
                .probes(c, profile)
                .filter(|probe| blacklist.blocks(probe, radius))
                .count();
            blocked >= needed.max(1)
        })
        .fold(0, |mask, c| mask | (1 << c))
}

/// Whether the agent fits or refits its forest this tick.
pub fn retrain_due(detector: &Detector, config: &SimConfig, index: AgentIdx, now: u32) -> bool {
    let d = &config.detector;
    match detector.last_fit_tick {
        None => now >= d.warmup,
        Some(_) => (now + index).is_multiple_of(d.retrain_period),
    }
}

/// Refits the forest on the training window minus anything the blacklist now blocks.
pub fn retrain(
    detector: &mut Detector,
    blacklist: &Blacklist,
    config: &SimConfig,
    rng: &mut AgentRng,
    now: u32,
) {
    let radius = config.signatures.match_radius;
    let mut rows = Vec::with_capacity(detector.window.len() * crate::config::FEATURE_COUNT);
    detector
        .window
        .append_unblocked(blacklist, radius, &mut rows);
    if rows.len() < 2 * crate::config::FEATURE_COUNT {
        return;
    }
    let params = crate::ml::ForestParams {
        trees: config.detector.trees,
        subsample: config.detector.subsample,
        contamination: config.detector.contamination.into(),
    };
    match &mut detector.forest {
        Some(forest) => forest.refit(&rows, crate::config::FEATURE_COUNT, params, &mut rng.0),
        None => {
            detector.forest = Some(IsolationForest::fit(
                &rows,
                crate::config::FEATURE_COUNT,
                params,
                &mut rng.0,
            ))
        }
    }
    detector.last_fit_tick = Some(now);
}

fn learn_from_decisions(
    clock: Res<SimClock>,
    settings: Res<SimSettings>,
    registry: Res<SignatureRegistry>,
    campaigns: Res<Campaigns>,
    mut agents: Query<Learner>,
) {
    let now = clock.tick;
    let config = &settings.config;
    agents
        .par_iter_mut()
        .batching_strategy(super::learner_batches())
        .for_each(|mut learner| {
            if !learner.liveness.is_up() {
                return;
            }
            apply_decisions(
                now,
                *learner.role,
                learner.inbox,
                &registry,
                &mut learner.book,
                &mut learner.blacklist,
                &mut learner.outbox,
            );
            // Also covers a tallier that blacklisted its own decision in Consensus.
            let blacklist = &mut *learner.blacklist;
            if blacklist.immunity_stale {
                blacklist.immune_to = immunity_mask(blacklist, learner.profile, &campaigns, config);
                blacklist.immunity_stale = false;
            }
            if retrain_due(&learner.detector, config, learner.agent.index, now) {
                retrain(
                    &mut learner.detector,
                    &learner.blacklist,
                    config,
                    &mut learner.rng,
                    now,
                );
            }
        });
}

/// What Learn reads and changes of one agent.
#[derive(QueryData)]
#[query_data(mutable)]
struct Learner {
    agent: &'static Agent,
    role: &'static Role,
    liveness: &'static Liveness,
    inbox: &'static Inbox,
    profile: &'static NormalProfile,
    book: &'static mut VoteBook,
    blacklist: &'static mut Blacklist,
    outbox: &'static mut Outbox,
    detector: &'static mut Detector,
    rng: &'static mut AgentRng,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certified_acceptances_reach_an_honest_blacklist() {
        let scan: Features = [-2.0, -1.5, 0.0, 0.0, 3.0, 4.0, 0.0, 3.5];
        let mut registry = SignatureRegistry::default();
        for _ in 0..2 {
            registry
                .records
                .push(crate::sim::signature::SignatureRecord::proposed(
                    Signature {
                        id: 1,
                        centroid: scan,
                        spread: [0.5; 8],
                        count: 6,
                        origin: 0,
                        tick: 1,
                        truth: 1,
                    },
                    false,
                    0,
                    0,
                ));
        }
        let decision = |sig, certified_acceptance| {
            (
                3,
                Payload::Decision {
                    sig,
                    certified_acceptance,
                    ttl: 5,
                },
            )
        };
        let inbox = Inbox {
            messages: vec![decision(0, false), decision(1, true)],
        };
        let (mut book, mut blacklist, mut outbox) =
            (VoteBook::default(), Blacklist::new(0.25), Outbox::default());
        assert!(apply_decisions(
            3,
            Role::Honest,
            &inbox,
            &registry,
            &mut book,
            &mut blacklist,
            &mut outbox
        ));
        assert_eq!(blacklist.entries, vec![1]);
        // Both decisions are passed on, valid or not: checking is each receiver's job.
        assert_eq!(outbox.messages.len(), 2);
        // A second copy is neither applied nor forwarded again.
        assert!(!apply_decisions(
            4,
            Role::Honest,
            &inbox,
            &registry,
            &mut book,
            &mut blacklist,
            &mut outbox
        ));
        assert_eq!(outbox.messages.len(), 2);
    }
}
