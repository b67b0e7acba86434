//! Vote: an agent that hears of a signature for the first time remembers who told it (ballots travel back that
//! way), passes the announcement on, and judges the signature against its own evidence: is the centroid anomalous
//! to its own forest, or similar to its own recent anomalies? Byzantine agents lie by their strategy; crashed agents
//! are silent. Ballots that reach an agent that is not their tallier are forwarded towards it.

use std::collections::VecDeque;

use bevy::ecs::query::QueryData;
use bevy::prelude::*;

use super::clock::SimClock;
use super::components::*;
use super::consensus::snowball;
use super::signature::{SignatureRecord, SignatureRegistry, within_lifetime};
use super::{Pipeline, SimSettings};
use crate::config::{ByzantineStrategy, ConsensusRule, SimConfig, VoteRule};
use crate::ml::IsolationForest;
use crate::ml::similarity::cosine;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        FixedUpdate,
        (cast_ballots, register_ballots)
            .chain()
            .in_set(Pipeline::Vote),
    );
}

/// Ballots kept per agent for the inspector.
const RECENT_BALLOTS: usize = 16;

/// An honest agent's judgement of a signature.
pub fn judge(
    rule: VoteRule,
    forest: Option<&IsolationForest>,
    anomaly_margin: f64,
    evidence: &VecDeque<Features>,
    similarity: f32,
    centroid: &Features,
) -> bool {
    let scored = forest.map(|f| (f.score(centroid), f.threshold()));
    judge_scored(rule, scored, anomaly_margin, evidence, similarity, centroid)
}

/// [`judge`] with the forest's verdict already in hand: the centroid's score and the forest's threshold (`None`
/// before the first fit).
pub fn judge_scored(
    rule: VoteRule,
    scored: Option<(f64, f64)>,
    anomaly_margin: f64,
    evidence: &VecDeque<Features>,
    similarity: f32,
    centroid: &Features,
) -> bool {
    let anomalous = || scored.is_some_and(|(score, threshold)| score > threshold + anomaly_margin);
    let similar = || evidence.iter().any(|e| cosine(e, centroid) >= similarity);
    match rule {
        VoteRule::AnomalousOrSimilar => anomalous() || similar(),
        VoteRule::AnomalousOnly => anomalous(),
        VoteRule::SimilarOnly => similar(),
    }
}

/// The ballot an agent casts, honest or not.
pub fn ballot(
    role: Role,
    me: AgentIdx,
    record: &SignatureRecord,
    honest_judgement: impl FnOnce() -> bool,
) -> bool {
    match role {
        Role::Honest => honest_judgement(),
        Role::Byzantine(ByzantineStrategy::AlwaysYes) => true,
        Role::Byzantine(ByzantineStrategy::AlwaysNo) => false,
        Role::Byzantine(ByzantineStrategy::Forge) => record.signature.origin == me,
        Role::Byzantine(ByzantineStrategy::Collude) => record.forged,
    }
}

fn cast(book: &mut VoteBook, outbox: &mut Outbox, sig: SigIdx, yes: bool) {
    if let Some(known) = book.known.get_mut(&sig) {
        known.my_vote = Some(yes);
    }
    if book.recent_ballots.len() == RECENT_BALLOTS {
        book.recent_ballots.pop_front();
    }
    book.recent_ballots.push_back((sig, yes));
    outbox.cast.push((sig, yes));
}

/// An agent as it judges a signature: who it is, its role, and the forest and evidence its ballot rests on.
#[derive(Clone, Copy)]
pub struct Juror<'a> {
    pub me: AgentIdx,
    pub role: Role,
    pub detector: &'a Detector,
    pub evidence: &'a Evidence,
}

/// Scores, in one call, the centroids of the signatures this agent will judge this tick: those it hears of for the
/// first time (announced, or asked about) and may vote on. The forest fills its vector lanes with the batch, where
/// one call a centroid walked one row at a time. Returns (signature, score) sorted by signature; empty when the
/// agent does not judge by its forest.
fn score_centroids(
    config: &SimConfig,
    registry: &SignatureRegistry,
    juror: &Juror,
    inbox: &Inbox,
    book: &VoteBook,
) -> Vec<(SigIdx, f64)> {
    let Some(forest) = juror.detector.forest.as_ref() else {
        return Vec::new();
    };
    if !juror.role.is_honest() || config.vote.rule == VoteRule::SimilarOnly {
        return Vec::new();
    }
    let rule = config.consensus.rule;
    let mut sigs: Vec<SigIdx> = inbox
        .messages
        .iter()
        .filter_map(|&(_, payload)| match payload {
            Payload::Announce { sig, .. } | Payload::Query { sig } => Some(sig),
            _ => None,
        })
        .filter(|sig| !book.known.contains_key(sig) && !book.snowball.contains_key(sig))
        .filter(|&sig| registry.get(sig).may_vote(rule, juror.me))
        .collect();
    sigs.sort_unstable();
    sigs.dedup();
    if sigs.is_empty() {
        return Vec::new();
    }
    let rows: Vec<f32> = sigs
        .iter()
        .flat_map(|&sig| registry.get(sig).signature.centroid)
        .collect();
    let scores = forest.score_rows(&rows);
    sigs.into_iter().zip(scores).collect()
}

