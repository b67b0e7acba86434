//! The consensus rules as pure functions of plain data: deciding a signature from its ballots under each rule,
//! checking a decision's certificate, and a tallier's draft (honest, or a forger padding its certificate). Tested
//! here without an `App`; `consensus.rs` runs them in the tick.

use crate::config::{ConsensusConfig, ConsensusRule};
use crate::model::{AgentIdx, Ballot, Cast, Outcome, SigIdx};
use crate::sim::components::{DecisionDraft, Role, Tally};

/// Decides a signature from the ballots cast so far; None while undecided. `electorate` is how many agents may vote
/// (the committee's size under the committee rule); `trust` is each agent's Beta trust (used by the
/// reputation-weighted rule); `window_closed` says the voting window is over. Under Snowball the ballots are one
/// round's answers, and the round succeeds for a value when `alpha` of them agree on it.
pub fn decide(
    rules: &ConsensusConfig,
    ballots: &[Ballot],
    electorate: usize,
    trust: &[f64],
    window_closed: bool,
) -> Option<Outcome> {
    let n = electorate;
    let yes = ballots.iter().filter(|b| b.yes).count();
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
        ConsensusRule::Bft | ConsensusRule::Committee => {
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
                    .filter(|b| b.yes == want)
                    .map(|b| trust.get(b.voter as usize).copied().unwrap_or(0.5))
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
            match ballots.iter().find(|b| b.voter as usize == rules.authority) {
                Some(Ballot { yes: true, .. }) => Some(Outcome::Accepted),
                Some(Ballot { yes: false, .. }) => Some(Outcome::Rejected),
                None => closed(None),
            }
        }
        ConsensusRule::Snowball => {
            let alpha = rules.snowball.alpha;
            if yes >= alpha {
                Some(Outcome::Accepted)
            } else if no >= alpha {
                Some(Outcome::Rejected)
            } else {
                closed(None)
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
    /// Under the committee rule, a ballot from an agent the signature's sortition did not draw.
    OutsideCommittee {
        voter: AgentIdx,
    },
    /// The ballots do not support the claimed outcome under the rule.
    Unsupported {
        claimed: Outcome,
        supported: Outcome,
    },
}

/// Re-checks a decision: every ballot must be one its voter really cast, each voter once (and, under the committee
/// rule, a member of the signature's `committee`), and the rule applied to those ballots must give the claimed
/// outcome. A Snowball decision's certificate is the answers of the round that completed its streak: answers
/// follow the answerer's preference of the moment, not its first ballot, so only their count is checked.
pub fn verify_certificate(
    electorate: &Electorate,
    claimed: Outcome,
    certificate: &[Ballot],
    cast: &[Cast],
) -> Result<(), CertificateFault> {
    let rules = electorate.rules;
    let mut seen = vec![false; cast.len()];
    for &Ballot { voter, yes } in certificate {
        let recorded = cast.get(voter as usize).copied().unwrap_or_default();
        if rules.rule != ConsensusRule::Snowball && recorded != Cast::of(yes) {
            return Err(CertificateFault::ForgedBallot { voter });
        }
        if !electorate.admits(voter) {
            return Err(CertificateFault::OutsideCommittee { voter });
        }
        let Some(seen) = seen.get_mut(voter as usize) else {
            return Err(CertificateFault::ForgedBallot { voter });
        };
        if std::mem::replace(seen, true) {
            return Err(CertificateFault::DuplicateVoter { voter });
        }
    }
    let supported = decide(
        rules,
        certificate,
        electorate.count(),
        electorate.trust,
        true,
    )
    .unwrap_or(Outcome::Expired);
    if supported == claimed {
        Ok(())
    } else {
        Err(CertificateFault::Unsupported { claimed, supported })
    }
}

/// What a tally is decided, and a certificate checked, against: the rule, how many agents there are, each one's
/// trust, and (under the committee rule) the signature's committee, which then is the electorate.
#[derive(Clone, Copy, Debug)]
pub struct Electorate<'a> {
    pub rules: &'a ConsensusConfig,
    pub size: usize,
    pub trust: &'a [f64],
    pub committee: &'a [AgentIdx],
}

impl Electorate<'_> {
    /// The agents whose ballots count, in index order.
    fn voters(&self) -> Box<dyn Iterator<Item = AgentIdx> + '_> {
        match self.rules.rule {
            ConsensusRule::Committee => Box::new(self.committee.iter().copied()),
            _ => Box::new(0..self.size as AgentIdx),
        }
    }
    /// How many agents may vote.
    fn count(&self) -> usize {
        match self.rules.rule {
            ConsensusRule::Committee => self.committee.len(),
            _ => self.size,
        }
    }
    /// Whether `voter`'s ballot may count: under the committee rule only a member's does.
    fn admits(&self, voter: AgentIdx) -> bool {
        self.rules.rule != ConsensusRule::Committee
            || super::committee::is_member(self.committee, voter)
    }
}

