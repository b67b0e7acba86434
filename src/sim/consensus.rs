//! Consensus: each tallier (the proposer, or the single authority under the central rule) counts the ballots that
//! reached it under the configured rule, within the voting window. A decision carries the ballots that justify it
//! (its certificate); it is checked under the rule before anyone acts on it, so a byzantine tallier cannot fake an
//! acceptance by inventing ballots. Every signature ends accepted, rejected, expired or refused (its tallier's
//! certificate failed the check), and each of those endings is a ledger row.

use bevy::prelude::*;

use super::clock::SimClock;
use super::components::*;
use super::signature::{SignatureRegistry, within_lifetime};
use super::{AgentDirectory, Pipeline, Settlement, SimSettings, TickContext, TickEvents};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Decisions>();
    app.add_systems(
        FixedUpdate,
        (
            tally_ballots,
            snowball::run_snowball_rounds,
            publish_decisions,
            super::adversaries::whitewash,
        )
            .chain()
            .in_set(Pipeline::Consensus),
    );
}

pub mod committee;
mod rules;
pub mod snowball;

pub use crate::model::Outcome;
pub use rules::{CertificateFault, Electorate, decide, draft_decision, verify_certificate};

/// A decision as published: what the tallier claims, its certificate, and whether the certificate holds.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRecord {
    pub sig: SigIdx,
    pub tallier: AgentIdx,
    pub tick: u32,
    pub outcome: Outcome,
    pub certificate: Vec<Ballot>,
    pub valid: bool,
}

impl DecisionRecord {
    pub fn yes(&self) -> usize {
        self.certificate.iter().filter(|b| b.yes).count()
    }
    pub fn no(&self) -> usize {
        self.certificate.len() - self.yes()
    }
    /// Whether an honest agent should blacklist the signature on receiving this decision.
    pub fn certified_acceptance(&self) -> bool {
        self.valid && self.outcome == Outcome::Accepted
    }
    /// What honest agents take the decision as: its claim when the certificate holds, `Refused` otherwise.
    pub fn verdict(&self) -> Outcome {
        if self.valid {
            self.outcome
        } else {
            Outcome::Refused
        }
    }
}

/// This tick's decisions (the ledger records them, and nothing reads them later: decision messages carry what
/// receivers need), and how many were published before this tick: decision `i` of the run is
/// `records[i - first]`.
#[derive(Resource, Clone, Debug, Default)]
pub struct Decisions {
    pub first: u32,
    pub records: Vec<DecisionRecord>,
}

impl Decisions {
    /// The run-wide index of the next decision.
    pub fn next_index(&self) -> u32 {
        self.first + self.records.len() as u32
    }
    /// Decision `index` of the run, if it was published this tick.
    pub fn get(&self, index: u32) -> Option<&DecisionRecord> {
        self.records.get(index.checked_sub(self.first)? as usize)
    }
    /// Forgets the previous tick's decisions, keeping the count.
    pub fn start_tick(&mut self) {
        self.first = self.next_index();
        self.records.clear();
    }
}

/// Each agent's Beta trust, by agent index, refreshed when reputations change. Talliers read it in parallel.
#[derive(Resource, Clone, Debug, Default)]
pub struct TrustSnapshot {
    pub trust: Vec<f64>,
}

/// Who may vote on `record`'s signature, as its tally and its certificate check see it.
fn electorate_of<'a>(
    now: u32,
    config: &'a crate::config::SimConfig,
    trust: &'a [f64],
    record: &'a super::signature::SignatureRecord,
) -> Electorate<'a> {
    Electorate {
        rules: &config.consensus,
        size: config.population_at(now),
        trust,
        committee: &record.committee,
    }
}

fn tally_ballots(
    clock: Res<SimClock>,
    settings: Res<SimSettings>,
    registry: Res<SignatureRegistry>,
    trust: Res<TrustSnapshot>,
    mut agents: Query<(&Role, &Liveness, &mut VoteBook, &mut Outbox)>,
) {
    let now = clock.tick;
    agents
        .par_iter_mut()
        .for_each(|(role, liveness, mut book, mut outbox)| {
            if !liveness.is_up() || book.tallies.is_empty() {
                return;
            }
            let book = &mut *book;
            book.tallies.retain(|&sig, tally| {
                let record = registry.get(sig);
                let electorate = electorate_of(now, &settings.config, &trust.trust, record);
                match draft_decision(&electorate, *role, record.forged, sig, tally, now) {
                    Some(draft) => {
                        outbox.decisions.push(draft);
                        false
                    }
                    None => true,
                }
            });
        });
}