/// Handles one agent's announcements and ballots for this tick.
pub fn handle_inbox(
    config: &SimConfig,
    registry: &SignatureRegistry,
    now: u32,
    juror: Juror,
    inbox: &Inbox,
    book: &mut VoteBook,
    outbox: &mut Outbox,
) {
    let Juror {
        me,
        role,
        detector,
        evidence,
    } = juror;
    let rule = config.consensus.rule;
    let v = &config.vote;
    let scores = score_centroids(config, registry, &juror, inbox, book);
    let honest_judgement = |sig: SigIdx, centroid: &Features| {
        let scored = detector.forest.as_ref().map(|f| {
            let score = match scores.binary_search_by_key(&sig, |&(s, _)| s) {
                Ok(at) => scores[at].1,
                Err(_) => f.score(centroid),
            };
            (score, f.threshold())
        });
        judge_scored(
            v.rule,
            scored,
            v.anomaly_margin,
            &evidence.recent,
            v.similarity,
            centroid,
        )
    };
    for &(from, payload) in &inbox.messages {
        match payload {
            Payload::Announce { sig, ttl } => {
                if book.known.contains_key(&sig) {
                    continue;
                }
                book.learn(
                    sig,
                    KnownSignature {
                        parent: Some(from),
                        my_vote: None,
                        decided: false,
                    },
                );
                if ttl > 1 {
                    outbox.messages.push(Outgoing {
                        made_at: now,
                        to: Destination::Neighbours { except: Some(from) },
                        payload: Payload::Announce { sig, ttl: ttl - 1 },
                    });
                }
                let record = registry.get(sig);
                // Under a central authority only the authority's judgement counts, and under the committee rule
                // only the members sortition drew: nobody else votes.
                if !record.may_vote(rule, me) {
                    continue;
                }
                // A Snowball instance that a query started already holds this agent's ballot.
                if let Some(state) = book.snowball.get(&sig) {
                    let preference = state.decided.unwrap_or(state.preference);
                    book.known.get_mut(&sig).expect("inserted").my_vote = Some(preference);
                    continue;
                }
                let yes = ballot(role, me, record, || {
                    honest_judgement(sig, &record.signature.centroid)
                });
                cast(book, outbox, sig, yes);
                if rule == ConsensusRule::Snowball {
                    if role.is_honest() {
                        book.snowball.insert(sig, snowball::start(yes));
                    }
                } else if record.tallier == me {
                    book.tallies
                        .entry(sig)
                        .or_insert_with(|| Tally::new(now, Vec::new()))
                        .add(Ballot { voter: me, yes });
                } else {
                    outbox.messages.push(Outgoing {
                        made_at: now,
                        to: Destination::One(from),
                        payload: Payload::Ballot {
                            sig,
                            voter: me,
                            yes,
                        },
                    });
                }
            }
            Payload::Ballot { sig, voter, yes } => {
                if let Some(tally) = book.tallies.get_mut(&sig) {
                    tally.add(Ballot { voter, yes });
                } else if let Some(parent) = book.known.get(&sig).and_then(|k| k.parent) {
                    outbox.messages.push(Outgoing {
                        made_at: now,
                        to: Destination::One(parent),
                        payload,
                    });
                }
            }
            Payload::Query { sig } => {
                let record = registry.get(sig);
                let running =
                    within_lifetime(record.signature.tick, config.consensus.voting_window, now);
                let mut started = false;
                let yes = ballot(role, me, record, || {
                    let (yes, first_heard) = snowball::answer(book, sig, running, || {
                        honest_judgement(sig, &record.signature.centroid)
                    });
                    started = first_heard;
                    yes
                });
                // An honest agent that first hears of a signature from a query starts its instance now, and casts
                // its ballot as it would have on the announcement.
                if started {
                    cast(book, outbox, sig, yes);
                }
                outbox.messages.push(Outgoing {
                    made_at: now,
                    to: Destination::One(from),
                    payload: Payload::Answer {
                        sig,
                        voter: me,
                        yes,
                    },
                });
            }
            Payload::Answer { sig, voter, yes } => {
                if let Some(state) = book.snowball.get_mut(&sig)
                    && state.asked_at.is_some()
                    && !state.answers.iter().any(|b| b.voter == voter)
                {
                    state.answers.push(Ballot { voter, yes });
                }
            }
            Payload::Decision { .. } => {}
        }
    }
}

fn cast_ballots(
    clock: Res<SimClock>,
    settings: Res<SimSettings>,
    registry: Res<SignatureRegistry>,
    mut agents: Query<Voter>,
) {
    let now = clock.tick;
    agents.par_iter_mut().for_each(|mut voter| {
        if voter.liveness.is_up() && !voter.inbox.messages.is_empty() {
            let juror = Juror {
                me: voter.agent.index,
                role: *voter.role,
                detector: voter.detector,
                evidence: voter.evidence,
            };
            handle_inbox(
                &settings.config,
                &registry,
                now,
                juror,
                voter.inbox,
                &mut voter.book,
                &mut voter.outbox,
            );
        }
    });
}