/// The tallier's draft for one open tally. A byzantine tallier claims acceptance for its group's forgeries at the
/// close of the window, padding the certificate with invented yes ballots; the certificate check exposes that.
pub fn draft_decision(
    electorate: &Electorate,
    role: Role,
    forged: bool,
    sig: SigIdx,
    tally: &Tally,
    now: u32,
) -> Option<DecisionDraft> {
    let (rules, trust) = (electorate.rules, electorate.trust);
    let size = electorate.count();
    let window_closed = now >= tally.opened + rules.voting_window;
    if role.forges() && forged {
        if !window_closed {
            return None;
        }
        let mut certificate: Vec<Ballot> =
            tally.ballots.iter().copied().filter(|b| b.yes).collect();
        let real: std::collections::BTreeSet<AgentIdx> =
            certificate.iter().map(|b| b.voter).collect();
        let padding: Vec<Ballot> = electorate
            .voters()
            .filter(|v| !real.contains(v))
            .map(|voter| Ballot { voter, yes: true })
            .collect();
        // The fewest invented ballots, in electorate order, that make the rule accept (all of them if none do).
        // More yes ballots never undo an acceptance under any rule, so a binary search finds it, where adding one
        // at a time and re-deciding would cost n^2 at 100,000 agents.
        let accepts = |invented: usize| {
            let mut padded = certificate.clone();
            padded.extend_from_slice(&padding[..invented]);
            decide(rules, &padded, size, trust, true) == Some(Outcome::Accepted)
        };
        let (mut lo, mut hi) = (0, padding.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if accepts(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        certificate.extend_from_slice(&padding[..lo]);
        return Some(DecisionDraft {
            sig,
            outcome: Outcome::Accepted,
            certificate,
        });
    }
    let outcome = decide(rules, &tally.ballots, size, trust, window_closed)?;
    Some(DecisionDraft {
        sig,
        outcome,
        certificate: tally.ballots.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::components::Tally;

    fn rules(rule: ConsensusRule) -> ConsensusConfig {
        ConsensusConfig {
            rule,
            quorum: 3,
            ..Default::default()
        }
    }

    /// Checks a certificate against a network of `cast.len()` agents.
    fn check(
        r: &ConsensusConfig,
        claimed: Outcome,
        certificate: &[Ballot],
        cast: &[Cast],
        committee: &[AgentIdx],
    ) -> Result<(), CertificateFault> {
        let electorate = Electorate {
            rules: r,
            size: cast.len(),
            trust: &[],
            committee,
        };
        verify_certificate(&electorate, claimed, certificate, cast)
    }

    fn ballot(voter: AgentIdx, yes: bool) -> Ballot {
        Ballot { voter, yes }
    }

    fn ballots(yes: u32, no: u32) -> Vec<Ballot> {
        (0..yes)
            .map(|v| ballot(v, true))
            .chain((yes..yes + no).map(|v| ballot(v, false)))
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
        let b: Vec<_> = [(0, true), (1, true), (2, false), (3, false), (4, false)]
            .map(|(v, y)| ballot(v, y))
            .into();
        assert_eq!(decide(&r, &b, 5, &trust, false), Some(Outcome::Accepted));
        let flipped: Vec<_> = b.iter().map(|x| ballot(x.voter, !x.yes)).collect();
        assert_eq!(
            decide(&r, &flipped, 5, &trust, true),
            Some(Outcome::Rejected)
        );
    }

    #[test]
    fn a_certificate_with_an_invented_ballot_is_refused() {
        let r = rules(ConsensusRule::Bft);
        let mut cast = vec![Cast::Nothing; 10];
        cast[..3].fill(Cast::Yes);
        let padded: Vec<_> = (0..7).map(|v| ballot(v, true)).collect();
        assert_eq!(
            check(&r, Outcome::Accepted, &padded, &cast, &[]),
            Err(CertificateFault::ForgedBallot { voter: 3 })
        );
        let honest: Vec<_> = (0..3).map(|v| ballot(v, true)).collect();
        assert!(matches!(
            check(&r, Outcome::Accepted, &honest, &cast, &[]),
            Err(CertificateFault::Unsupported { .. })
        ));
        cast[3..7].fill(Cast::Yes);
        assert_eq!(check(&r, Outcome::Accepted, &padded, &cast, &[]), Ok(()));
        let twice = vec![ballot(0, true), ballot(0, true)];
        assert_eq!(
            check(&r, Outcome::Accepted, &twice, &cast, &[]),
            Err(CertificateFault::DuplicateVoter { voter: 0 })
        );
    }

    #[test]
    fn a_cheating_tallier_pads_its_certificate() {
        let r = rules(ConsensusRule::Bft);
        let tally = Tally::new(0, ballots(2, 5));
        let role = Role::Byzantine(crate::config::ByzantineStrategy::Collude);
        let electorate = Electorate {
            rules: &r,
            size: 10,
            trust: &[],
            committee: &[],
        };
        assert!(draft_decision(&electorate, role, true, 0, &tally, 5).is_none());
        let draft = draft_decision(&electorate, role, true, 0, &tally, 30).unwrap();
        assert_eq!(draft.outcome, Outcome::Accepted);
        assert_eq!(draft.certificate.iter().filter(|b| b.yes).count(), 7);
    }

    #[test]
    fn a_committee_decides_with_two_f_plus_one_of_its_members_only() {
        let r = rules(ConsensusRule::Committee);
        // A committee of 7 in a network of 20: f = 2, so 5 member yes ballots accept.
        let committee: Vec<AgentIdx> = vec![1, 4, 6, 9, 12, 15, 19];
        let mut cast = vec![Cast::Nothing; 20];
        for &m in &committee {
            cast[m as usize] = Cast::Yes;
        }
        cast[2] = Cast::Yes;
        let members: Vec<Ballot> = committee[..5].iter().map(|&v| ballot(v, true)).collect();
        assert_eq!(decide(&r, &members[..4], 7, &[], false), None);
        assert_eq!(decide(&r, &members, 7, &[], false), Some(Outcome::Accepted));
        assert_eq!(
            check(&r, Outcome::Accepted, &members, &cast, &committee),
            Ok(())
        );
        // A real yes from an agent outside the committee does not count, however it was cast.
        let mut outsider = members[..4].to_vec();
        outsider.push(ballot(2, true));
        assert_eq!(
            check(&r, Outcome::Accepted, &outsider, &cast, &committee),
            Err(CertificateFault::OutsideCommittee { voter: 2 })
        );
        // A colluding tallier pads with committee members, and the check names one that never voted yes.
        let tally = Tally::new(0, vec![ballot(1, true), ballot(4, true)]);
        let electorate = Electorate {
            rules: &r,
            size: 20,
            trust: &[],
            committee: &committee,
        };
        let role = Role::Byzantine(crate::config::ByzantineStrategy::Collude);
        let draft = draft_decision(&electorate, role, true, 0, &tally, 30).unwrap();
        assert!(
            draft
                .certificate
                .iter()
                .all(|b| committee.contains(&b.voter))
        );
        let mut honest_no = cast.clone();
        honest_no[6] = Cast::No;
        assert_eq!(
            check(
                &r,
                Outcome::Accepted,
                &draft.certificate,
                &honest_no,
                &committee
            ),
            Err(CertificateFault::ForgedBallot { voter: 6 })
        );
    }

    #[test]
    fn a_snowball_round_succeeds_with_alpha_agreeing_answers() {
        let r = rules(ConsensusRule::Snowball);
        // Default k = 10, alpha = 7.
        assert_eq!(
            decide(&r, &ballots(7, 3), 10, &[], false),
            Some(Outcome::Accepted)
        );
        assert_eq!(
            decide(&r, &ballots(2, 7), 10, &[], false),
            Some(Outcome::Rejected)
        );
        assert_eq!(decide(&r, &ballots(6, 4), 10, &[], false), None);
        // Answers may differ from the first ballot (preferences move), so only support is checked.
        let cast = vec![Cast::No; 10];
        assert_eq!(
            check(&r, Outcome::Accepted, &ballots(7, 3), &cast, &[]),
            Ok(())
        );
        assert!(matches!(
            check(&r, Outcome::Accepted, &ballots(6, 4), &cast, &[]),
            Err(CertificateFault::Unsupported { .. })
        ));
    }
}