/// Publishes this tick's decisions in agent order: checks each certificate, settles the signature, updates the
/// voters' reputations and starts the decision's flood from its tallier.
fn publish_decisions(
    context: TickContext,
    directory: Res<AgentDirectory>,
    mut registry: ResMut<SignatureRegistry>,
    mut decisions: ResMut<Decisions>,
    mut trust: ResMut<TrustSnapshot>,
    mut events: ResMut<TickEvents>,
    mut agents: Query<(
        &Role,
        &mut VoteBook,
        &mut Outbox,
        &mut Blacklist,
        &mut Reputation,
    )>,
) {
    let now = context.now();
    let config = context.config();
    // Under Snowball each agent decides for itself: its decision is not spread, and there are no ballots of a
    // tally for reputations to follow.
    let snowball = config.consensus.rule == crate::config::ConsensusRule::Snowball;
    decisions.start_tick();
    let mut settled = Vec::new();
    for (index, &entity) in directory.agents.iter().enumerate() {
        let Ok((role, mut book, mut outbox, mut blacklist, _)) = agents.get_mut(entity) else {
            continue;
        };
        for draft in std::mem::take(&mut outbox.decisions) {
            let record = &mut registry.records[draft.sig as usize];
            // The check is a pure function of public data (the certificate, the rule and the signed ballots), so
            // computing it once here gives every honest agent the verdict it would compute itself.
            let electorate = electorate_of(now, config, &trust.trust, record);
            let valid =
                verify_certificate(&electorate, draft.outcome, &draft.certificate, &record.cast)
                    .is_ok();
            let decision = decisions.next_index();
            let published = DecisionRecord {
                sig: draft.sig,
                tallier: index as AgentIdx,
                tick: now,
                outcome: draft.outcome,
                certificate: draft.certificate,
                valid,
            };
            // The first decision settles the signature, whatever honest agents make of it: a refused forgery has
            // no other tallier to wait for. Under Snowball every agent decides for itself, and the signature
            // settles when its instances end (`expire_unanswered`).
            if snowball {
                let accepted = usize::from(published.verdict() == Outcome::Accepted);
                record.first_decisions[accepted].get_or_insert(decision);
            } else if record.outcome.is_none() {
                record.settle(published.verdict(), now);
                events.settled.push(Settlement {
                    sig: draft.sig,
                    outcome: published.verdict(),
                    decision: Some(decision),
                });
            }
            bevy::log::debug!(
                target: "dais::decision",
                tick = now,
                signature = draft.sig,
                tallier = index,
                outcome = ?draft.outcome,
                valid,
                "decision"
            );
            let signature = record.signature.clone();
            decisions.records.push(published);
            events.decisions.push(decision);
            if valid && draft.outcome != Outcome::Expired && !snowball {
                settled.push(decision);
            }
            if snowball {
                // An agent that learned of the signature from a query still relays its announcement later.
                if let Some(known) = book.known.get_mut(&draft.sig) {
                    known.decided = true;
                }
            } else {
                book.entry(draft.sig).decided = true;
            }
            if valid && draft.outcome == Outcome::Accepted && role.is_honest() {
                blacklist.insert(draft.sig, &signature);
            }
            if draft.outcome != Outcome::Expired && !snowball {
                outbox.messages.push(Outgoing {
                    made_at: now,
                    to: Destination::Neighbours { except: None },
                    payload: Payload::Decision {
                        sig: draft.sig,
                        certified_acceptance: valid && draft.outcome == Outcome::Accepted,
                        ttl: config.network.ttl,
                    },
                });
            }
        }
    }
    // Reputations move only after every decision of the tick was checked, so all checks saw the same weights.
    for &decision in &settled {
        let record = decisions.get(decision).expect("published this tick");
        for &Ballot { voter, yes } in &record.certificate {
            let agreed = yes == (record.outcome == Outcome::Accepted);
            if let Ok((_, _, _, _, mut reputation)) =
                agents.get_mut(directory.agents[voter as usize])
            {
                reputation.record(agreed, config.consensus.trust);
                trust.trust[voter as usize] = reputation.trust();
            }
        }
    }
    expire_unanswered(
        &mut registry,
        config.consensus.voting_window,
        now,
        &mut events.settled,
    );
}

/// A signature with no decision long after its window (its tallier crashed or stayed silent) has expired. Under
/// Snowball that is when its instances end, and it settles by the decisions its agents reached.
fn expire_unanswered(
    registry: &mut SignatureRegistry,
    voting_window: u32,
    now: u32,
    settled: &mut Vec<Settlement>,
) {
    let SignatureRegistry {
        records,
        first_open,
    } = registry;
    for (sig, record) in records.iter_mut().enumerate().skip(*first_open) {
        if record.outcome.is_none() && !within_lifetime(record.signature.tick, voting_window, now) {
            let (outcome, decision) = match record.first_decisions {
                [_, Some(accepted)] => (Outcome::Accepted, Some(accepted)),
                [Some(rejected), None] => (Outcome::Rejected, Some(rejected)),
                [None, None] => (Outcome::Expired, None),
            };
            record.settle(outcome, now);
            settled.push(Settlement {
                sig: sig as SigIdx,
                outcome,
                decision,
            });
        }
    }
    while *first_open < records.len() && records[*first_open].outcome.is_some() {
        *first_open += 1;
    }
}