/// What Vote reads and changes of one agent.
#[derive(QueryData)]
#[query_data(mutable)]
struct Voter {
    agent: &'static Agent,
    role: &'static Role,
    liveness: &'static Liveness,
    detector: &'static Detector,
    evidence: &'static Evidence,
    inbox: &'static Inbox,
    book: &'static mut VoteBook,
    outbox: &'static mut Outbox,
}

/// Records this tick's ballots in the registry (the stand-in for signed ballots) in agent order.
fn register_ballots(
    directory: Res<super::AgentDirectory>,
    mut registry: ResMut<SignatureRegistry>,
    mut events: ResMut<super::TickEvents>,
    mut outboxes: Query<&mut Outbox>,
) {
    for (index, &entity) in directory.agents.iter().enumerate() {
        let Ok(mut outbox) = outboxes.get_mut(entity) else {
            continue;
        };
        for (sig, yes) in outbox.cast.drain(..) {
            // A ballot that arrives after its signature settled is still a ledger row; the book is gone.
            if let Some(cast) = registry.records[sig as usize].cast.get_mut(index) {
                *cast = Cast::of(yes);
            }
            events.ballots.push((
                sig,
                Ballot {
                    voter: index as AgentIdx,
                    yes,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::{ForestParams, IsolationForest};
    use crate::sim::rng::agent_rng;
    use crate::sim::traffic::{draw_profile, fill_batch};

    #[test]
    fn honest_agents_back_attack_patterns_and_refuse_normal_ones() {
        let mut rng = agent_rng(5, 1);
        let profile = draw_profile(&mut rng, 0.3);
        let mut batch = TrafficBatch::default();
        fill_batch(&mut batch, &profile, &[], &[], 256, 0.5, &mut rng);
        let flat: Vec<f32> = batch.samples.iter().flatten().copied().collect();
        let params = ForestParams {
            contamination: crate::ml::Contamination::Fraction(0.01),
            ..Default::default()
        };
        let forest = IsolationForest::fit(&flat, 8, params, &mut rng);
        let attack: Features = std::array::from_fn(|i| {
            profile.mean[i]
                + crate::sim::traffic::preset_shift(crate::config::CampaignKind::PortScan)[i]
        });
        let normal = profile.mean;
        let none = VecDeque::new();
        assert!(judge(
            VoteRule::AnomalousOnly,
            Some(&forest),
            0.02,
            &none,
            0.9,
            &attack
        ));
        assert!(!judge(
            VoteRule::AnomalousOnly,
            Some(&forest),
            0.02,
            &none,
            0.9,
            &normal
        ));
        let evidence: VecDeque<Features> = [attack].into();
        assert!(judge(
            VoteRule::SimilarOnly,
            None,
            0.0,
            &evidence,
            0.9,
            &attack
        ));
    }

    #[test]
    fn centroids_heard_for_the_first_time_are_scored_in_one_call_as_one_at_a_time() {
        let mut rng = agent_rng(9, 2);
        let profile = draw_profile(&mut rng, 0.3);
        let mut batch = TrafficBatch::default();
        fill_batch(&mut batch, &profile, &[], &[], 256, 0.5, &mut rng);
        let flat: Vec<f32> = batch.samples.iter().flatten().copied().collect();
        let forest = IsolationForest::fit(&flat, 8, ForestParams::default(), &mut rng);
        let mut registry = SignatureRegistry::default();
        for k in 0..3 {
            let centroid: Features =
                std::array::from_fn(|i| profile.mean[i] + (k * i) as f32 * 0.7);
            registry.records.push(SignatureRecord::proposed(
                Signature {
                    id: k as u64,
                    centroid,
                    spread: [0.5; 8],
                    count: 6,
                    origin: 0,
                    tick: 1,
                    truth: 1,
                },
                false,
                0,
                4,
            ));
        }
        let detector = Detector {
            forest: Some(forest.clone()),
            window: Default::default(),
            last_fit_tick: Some(1),
        };
        let evidence = Evidence::default();
        let juror = Juror {
            me: 1,
            role: Role::Honest,
            detector: &detector,
            evidence: &evidence,
        };
        let announce = |sig| (0, Payload::Announce { sig, ttl: 5 });
        let inbox = Inbox {
            messages: vec![
                announce(2),
                announce(0),
                announce(2),
                (3, Payload::Query { sig: 1 }),
            ],
        };
        let mut book = VoteBook::default();
        book.learn(1, KnownSignature::default());
        let config = SimConfig::default();
        let scores = score_centroids(&config, &registry, &juror, &inbox, &book);
        // Signature 1 is known already; 2 is heard twice and scored once.
        assert_eq!(scores.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0, 2]);
        for (sig, score) in scores {
            let single = forest.score(&registry.get(sig).signature.centroid);
            assert_eq!(score.to_bits(), single.to_bits());
        }
    }
}
