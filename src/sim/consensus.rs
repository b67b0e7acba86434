//! Consensus: each tallier (the proposer, or the single authority under the central rule) counts the ballots that
//! reached it under the configured rule, within the voting window. A decision carries the ballots that justify it
//! (its certificate); it is checked under the rule before anyone acts on it, so a byzantine tallier cannot fake an
//! acceptance by inventing ballots. Every signature ends accepted, rejected, expired or refused (its tallier's
//! certificate failed the check), and each of those endings is a ledger row.

use bevy::prelude::*;

use super::clock::SimClock;
use super::components::*;
use super::signature::SignatureRegistry;
use super::{AgentDirectory, Pipeline, Settlement, SimSettings, TickEvents};
use crate::config::{ConsensusConfig, ConsensusRule};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Outcome {
    Accepted,
    Rejected,
    /// No decision within the window, or none at all long after it (the tallier crashed or stayed silent).
    Expired,
    /// The tallier published a decision whose certificate fails the check (a forgery padded with invented
    /// ballots), so honest agents refused it. Only the tallier tallies a signature, so this is final.
    Refused,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Accepted,
        Outcome::Rejected,
        Outcome::Expired,
        Outcome::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Expired => "expired",
            Outcome::Refused => "refused",
        }
    }

    /// The inverse of [`Outcome::as_str`]; an unknown word is `None`, never silently some outcome.
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// Decides a signature from the ballots cast so far; None while undecided. `trust` is each agent's Beta trust
/// (used by the reputation-weighted rule); `window_closed` says the voting window is over.
pub fn decide(
    rules: &ConsensusConfig,
    ballots: &[(AgentIdx, bool)],
    electorate: usize,
    trust: &[f64],
    window_closed: bool,
) -> Option<Outcome> {
    let n = electorate;
    let yes = ballots.iter().filter(|b| b.1).count();
    let no = ballots.len() - yes;
    let turnout_met = ballots.len() as f64 >= rules.min_turnout * n as f64;
    let closed = |o: Option<Outcome>| {
        if window_closed {
            Some(o.unwrap_or(Outcome::Expired))
        } else {
            o
        }
    };
    match rules.rule {
        ConsensusRule::Majority => {
            if 2 * yes > n {
                Some(Outcome::Accepted)
            } else if 2 * no >= n {
                Some(Outcome::Rejected)
            } else if window_closed && turnout_met && !ballots.is_empty() {
                Some(if yes > no {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected
                })
            } else {
                closed(None)
            }
        }
        ConsensusRule::Quorum => {
            let k = rules.quorum;
            if yes >= k {
                Some(Outcome::Accepted)
            } else if no > n.saturating_sub(k) {
                Some(Outcome::Rejected)
            } else {
                closed(None)
            }
        }
        ConsensusRule::Bft => {
            let f = n.saturating_sub(1) / 3;
            if yes > 2 * f {
                Some(Outcome::Accepted)
            } else if no >= n - 2 * f {
                Some(Outcome::Rejected)
            } else {
                closed(None)
            }
        }
        ConsensusRule::ReputationWeighted => {
            let weight = |want: bool| -> f64 {
                ballots
                    .iter()
                    .filter(|b| b.1 == want)
                    .map(|b| trust.get(b.0 as usize).copied().unwrap_or(0.5))
                    .sum()
            };
            let (wy, wn) = (weight(true), weight(false));
            let total: f64 = trust.iter().take(n).sum();
            let t = rules.reputation_threshold;
            if wy > t * total {
                Some(Outcome::Accepted)
            } else if wn >= (1.0 - t) * total {
                Some(Outcome::Rejected)
            } else if window_closed && turnout_met && wy + wn > 0.0 {
                Some(if wy > t * (wy + wn) {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected
                })
            } else {
                closed(None)
            }
        }
        ConsensusRule::CentralAuthority => {
            match ballots.iter().find(|b| b.0 as usize == rules.authority) {
                Some(&(_, true)) => Some(Outcome::Accepted),
                Some(&(_, false)) => Some(Outcome::Rejected),
                None => closed(None),
            }
        }
    }
}

