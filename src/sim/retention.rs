//! Retention: what an agent keeps about a signature is forgotten once it can no longer matter, so an agent's state
//! is bounded by what is live, not by the run's history. Runs in Gossip, right after the outboxes are dispatched:
//! at that point every message of the run is on the wire, so a signature with none there will never be heard of
//! again (agents only send in answer to what they hear, and a settled signature has no open tally or instance).
//! The shared record (`SignatureRegistry`) keeps what the inspector and the ledger need; settling frees a
//! signature's per-voter ballot book there.

use bevy::prelude::*;

use super::TickContext;
use super::components::*;
use super::consensus::Outcome;
use super::gossip::InFlight;
use super::signature::{SignatureRegistry, within_lifetime};

/// Whether an agent may forget its entry on a signature: the signature is settled, nothing about it is on the
/// wire, and the entry no longer shapes the agent's proposals. An accepted signature the agent got the decision
/// of is kept (it suppresses proposals it covers, as the blacklist does, and is bounded as blacklists are); an
/// undecided one suppresses similar proposals until twice the voting window after it was proposed.
pub fn forgettable(
    known: &KnownSignature,
    outcome: Option<Outcome>,
    proposed_at: u32,
    on_the_wire: bool,
    voting_window: u32,
    now: u32,
) -> bool {
    let Some(outcome) = outcome else {
        return false;
    };
    if on_the_wire {
        return false;
    }
    if known.decided {
        outcome != Outcome::Accepted
    } else {
        !within_lifetime(proposed_at, voting_window, now)
    }
}

pub(super) fn forget_settled(
    context: TickContext,
    registry: Res<SignatureRegistry>,
    in_flight: Res<InFlight>,
    mut books: Query<&mut VoteBook>,
) {
    let now = context.now();
    let window = context.config().consensus.voting_window;
    books.par_iter_mut().for_each(|mut book| {
        if book.known.is_empty() {
            return;
        }
        book.known.retain(|&sig, known| {
            let record = registry.get(sig);
            !forgettable(
                known,
                record.outcome.map(|(o, _)| o),
                record.signature.tick,
                in_flight.carries(sig),
                window,
                now,
            )
        });
    });
}

/// Bytes the simulation holds, as it counts them: every agent's components and the shared records, heap
/// included (map entries at their key and value size, vectors at their capacity). A measure of growth, not of
/// the allocator's exact footprint.
pub fn state_bytes(world: &mut World) -> usize {
    use std::mem::size_of;
    let mut agents = world.query::<(
        &Detector,
        &Blacklist,
        &VoteBook,
        &Evidence,
        &TrafficBatch,
        &Inbox,
        &Outbox,
    )>();
    let mut total = 0;
    for (detector, blacklist, book, evidence, batch, inbox, outbox) in agents.iter(world) {
        total += detector.forest.as_ref().map_or(0, |f| f.heap_bytes());
        total += detector.window.heap_bytes();
        total += blacklist.heap_bytes();
        total += book.known.len() * size_of::<(SigIdx, KnownSignature)>();
        total += book
            .tallies
            .values()
            .map(|t| size_of::<(SigIdx, Tally)>() + t.heap_bytes())
            .sum::<usize>();
        total += book
            .snowball
            .values()
            .map(|s| {
                size_of::<(SigIdx, SnowballState)>() + s.answers.capacity() * size_of::<Ballot>()
            })
            .sum::<usize>();
        total += book.recent_ballots.capacity() * size_of::<(SigIdx, bool)>();
        total += evidence.recent.capacity() * size_of::<Features>()
            + evidence
                .clusters
                .iter()
                .map(|c| {
                    size_of::<AnomalyCluster>()
                        + c.label_counts.capacity() * 4
                        + c.stats.heap_bytes()
                })
                .sum::<usize>();
        total += batch.samples.capacity() * size_of::<Features>()
            + batch.labels.capacity() * size_of::<Label>()
            + batch.anomalies.capacity() * 4
            + batch.scores.capacity() * 8;
        total += inbox.messages.capacity() * size_of::<(AgentIdx, Payload)>()
            + outbox.messages.capacity() * size_of::<Outgoing>()
            + outbox.cast.capacity() * size_of::<(SigIdx, bool)>();
    }
    let registry = world.resource::<SignatureRegistry>();
    total += registry
        .records
        .iter()
        .map(|r| {
            size_of::<super::signature::SignatureRecord>()
                + r.cast.capacity() * size_of::<Cast>()
                + r.committee.capacity() * size_of::<AgentIdx>()
        })
        .sum::<usize>();
    total += world.resource::<InFlight>().heap_bytes();
    total += world.resource::<super::links::Links>().queues.heap_bytes();
    let decisions = world.resource::<super::consensus::Decisions>();
    total += decisions
        .records
        .iter()
        .map(|d| {
            size_of::<super::consensus::DecisionRecord>()
                + d.certificate.capacity() * size_of::<Ballot>()
        })
        .sum::<usize>();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settled_silent_signatures_that_no_longer_shape_proposals_are_forgotten() {
        let decided = KnownSignature {
            decided: true,
            ..Default::default()
        };
        let undecided = KnownSignature::default();
        let rejected = Some(Outcome::Rejected);
        // Not settled, or still on the wire: kept.
        assert!(!forgettable(&decided, None, 10, false, 30, 500));
        assert!(!forgettable(&decided, rejected, 10, true, 30, 500));
        // Settled and silent: a decided rejection goes, a decided acceptance stays.
        assert!(forgettable(&decided, rejected, 10, false, 30, 41));
        assert!(!forgettable(
            &decided,
            Some(Outcome::Accepted),
            10,
            false,
            30,
            500
        ));
        // An undecided entry shapes proposals until twice the window after the proposal.
        assert!(!forgettable(&undecided, rejected, 10, false, 30, 70));
        assert!(forgettable(&undecided, rejected, 10, false, 30, 71));
    }
}
