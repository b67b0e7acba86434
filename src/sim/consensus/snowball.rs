//! Snowball (the `snowball` rule), after Avalanche's family of protocols: there is no tallier and no certificate to
//! censor. Every honest agent that hears of a signature starts with its own judgement as its preference, then
//! repeatedly asks `k` peers drawn uniformly from the whole network what they prefer. A round in which `alpha` of
//! the answers agree on a value is a success for that value: the value's confidence grows (the preference follows
//! the more confident value), and `beta` consecutive successes for the same value decide it, for this agent alone.
//! An agent's cost per signature is O(k * beta) messages whatever the network's size. Byzantine agents answer by
//! their strategy and never decide; crashed ones stay silent, so a round closes when its answers are due.

use bevy::prelude::*;

use super::committee::sample_distinct;
use super::{Outcome, decide};
use crate::config::{ConsensusConfig, ConsensusRule};
use crate::sim::SimSettings;
use crate::sim::clock::SimClock;
use crate::sim::components::*;
use crate::sim::signature::{SignatureRegistry, within_lifetime};

/// A new instance, starting from the agent's own judgement.
pub fn start(preference: bool) -> SnowballState {
    SnowballState {
        preference,
        ..Default::default()
    }
}

/// Closes the instance's round on the `answers` it got: Some(value) when this round completed `beta` consecutive
/// successes for that value.
pub fn close_round(
    state: &mut SnowballState,
    answers: &[Ballot],
    rules: &ConsensusConfig,
) -> Option<bool> {
    state.asked_at = None;
    let k = rules.snowball.k;
    let Some(outcome) = decide(rules, answers, k, &[], false) else {
        state.streak = 0;
        return None;
    };
    let value = outcome == Outcome::Accepted;
    state.confidence[usize::from(value)] += 1;
    if state.confidence[usize::from(value)] > state.confidence[usize::from(state.preference)] {
        state.preference = value;
    }
    if state.streak > 0 && state.last == value {
        state.streak += 1;
    } else {
        state.last = value;
        state.streak = 1;
    }
    (state.streak >= rules.snowball.beta).then_some(value)
}

/// `k` distinct peers other than `me`, drawn uniformly from `agents`, in index order.
pub fn draw_peers(
    rng: &mut rand::rngs::ChaCha8Rng,
    me: AgentIdx,
    agents: usize,
    k: usize,
) -> Vec<AgentIdx> {
    let mut peers = sample_distinct(rng, agents.saturating_sub(1), k);
    for peer in &mut peers {
        if *peer >= me {
            *peer += 1;
        }
    }
    peers
}

/// Runs every honest agent's instances one step: rounds whose answers are all in (or due) close, a completed
/// streak becomes a decision for Consensus to publish, and undecided instances ask their next `k` peers.
pub(super) fn run_snowball_rounds(
    clock: Res<SimClock>,
    settings: Res<SimSettings>,
    registry: Res<SignatureRegistry>,
    links: Res<crate::sim::links::Links>,
    mut agents: Query<(&Agent, &Liveness, &mut VoteBook, &mut Outbox, &mut AgentRng)>,
) {
    let rules = &settings.config.consensus;
    if rules.rule != ConsensusRule::Snowball {
        return;
    }
    let now = clock.tick;
    let agent_count = settings.config.population_at(now);
    let round_time = 2 * links.latency.max();
    agents
        .par_iter_mut()
        .for_each(|(agent, liveness, mut book, mut outbox, mut rng)| {
            if !liveness.is_up() || book.snowball.is_empty() {
                return;
            }
            let VoteBook {
                known, snowball, ..
            } = &mut *book;
            snowball.retain(|&sig, state| {
                // Instances give up when expiry would, so an agent's instances are bounded by the signatures
                // proposed within one lifetime.
                if !within_lifetime(registry.get(sig).signature.tick, rules.voting_window, now) {
                    return false;
                }
                if state.decided.is_some() {
                    return true;
                }
                if let Some(asked) = state.asked_at {
                    if state.answers.len() < rules.snowball.k && now < asked + round_time {
                        return true;
                    }
                    let answers = std::mem::take(&mut state.answers);
                    if let Some(value) = close_round(state, &answers, rules) {
                        state.decided = Some(value);
                        if let Some(known) = known.get_mut(&sig) {
                            known.my_vote = Some(value);
                        }
                        outbox.decisions.push(DecisionDraft {
                            sig,
                            outcome: if value {
                                Outcome::Accepted
                            } else {
                                Outcome::Rejected
                            },
                            // The round that completed the streak is the decision's certificate.
                            certificate: answers,
                        });
                        return true;
                    }
                }
                for peer in draw_peers(&mut rng.0, agent.index, agent_count, rules.snowball.k) {
                    outbox.messages.push(Outgoing {
                        made_at: now,
                        to: Destination::One(peer),
                        payload: Payload::Query { sig },
                    });
                }
                state.asked_at = Some(now);
                true
            });
        });
}

/// An honest agent's answer to a query: its instance's preference (or decision), else the vote it cast, else its
/// judgement, which also starts an instance (when `may_start`: the signature is still within its lifetime).
/// Returns the answer and whether an instance started: then the query is how the agent first heard of the
/// signature, and the answer is also its ballot.
pub fn answer(
    book: &mut VoteBook,
    sig: SigIdx,
    may_start: bool,
    judge: impl FnOnce() -> bool,
) -> (bool, bool) {
    if let Some(state) = book.snowball.get(&sig) {
        return (state.decided.unwrap_or(state.preference), false);
    }
    if let Some(vote) = book.known.get(&sig).and_then(|k| k.my_vote) {
        return (vote, false);
    }
    let preference = judge();
    if may_start {
        book.snowball.insert(sig, start(preference));
    }
    (preference, may_start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng;

    fn answers(yes: u32, no: u32) -> Vec<Ballot> {
        (0..yes + no)
            .map(|v| Ballot {
                voter: v,
                yes: v < yes,
            })
            .collect()
    }

    #[test]
    fn beta_consecutive_successes_decide_and_a_failed_round_resets_the_streak() {
        let rules = ConsensusConfig {
            rule: ConsensusRule::Snowball,
            ..Default::default()
        };
        let beta = rules.snowball.beta;
        let mut state = start(false);
        for round in 1..beta {
            assert_eq!(
                close_round(&mut state, &answers(8, 2), &rules),
                None,
                "round {round}"
            );
        }
        // Confidence in yes overtook the first preference after the first success.
        assert!(state.preference);
        // A split round (6-4, below alpha = 7) breaks the streak, and it starts over.
        assert_eq!(close_round(&mut state, &answers(6, 4), &rules), None);
        assert_eq!(state.streak, 0);
        for _ in 1..beta {
            assert_eq!(close_round(&mut state, &answers(9, 1), &rules), None);
        }
        assert_eq!(close_round(&mut state, &answers(10, 0), &rules), Some(true));
    }

    #[test]
    fn peers_exclude_the_asker_and_are_distinct() {
        let mut rng = rng::stream(3, 9);
        for me in [0, 5, 19] {
            let peers = draw_peers(&mut rng, me, 20, 10);
            assert_eq!(peers.len(), 10);
            assert!(!peers.contains(&me));
            assert!(peers.windows(2).all(|w| w[0] < w[1]));
            assert!(peers.iter().all(|&p| p < 20));
        }
        assert_eq!(draw_peers(&mut rng, 2, 4, 10), vec![0, 1, 3]);
    }
}