/// Why a certificate does not justify its decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateFault {
    /// A ballot in the certificate was never cast that way by that voter.
    ForgedBallot {
        voter: AgentIdx,
    },
    DuplicateVoter {
        voter: AgentIdx,
    },
    /// The ballots do not support the claimed outcome under the rule.
    Unsupported {
        claimed: Outcome,
        supported: Outcome,
    },
}

/// Re-checks a decision: every ballot must be one its voter really cast, each voter once, and the rule applied to
/// those ballots must give the claimed outcome.
pub fn verify_certificate(
    rules: &ConsensusConfig,
    claimed: Outcome,
    certificate: &[(AgentIdx, bool)],
    cast: &[u8],
    trust: &[f64],
) -> Result<(), CertificateFault> {
    let mut seen = vec![false; cast.len()];
    for &(voter, yes) in certificate {
        let recorded = cast.get(voter as usize).copied().unwrap_or(0);
        if recorded != if yes { 1 } else { 2 } {
            return Err(CertificateFault::ForgedBallot { voter });
        }
        if std::mem::replace(&mut seen[voter as usize], true) {
            return Err(CertificateFault::DuplicateVoter { voter });
        }
    }
    let supported = decide(rules, certificate, cast.len(), trust, true).unwrap_or(Outcome::Expired);
    if supported == claimed {
        Ok(())
    } else {
        Err(CertificateFault::Unsupported { claimed, supported })
    }
}

/// A decision as published: what the tallier claims, its certificate, and whether the certificate holds.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRecord {
    pub sig: SigIdx,
    pub tallier: AgentIdx,
    pub tick: u32,
    pub outcome: Outcome,
    pub certificate: Vec<(AgentIdx, bool)>,
    pub valid: bool,
}

impl DecisionRecord {
    pub fn yes(&self) -> usize {
        self.certificate.iter().filter(|b| b.1).count()
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

/// All decisions; messages refer to them by index.
#[derive(Resource, Clone, Debug, Default)]
pub struct Decisions {
    pub records: Vec<DecisionRecord>,
}

/// Each agent's Beta trust, by agent index, refreshed when reputations change. Talliers read it in parallel.
#[derive(Resource, Clone, Debug, Default)]
pub struct TrustSnapshot {
    pub trust: Vec<f64>,
}

/// The tallier's draft for one open tally. A byzantine tallier claims acceptance for its group's forgeries at the
/// close of the window, padding the certificate with invented yes ballots; the certificate check exposes that.
pub fn draft_decision(
    rules: &ConsensusConfig,
    role: Role,
    forged: bool,
    sig: SigIdx,
    tally: &Tally,
    electorate: usize,
    trust: &[f64],
    now: u32,
) -> Option<DecisionDraft> {
    let window_closed = now >= tally.opened + rules.voting_window;
    if role.forges() && forged {
        if !window_closed {
            return None;
        }
        let mut certificate: Vec<(AgentIdx, bool)> =
            tally.ballots.iter().copied().filter(|b| b.1).collect();
        let mut candidate = 0;
        while decide(rules, &certificate, electorate, trust, true) != Some(Outcome::Accepted)
            && candidate < electorate
        {
            if !certificate.iter().any(|b| b.0 as usize == candidate) {
                certificate.push((candidate as AgentIdx, true));
            }
            candidate += 1;
        }
        return Some(DecisionDraft {
            sig,
            outcome: Outcome::Accepted,
            certificate,
        });
    }
    let outcome = decide(rules, &tally.ballots, electorate, trust, window_closed)?;
    Some(DecisionDraft {
        sig,
        outcome,
        certificate: tally.ballots.clone(),
    })
}

fn tally_ballots(
    clock: Res<SimClock>,
    settings: Res<SimSettings>,
    registry: Res<SignatureRegistry>,
    trust: Res<TrustSnapshot>,
    mut agents: Query<(&Role, &Liveness, &mut VoteBook, &mut Outbox)>,
) {
    let now = clock.tick;
    let rules = &settings.config.consensus;
    let electorate = settings.config.simulation.agents;
    agents
        .par_iter_mut()
        .for_each(|(role, liveness, mut book, mut outbox)| {
            if !liveness.is_up() || book.tallies.is_empty() {
                return;
            }
            let book = &mut *book;
            book.tallies.retain(|&sig, tally| {
                let forged = registry.get(sig).forged;
                match draft_decision(
                    rules,
                    *role,
                    forged,
                    sig,
                    tally,
                    electorate,
                    &trust.trust,
                    now,
                ) {
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
    clock: Res<SimClock>,
    settings: Res<SimSettings>,
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
    let now = clock.tick;
    let config = &settings.config;
    let mut settled = Vec::new();
    for (index, &entity) in directory.agents.iter().enumerate() {
        let Ok((role, mut book, mut outbox, mut blacklist, _)) = agents.get_mut(entity) else {
            continue;
        };
        for draft in std::mem::take(&mut outbox.decisions) {
            let record = &mut registry.records[draft.sig as usize];
            // The check is a pure function of public data (the certificate, the rule and the signed ballots), so
            // computing it once here gives every honest agent the verdict it would compute itself.
            let valid = verify_certificate(
                &config.consensus,
                draft.outcome,
                &draft.certificate,
                &record.cast,
                &trust.trust,
            )
            .is_ok();
            let decision = decisions.records.len() as u32;
            let published = DecisionRecord {
                sig: draft.sig,
                tallier: index as AgentIdx,
                tick: now,
                outcome: draft.outcome,
                certificate: draft.certificate,
                valid,
            };
            // The first decision settles the signature, whatever honest agents make of it: a refused forgery has
            // no other tallier to wait for.
            if record.outcome.is_none() {
                record.outcome = Some((published.verdict(), now));
                events.settled.push(Settlement {
                    sig: draft.sig,
                    outcome: published.verdict(),
                    decision: Some(decision),
                });
            }
            let signature = record.signature.clone();
            decisions.records.push(published);
            events.decisions.push(decision);
            if valid && draft.outcome != Outcome::Expired {
                settled.push(decision);
            }
            book.known.entry(draft.sig).or_default().decided = true;
            if valid && draft.outcome == Outcome::Accepted && role.is_honest() {
                blacklist.insert(draft.sig, &signature);
            }
            if draft.outcome != Outcome::Expired {
                outbox.messages.push(Outgoing {
                    made_at: now,
                    to: Destination::Neighbours { except: None },
                    payload: Payload::Decision {
                        decision,
                        ttl: config.network.ttl,
                    },
                });
            }
        }
    }
    // Reputations move only after every decision of the tick was checked, so all checks saw the same weights.
    for &decision in &settled {
        let record = &decisions.records[decision as usize];
        for &(voter, yes) in &record.certificate {
            let agreed = yes == (record.outcome == Outcome::Accepted);
            if let Ok((_, _, _, _, mut reputation)) =
                agents.get_mut(directory.agents[voter as usize])
            {
                if agreed {
                    reputation.alpha += 1.0;
                } else {
                    reputation.beta += 1.0;
                }
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

/// A signature with no decision long after its window (its tallier crashed or stayed silent) has expired.
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
        if record.outcome.is_none() && record.signature.tick + 2 * voting_window < now {
            record.outcome = Some((Outcome::Expired, now));
            settled.push(Settlement {
                sig: sig as SigIdx,
                outcome: Outcome::Expired,
                decision: None,
            });
        }
    }
    while *first_open < records.len() && records[*first_open].outcome.is_some() {
        *first_open += 1;
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Decisions>();
    app.add_systems(
        FixedUpdate,
        (tally_ballots, publish_decisions)
            .chain()
            .in_set(Pipeline::Consensus),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(rule: ConsensusRule) -> ConsensusConfig {
        ConsensusConfig {
            rule,
            quorum: 3,
            ..Default::default()
        }
    }

    fn ballots(yes: u32, no: u32) -> Vec<(AgentIdx, bool)> {
        (0..yes)
            .map(|v| (v, true))
            .chain((yes..yes + no).map(|v| (v, false)))
            .collect()
    }

    #[test]
    fn bft_needs_two_f_plus_one() {
        let r = rules(ConsensusRule::Bft);
        // n = 10: f = 3, so 7 yes accept and 4 no make 7 yes impossible.
        assert_eq!(decide(&r, &ballots(6, 0), 10, &[], false), None);
        assert_eq!(
            decide(&r, &ballots(7, 0), 10, &[], false),
            Some(Outcome::Accepted)
        );
        assert_eq!(
            decide(&r, &ballots(3, 4), 10, &[], false),
            Some(Outcome::Rejected)
        );
        assert_eq!(
            decide(&r, &ballots(6, 3), 10, &[], true),
            Some(Outcome::Expired)
        );
    }

    #[test]
    fn majority_counts_received_ballots_with_turnout() {
        let r = rules(ConsensusRule::Majority);
        assert_eq!(
            decide(&r, &ballots(6, 0), 10, &[], false),
            Some(Outcome::Accepted)
        );
        assert_eq!(decide(&r, &ballots(3, 2), 10, &[], false), None);
        assert_eq!(
            decide(&r, &ballots(3, 2), 10, &[], true),
            Some(Outcome::Accepted)
        );
        assert_eq!(
            decide(&r, &ballots(3, 3), 10, &[], true),
            Some(Outcome::Rejected)
        );
        // Below the 50% turnout, nothing is decided.
        assert_eq!(
            decide(&r, &ballots(3, 1), 10, &[], true),
            Some(Outcome::Expired)
        );
    }

    #[test]
    fn quorum_and_central_authority() {
        let r = rules(ConsensusRule::Quorum);
        assert_eq!(
            decide(&r, &ballots(3, 0), 10, &[], false),
            Some(Outcome::Accepted)
        );
        assert_eq!(
            decide(&r, &ballots(0, 8), 10, &[], false),
            Some(Outcome::Rejected)
        );
        let c = ConsensusConfig {
            rule: ConsensusRule::CentralAuthority,
            authority: 1,
            ..Default::default()
        };
        assert_eq!(decide(&c, &ballots(1, 0), 10, &[], false), None);
        assert_eq!(
            decide(&c, &ballots(2, 0), 10, &[], false),
            Some(Outcome::Accepted)
        );
        assert_eq!(
            decide(&c, &ballots(1, 0), 10, &[], true),
            Some(Outcome::Expired)
        );
    }

    #[test]
    fn reputation_weights_trusted_voters() {
        let r = ConsensusConfig {
            rule: ConsensusRule::ReputationWeighted,
            ..Default::default()
        };
        // Two trusted voters outweigh three distrusted ones.
        let trust = [0.9, 0.9, 0.1, 0.1, 0.1];
        let b = vec![(0, true), (1, true), (2, false), (3, false), (4, false)];
        assert_eq!(decide(&r, &b, 5, &trust, false), Some(Outcome::Accepted));
        let flipped: Vec<_> = b.iter().map(|&(v, y)| (v, !y)).collect();
        assert_eq!(
            decide(&r, &flipped, 5, &trust, true),
            Some(Outcome::Rejected)
        );
    }

    #[test]
    fn a_certificate_with_an_invented_ballot_is_refused() {
        let r = rules(ConsensusRule::Bft);
        let mut cast = vec![0u8; 10];
        cast[..3].fill(1);
        let padded: Vec<_> = (0..7).map(|v| (v, true)).collect();
        assert_eq!(
            verify_certificate(&r, Outcome::Accepted, &padded, &cast, &[]),
            Err(CertificateFault::ForgedBallot { voter: 3 })
        );
        let honest: Vec<_> = (0..3).map(|v| (v, true)).collect();
        assert!(matches!(
            verify_certificate(&r, Outcome::Accepted, &honest, &cast, &[]),
            Err(CertificateFault::Unsupported { .. })
        ));
        cast[3..7].fill(1);
        assert_eq!(
            verify_certificate(&r, Outcome::Accepted, &padded, &cast, &[]),
            Ok(())
        );
        let twice = vec![(0, true), (0, true)];
        assert_eq!(
            verify_certificate(&r, Outcome::Accepted, &twice, &cast, &[]),
            Err(CertificateFault::DuplicateVoter { voter: 0 })
        );
    }

    #[test]
    fn a_cheating_tallier_pads_its_certificate() {
        let r = rules(ConsensusRule::Bft);
        let tally = Tally {
            opened: 0,
            ballots: ballots(2, 5),
        };
        let role = Role::Byzantine(crate::config::ByzantineStrategy::Collude);
        assert!(draft_decision(&r, role, true, 0, &tally, 10, &[], 5).is_none());
        let draft = draft_decision(&r, role, true, 0, &tally, 10, &[], 30).unwrap();
        assert_eq!(draft.outcome, Outcome::Accepted);
        assert_eq!(draft.certificate.iter().filter(|b| b.1).count(), 7);
    }
}
